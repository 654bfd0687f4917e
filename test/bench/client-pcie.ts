// The client rows over PCIe: an rc and an ep daemon as child processes (the
// built soclinkd on loopback), the applications in this process, as a
// deployment has them. 496-byte messages each way, one awaited send() at a
// time and WINDOW in flight; ping-pong; and the scaling rows: payload
// 16 B / 496 B / 4080 B (a second pair at rpmsgBufSize 4096), and 1, 8 and 64
// application pairs at once.

import { spawnRpmsgPair } from './children.js'
import { AWAITED, WINDOWED, closePairs, down, oneWay, openPairs, pingPong, up } from './client-runs.js'
import { Samples } from './stats.js'
import type { Rate, Rtt } from './figures.js'
import type { Counts } from './options.js'
import { RPMSG_BIG_PAYLOAD, RPMSG_PAYLOAD, SMALL_PAYLOAD, WARM_UP } from './sizes.js'

export const APP_COUNTS = [1, 8, 64] as const

export interface ClientPcieBench {
  awaitedUp: Rate
  awaitedDown: Rate
  windowedUp: Rate
  windowedDown: Rate
  pingPong: Rtt
  small: Rate
  big: Rate
  /** Aggregate rc -> ep messages/s with 1, 8 and 64 application pairs. */
  apps: Map<number, Rate>
}

export async function benchClientPcie (c: Counts): Promise<ClientPcieBench> {
  const payload = Buffer.alloc(RPMSG_PAYLOAD, 0xcd)
  const daemons = await spawnRpmsgPair()
  let main: Omit<ClientPcieBench, 'apps' | 'big'>
  const apps = new Map<number, Rate>()
  try {
    const [p] = await openPairs(daemons.rc.api, daemons.ep.api, 1)
    try {
      await oneWay([up(p!), down(p!)], WINDOWED, payload, WARM_UP)
      main = {
        awaitedUp: await oneWay([up(p!)], AWAITED, payload, c.awaitedMessages, new Samples(c.awaitedMessages)),
        awaitedDown: await oneWay([down(p!)], AWAITED, payload, c.awaitedMessages, new Samples(c.awaitedMessages)),
        windowedUp: await oneWay([up(p!)], WINDOWED, payload, c.windowedMessages),
        windowedDown: await oneWay([down(p!)], WINDOWED, payload, c.windowedMessages),
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
  return { ...main, apps, big: await bigBuffers(c) }
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
