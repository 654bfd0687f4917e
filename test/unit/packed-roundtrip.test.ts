// Random round trips between PackedVirtqueue and VringhPacked
// (support/packed-random.ts): 10,000 buffers with contents checked, every
// feature set, completion in order and out of order (virtio 1.1 2.7: used
// descriptors come in completion order, matched by buffer id), and ring sizes
// 8, 16 and 5, so both wrap counters on both sides flip many times.

import t from 'tap'
import { VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, features } from '../../daemon/src/uapi/virtio-config.js'
import { packedRoundTrips } from '../support/packed-random.js'

const EVENT_IDX = features(VIRTIO_RING_F_EVENT_IDX)
const INDIRECT = features(VIRTIO_RING_F_INDIRECT_DESC)

const sets = [['plain', 0n], ['EVENT_IDX', EVENT_IDX], ['INDIRECT', INDIRECT], ['EVENT_IDX + INDIRECT', EVENT_IDX | INDIRECT]] as const
const runs = [
  ...sets.flatMap(([name, set]) => [true, false].map((inOrder) => ({ name, set, num: 8, inOrder }))),
  { name: 'EVENT_IDX + INDIRECT', set: EVENT_IDX | INDIRECT, num: 5, inOrder: false },
  { name: 'EVENT_IDX', set: EVENT_IDX, num: 16, inOrder: false }
]
for (const { name, set, num, inOrder } of runs) {
  t.test(`10,000 random buffers round trip with contents (${name}, num ${num}, ${inOrder ? 'in order' : 'out of order'})`, async (t) => {
    const r = packedRoundTrips(set, 10_000, 0xbac0 + num + Number(set >> 20n) + (inOrder ? 1 : 0), { num, inOrder })
    t.equal(r.verified, 10_000)
    t.same(r.problems, [], 'contents, tokens, lengths, no lost kick or interrupt')
    t.same([r.vq.numFree, r.vq.inFlight, r.tablesLive, r.dev.held], [num, 0, 0, 0], 'everything back')
    t.equal(r.vq.counters.added, r.vq.counters.used)
    for (const [side, n] of Object.entries(r.flips)) t.ok(n > 100, `${side} wrap counter flipped ${n} times`)
    t.equal(r.flips.driverAvail, r.flips.deviceAvail, 'both sides saw the same avail laps')
    if ((set & INDIRECT) !== 0n) t.ok(r.vq.counters.indirect > 1000, `${r.vq.counters.indirect} indirect`)
    t.ok(r.vq.counters.full > 0, `${r.vq.counters.full} full rings seen`)
    t.ok(r.vq.counters.kicksSuppressed > 100 && r.vq.counters.kicks > 100, `${r.vq.counters.kicks} kicks, ${r.vq.counters.kicksSuppressed} suppressed`)
    t.ok(r.dev.counters.notifiesSuppressed > 100 && r.dev.counters.notifies > 100, `${r.dev.counters.notifies} interrupts, ${r.dev.counters.notifiesSuppressed} suppressed`)
  })
}
