// Loopback ports a test names before it binds them: a daemon started on a
// given port, started again on the same one, or a port that must refuse.
//
// A port from bind(0) and closed again is in the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), from which every other bind(0) and every
// outgoing connection of the suite's other file takes its port: between
// the close and the daemon's bind (or the restart), one of those can hold
// it. These ports come from below that range, which the kernel never hands
// out by itself, and above README's 74xx/75xx.

import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

const FLOOR = 20_000

/** The first port of the kernel's ephemeral range (32768 when it cannot be read). */
function ephemeralLow (): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    return Number.isInteger(low) && low > FLOOR + 1000 ? low : 32_768
  } catch {
    return 32_768
  }
}

async function bindable (port: number): Promise<boolean> {
  const server = createServer()
  return await new Promise<boolean>((resolve) => {
    server.once('error', () => { resolve(false) })
    server.listen(port, '127.0.0.1', () => { server.close(() => { resolve(true) }) })
  })
}

/** A loopback port free now that no bind(0) or outgoing connection will take meanwhile. */
export async function unusedPort (): Promise<number> {
  const low = ephemeralLow()
  for (let tries = 0; tries < 100; tries++) {
    const port = FLOOR + Math.floor(Math.random() * (low - FLOOR))
    if (await bindable(port)) return port
  }
  throw new Error(`no free loopback port between ${FLOOR} and ${low}`)
}
