// soclink rpmsg perf's pure parts: messages stamped and checked on arrival
// (lost, duplicated, reordered, corrupt, strays from another run), the
// percentiles and the table (the progress line: progress.test.ts).

import t from 'tap'
import { Arrivals, percentile, stamp } from '../../client/src/cli/rpmsg-perf-check.js'
import { damaged, flowOf, perfText, type PerfResult } from '../../client/src/cli/rpmsg-perf-views.js'

const message = (phase: number, pair: number, seq: number, size = 32): Buffer => {
  const b = Buffer.alloc(size)
  stamp(b, phase, pair, seq)
  return b
}

t.test('arrivals: every message checked by its sequence number and bytes', async (t) => {
  const a = new Arrivals(3, 1, 32, 6)
  for (const seq of [1, 2, 4, 3, 4]) a.add(message(3, 1, seq))
  const bad = message(3, 1, 6); bad[20]! ^= 0xff
  a.add(bad)
  t.notOk(a.add(message(2, 1, 5)), 'a late one from another run is not this run\'s')
  t.notOk(a.add(message(3, 0, 5)), 'nor one for another pair')
  t.same(a.counts(), { received: 4, lost: 2, duplicated: 1, reordered: 1, corrupt: 1 }, '5 and 6 lost (6 came damaged), 4 twice, 3 after 4')
  t.equal(a.strays, 2)
  t.notOk(a.complete)
  const whole = new Arrivals(1, 0, 32, 2)
  whole.add(message(1, 0, 1)); whole.add(message(1, 0, 2))
  t.ok(whole.complete, 'complete once all arrived')
  const short = new Arrivals(1, 0, 32, 2)
  short.add(message(1, 0, 1, 31))
  t.equal(short.corrupt, 1, 'a message of the wrong size is corrupt')
})

t.test('percentiles by nearest rank', async (t) => {
  const v = Array.from({ length: 100 }, (_, i) => i + 1)
  t.equal(percentile(v, 50), 50)
  t.equal(percentile(v, 99), 99)
  t.equal(percentile([7], 99), 7)
  t.equal(percentile([], 50), null)
})

t.test('the table and what counts as damage', async (t) => {
  const ok = { received: 10, lost: 0, duplicated: 0, reordered: 1, corrupt: 0 }
  const result: PerfResult = {
    a: 'rc', b: 'ep', size: 496, endpoints: 1, count: 10,
    oneWay: [flowOf('rc', 'ep', 10, 496, 0.5, ok), flowOf('ep', 'rc', 10, 496, 0.25, ok)],
    bothWays: [flowOf('rc', 'ep', 10, 496, 1, ok), flowOf('ep', 'rc', 10, 496, 1, ok)],
    rtt: { rounds: 4, replies: 4, p50Ms: 0.2, p99Ms: 0.9, minMs: 0.1, maxMs: 1 }
  }
  t.same([result.oneWay[0]!.msgPerSec, result.oneWay[0]!.mbPerSec], [20, 0.01], '10 messages in 0.5 s, 496 bytes each')
  const text = perfText(result)
  t.match(text, /^rpmsg perf rc <-> ep: 496-byte payloads, 1 endpoint pair, 10 messages per pair and direction\n/)
  t.match(text, /one-way\s+ep\s+rc\s+10\s+0\.250\s+40\s+0\.02\s+0\s+0\s+1\s+0/)
  t.match(text, /round trip rc -> ep -> rc: 4\/4 answered, p50 0\.200 ms, p99 0\.900 ms/)
  t.equal(damaged(result), 0, 'reordered is not damage')
  result.bothWays[1] = flowOf('ep', 'rc', 10, 496, 1, { ...ok, lost: 2, received: 8 })
  result.rtt.replies = 3
  t.equal(damaged(result), 3, 'lost messages and unanswered round trips are')
})
