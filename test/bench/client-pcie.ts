// The client rows over PCIe: an rc and an ep daemon as child processes (the
// built soclinkd on loopback), the applications in this process, as a
// deployment has them. 496-byte messages each way in every send mode
// (one awaited send() at a time, WINDOW in flight); ping-pong; and the scaling rows: payload
// 16 B / 496 B / 4080 B (a second pair at rpmsgBufSize 4096), and 1, 8 and 64
// application pairs at once.

import { spawnRpmsgPair } from './children.js'
import { SEND_MODES, WINDOWED, closePairs, down, oneWay, openPairs, pingPong, up, type SendMode } from './client-runs.js'
import { Samples } from './stats.js'
import type { Rate, Rtt } from './figures.js'
import type { Counts } from './options.js'
import { RPMSG_BIG_PAYLOAD, RPMSG_PAYLOAD, SMALL_PAYLOAD, WARM_UP } from './sizes.js'

export const APP_COUNTS = [1, 8, 64] as const

export interface ClientPcieBench {
  /** One-way 496 B each way, per send mode (SEND_MODES). */
  modes: Array<{ mode: SendMode, up: Rate, down: Rate }>
  /** rc -> ep, WINDOW in flight (the windowed mode's up figure): what scaling and NTB rows are read against. */
  windowedUp: Rate
  pingPong: Rtt
  small: Rate
  big: Rate
  /** Aggregate rc -> ep messages/s with 1, 8 and 64 application pairs. */
  apps: Map<number, Rate>
}

export async function benchClientPcie (c: Counts): Promise<ClientPcieBench> {
  const payload = Buffer.alloc(RPMSG_PAYLOAD, 0xcd)
  const daemons = await spawnRpmsgPair()
  let main: Omit<ClientPcieBench, 'apps' | 'big' | 'windowedUp'>
  let windowedUp: Rate
  const apps = new Map<number, Rate>()
  try {
    const [p] = await openPairs(daemons.rc.api, daemons.ep.api, 1)
    try {
      await oneWay([up(p!), down(p!)], WINDOWED, payload, WARM_UP)
      const modes: ClientPcieBench['modes'] = []
      for (const mode of SEND_MODES) {
        const count = c[mode.messages]
        const latency = (): Samples | undefined => mode.latency ? new Samples(count) : undefined
        modes.push({ mode, up: await oneWay([up(p!)], mode, payload, count, latency()), down: await oneWay([down(p!)], mode, payload, count, latency()) })
      }
      windowedUp = modes.find((m) => m.mode === WINDOWED)?.up ?? await oneWay([up(p!)], WINDOWED, payload, c.windowedMessages)
      main = {
        modes,
        small: await oneWay([up(p!)], WINDOWED, Buffer.alloc(SMALL_PAYLOAD, 0xcd), c.windowedMessages),
        pingPong: await pingPong(p!.virtioApp, p!.vhostApp, payload, c.rounds)
      }
    } finally {
      await closePairs([p!])
    }
    for (const n of APP_COUNTS) {
      const pairs = await openPairs(daemons.rc.api, daemons.ep.api, n)
      try {
        apps.set(n, await oneWay(pairs.map(up), WINDOWED, payload, c.windowedMessages))
      } finally {
        await closePairs(pairs)
      }
    }
  } finally {
    await daemons.stop()
  }
  return { ...main, windowedUp, apps, big: await bigBuffers(c) }
}

/** rc -> ep with 4 KiB buffers on both daemons: 4080-byte payloads, WINDOW in flight. */
async function bigBuffers (c: Counts): Promise<Rate> {
  const daemons = await spawnRpmsgPair(['--rpmsg-buf-size', '4096'])
  try {
    const pairs = await openPairs(daemons.rc.api, daemons.ep.api, 1)
    try {
      const most = pairs[0]!.mine.maxPayload
      if (most !== RPMSG_BIG_PAYLOAD) throw new Error(`rpmsgBufSize 4096 on both daemons gave ${most}-byte payloads, not ${RPMSG_BIG_PAYLOAD}`)
      return await oneWay(pairs.map(up), WINDOWED, Buffer.alloc(RPMSG_BIG_PAYLOAD, 0xcd), c.windowedMessages)
    } finally {
      await closePairs(pairs)
    }
  } finally {
    await daemons.stop()
  }
}
