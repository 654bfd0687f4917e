// DirtyRanges: sorted, coalesced byte ranges, checked against a byte map.

import t from 'tap'
import { DirtyRanges } from '../../daemon/src/mem/dirty-ranges.js'
import { mulberry32 } from '../support/loop-link.js'

t.test('adjacent and overlapping ranges coalesce; disjoint ones stay apart, sorted', async (t) => {
  const d = new DirtyRanges()
  d.add(100, 110)
  d.add(0, 4)
  d.add(110, 120) // touches: merges
  d.add(50, 60)
  d.add(55, 58) // inside: nothing changes
  t.same(d.toRanges(), [{ offset: 0, length: 4 }, { offset: 50, length: 10 }, { offset: 100, length: 20 }])
  t.equal(d.bytes, 34)
  d.add(2, 101) // spans all three
  t.same(d.toRanges(), [{ offset: 0, length: 120 }])
  t.equal(d.bytes, 120)
  t.ok(d.intersects(119, 200))
  t.notOk(d.intersects(120, 200), 'a range ending at 120 does not hold byte 120')
  d.add(5, 5)
  t.equal(d.count, 1, 'an empty range adds nothing')
})

t.test('takeFrames cuts at the byte limit, shifts by the base, and clears', async (t) => {
  const d = new DirtyRanges()
  d.add(1000, 1010)
  d.add(2000, 2025)
  const frames = d.takeFrames(16, 1000)
  t.same(frames, [
    { ranges: [{ offset: 0, length: 10 }, { offset: 1000, length: 6 }], bytes: 16 },
    { ranges: [{ offset: 1006, length: 16 }], bytes: 16 },
    { ranges: [{ offset: 1022, length: 3 }], bytes: 3 }
  ])
  t.ok(d.empty, 'taken ranges are gone')
})

t.test('random ranges: the set always equals a byte map of what was added', async (t) => {
  const rng = mulberry32(99)
  for (let round = 0; round < 50; round++) {
    const d = new DirtyRanges()
    const map = new Uint8Array(4096)
    for (let k = 0; k < 60; k++) {
      const from = Math.floor(rng() * 4000)
      const to = from + Math.floor(rng() * 90)
      d.add(from, to)
      map.fill(1, from, to)
    }
    const got = new Uint8Array(4096)
    let prevEnd = -1
    let sorted = true
    for (const r of d.toRanges()) {
      if (r.offset <= prevEnd) sorted = false
      prevEnd = r.offset + r.length
      got.fill(1, r.offset, r.offset + r.length)
    }
    if (!sorted || Buffer.compare(got, map) !== 0 || d.bytes !== map.reduce((a, b) => a + b, 0)) {
      t.fail(`round ${round}: the ranges disagree with the byte map`)
      return
    }
  }
  t.pass('50 rounds of 60 random ranges agree with the byte map, sorted and never touching')
})
