// Every raw WebSocket baseline of a run, measured before the rows: in one
// process (for rows whose daemons share the bench process) and between two
// processes, the peer a child on loopback (for rows whose daemons are
// child processes and whose applications are here).

import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { rawPeer } from './raw-peer.js'
import { oneWayBaseline, pingPongBaseline, rawOneWay, rawPingPong } from './raw.js'
import { adopt, WATCH_PARENT } from './children.js'
import type { Baseline } from './figures.js'
import type { Counts } from './options.js'
import { WARM_UP, BIG_WRITE, RPMSG_BIG_PAYLOAD, RPMSG_PAYLOAD, SMALL_PAYLOAD, TEST_DEVICE_AVERAGE } from './sizes.js'

async function childPeer (): Promise<{ port: number, stop: () => void }> {
  const proc = adopt(spawn(process.execPath, [...WATCH_PARENT, new URL('./raw-peer-main.js', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'inherit'] }))
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', resolve)
    proc.once('exit', (code) => { reject(new Error(`the raw peer exited with ${String(code)}`)) })
  })
  return { port: (JSON.parse(line) as { port: number }).port, stop: () => { proc.kill('SIGKILL') } }
}

/** Untimed runs first, so no baseline pays for the JIT compiling ws's paths. */
async function warmUp (port: number): Promise<void> {
  await rawOneWay(port, RPMSG_PAYLOAD, WARM_UP, false)
  await rawOneWay(port, RPMSG_PAYLOAD, WARM_UP, true)
  await rawPingPong(port, RPMSG_PAYLOAD, WARM_UP / 10, false)
}

export async function measureBaselines (c: Counts): Promise<Map<string, Baseline>> {
  const b = new Map<string, Baseline>()
  const here = await rawPeer()
  try {
    await warmUp(here.port)
    b.set('local-496', await oneWayBaseline(here.port, 'one process, 496 B', RPMSG_PAYLOAD, c.messages))
    b.set('local-2k', await oneWayBaseline(here.port, 'one process, 2 KiB', TEST_DEVICE_AVERAGE, c.messages))
    b.set('local-64k', await oneWayBaseline(here.port, 'one process, 64 KiB', BIG_WRITE, c.bigMessages))
    b.set('local-rtt', await pingPongBaseline(here.port, 'one process, ping-pong 496 B', RPMSG_PAYLOAD, c.rounds))
  } finally {
    here.close()
  }
  const there = await childPeer()
  try {
    await warmUp(there.port)
    b.set('procs-16', await oneWayBaseline(there.port, 'two processes, 16 B', SMALL_PAYLOAD, c.messages))
    b.set('procs-496', await oneWayBaseline(there.port, 'two processes, 496 B', RPMSG_PAYLOAD, c.messages))
    b.set('procs-4080', await oneWayBaseline(there.port, 'two processes, 4080 B', RPMSG_BIG_PAYLOAD, c.messages))
    b.set('procs-rtt', await pingPongBaseline(there.port, 'two processes, ping-pong 496 B', RPMSG_PAYLOAD, c.rounds))
  } finally {
    there.stop()
  }
  return b
}
