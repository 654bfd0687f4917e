// The link and memory layers alone, two daemons in this process on
// loopback (a owns a 16 MiB region, b opens a replica window onto it):
//
//   window writes       posted writes of one size through b's window, batched
//                       per event-loop turn as the raw baselines are; timed
//                       until a doorbell b rings after the last write reaches
//                       a (a doorbell is never seen before the writes that
//                       preceded it, so a has applied them all)
//   doorbell ping-pong  a rings b, b's handler rings a back; every round trip
//                       recorded

import type { SoclinkNode } from '../../daemon/src/node.js'
import type { Window } from '../../daemon/src/mem/window.js'
import { startNode, linkUrl } from '../support/nodes.js'
import { until, within } from '../support/daemon.js'
import { Samples, ratePerSecond } from './stats.js'
import { rate, rtt, type Rate, type Rtt } from './figures.js'
import { perTurn } from './raw.js'
import { WARM_UP } from './sizes.js'

const REGION = 1 << 24
const tick = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

export interface MemoryBench { writes: Rate, bigWrites: Rate, doorbell: Rtt }

async function windowWrites (a: SoclinkNode, b: SoclinkNode, w: Window, size: number, count: number, tag = ''): Promise<Rate> {
  const payload = Buffer.alloc(size, 0xab)
  const slots = REGION / size | 0
  const batch = perTurn(size)
  let arrived: () => void = () => {}
  const done = new Promise<void>((resolve) => { arrived = resolve })
  a.doorbells.declare(`written-${size}${tag}`, () => { arrived() })
  const t0 = performance.now()
  for (let i = 0; i < count; i += batch) {
    for (let k = i; k < Math.min(count, i + batch); k++) w.write((k % slots) * size, payload)
    await tick()
  }
  b.ring('bench-a', `written-${size}${tag}`, 0)
  await within(done, `${count} writes of ${size} bytes`, 300_000)
  return rate(ratePerSecond(count, t0), 'writes/s', size)
}

async function doorbellPingPong (a: SoclinkNode, b: SoclinkNode, rounds: number): Promise<Rtt> {
  let back: () => void = () => {}
  b.doorbells.declare('ping', () => { b.ring('bench-a', 'pong', 0) })
  a.doorbells.declare('pong', () => { back() })
  const samples = new Samples(rounds)
  for (let i = 0; i < rounds; i++) {
    await samples.time(async () => { await new Promise<void>((resolve) => { back = resolve; a.ring('bench-b', 'ping', i) }) })
  }
  return rtt(samples.summary())
}

export async function benchMemory (count: number, bigCount: number, bigSize: number, rounds: number): Promise<MemoryBench> {
  const a = await startNode('bench-a')
  const b = await startNode('bench-b', ['--peer', linkUrl(a)])
  try {
    a.regions.create('mem', REGION)
    await until('link', () => b.links.get('bench-a')?.state === 'up' ? true : undefined)
    const w = b.openWindow({ peer: 'bench-a', region: 'mem', offset: 0, size: REGION, replica: true })
    await b.requester.opened(w)
    await windowWrites(a, b, w, 496, Math.min(WARM_UP, count), 'warm')
    const writes = await windowWrites(a, b, w, 496, count)
    const bigWrites = await windowWrites(a, b, w, bigSize, bigCount)
    const doorbell = await doorbellPingPong(a, b, rounds)
    return { writes, bigWrites, doorbell }
  } finally {
    await b.stop('bench')
    await a.stop('bench')
  }
}
