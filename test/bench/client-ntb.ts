// The client rows over NTB: one board (--role ntb) and four host pairs as
// child processes (the built soclinkd on loopback), each pair joined by its
// own NTB function (--ntb-pair), the applications in this process. Pair 0
// alone gives the client ping-pong and 496-byte messages HOST2 -> HOST1,
// WINDOW in flight; then the other three pairs start and all four send at
// once.

import type { Daemon } from '../support/daemon.js'
import { hostUp } from '../support/ntb-daemons.js'
import { spawnDaemon } from './children.js'
import { WINDOWED, closePairs, oneWay, openPairs, pingPong, up } from './client-runs.js'
import type { Rate, Rtt } from './figures.js'
import type { Counts } from './options.js'
import { RPMSG_PAYLOAD } from './sizes.js'

export const PAIR_COUNTS = [1, 4] as const
const PAIRS = Math.max(...PAIR_COUNTS)

export interface ClientNtbBench {
  pingPong: Rtt
  /** Aggregate HOST2 -> HOST1 messages/s with 1 and 4 host pairs. */
  pairs: Map<number, Rate>
}

interface HostPair { host1: Daemon, host2: Daemon }

export async function benchClientNtb (c: Counts): Promise<ClientNtbBench> {
  const names = Array.from({ length: PAIRS }, (_, k) => ({ host1: `host1-${k}`, host2: `host2-${k}` }))
  const board = await spawnDaemon('bench-board', ['--role', 'ntb', ...names.flatMap((n) => ['--ntb-pair', `${n.host1}:${n.host2}`])])
  const started: Daemon[] = [board]
  const hosts: HostPair[] = []
  const spawnHost = async (name: string, role: string): Promise<Daemon> => {
    const d = await spawnDaemon(name, ['--role', role, '--peer', board.link])
    started.push(d)
    return d
  }
  // Pairs join only when a row needs them: hosts that idle still cost CPU on a small machine.
  // Hosts start one at a time: started together while other pairs ran on the
  // board, an ntb-vhost host was sometimes left with no board (GET /v1/ntb:
  // board null) and its pair never came up.
  const pairsUp = async (n: number): Promise<HostPair[]> => {
    for (const k of names.slice(hosts.length, n)) {
      const host1 = await spawnHost(k.host1, 'ntb-vhost')
      const host2 = await spawnHost(k.host2, 'ntb-virtio')
      await hostUp(host1, 60_000)
      await hostUp(host2, 60_000)
      hosts.push({ host1, host2 })
    }
    return hosts.slice(0, n)
  }
  try {
    const payload = Buffer.alloc(RPMSG_PAYLOAD, 0xcd)
    const [h0] = await pairsUp(1)
    const [first] = await openPairs(h0!.host2.api, h0!.host1.api, 1)
    let rttFigure: Rtt
    try {
      rttFigure = await pingPong(first!.virtioApp, first!.vhostApp, payload, c.rounds)
    } finally {
      await closePairs([first!])
    }
    const pairs = new Map<number, Rate>()
    for (const n of PAIR_COUNTS) {
      const running = await pairsUp(n)
      const apps = (await Promise.all(running.map(async (h) => await openPairs(h.host2.api, h.host1.api, 1)))).flat()
      try {
        pairs.set(n, await oneWay(apps.map(up), WINDOWED, payload, c.windowedMessages))
      } finally {
        await closePairs(apps)
      }
    }
    return { pingPong: rttFigure, pairs }
  } finally {
    for (const d of started.reverse()) await d.stop()
  }
}
