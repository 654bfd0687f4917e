// FirstFitPool (virtio/buffer-pool.ts) and the test device's payload format
// (uapi/soclink-ids.ts).

import t from 'tap'
import { Region } from '../../daemon/src/mem/region.js'
import { FirstFitPool } from '../../daemon/src/virtio/buffer-pool.js'
import { TEST_MAX_PAYLOAD, checkTestPayload, fillTestPayload, testPayloadSize } from '../../daemon/src/uapi/soclink-ids.js'
import { mulberry32 } from '../support/loop-link.js'

t.test('first fit: 16-byte grains, alignment, exhaustion, merging on free', async (t) => {
  const pool = new FirstFitPool(new Region(1, 'm', 0x10000), 0x1000, 0x1000)
  const a = pool.alloc(1)!
  const b = pool.alloc(17)!
  const c = pool.alloc(4096 - 48)!
  t.same([a, b, c], [0x1000, 0x1010, 0x1030])
  t.equal(pool.alloc(16), null, 'full')
  t.equal(pool.counters.failures, 1)
  pool.free(b)
  t.equal(pool.alloc(33), null, 'a 32-byte hole does not hold 33')
  t.equal(pool.alloc(20), 0x1010, 'the first hole that fits')
  pool.free(0x1010)
  pool.free(a)
  pool.free(c)
  t.equal(pool.bytesFree, 0x1000)
  t.equal(pool.alloc(0x1000), 0x1000, 'freed neighbours merged back into one run')
  pool.free(0x1000)
  pool.alloc(16)
  t.equal(pool.alloc(64, 256), 0x1100, 'aligned past the padding')
  t.equal(pool.alloc(16), 0x1010, 'the padding stays usable')
  t.throws(() => { pool.free(0x1234) }, { code: 'ERR_CONFLICT' })
  t.throws(() => pool.alloc(0), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => pool.alloc(16, 24), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => new FirstFitPool(new Region(1, 'm', 0x100), 8, 0x20), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => new FirstFitPool(new Region(1, 'm', 0x100), 0, 0x200), { code: 'ERR_OUT_OF_RANGE' })
})

t.test('random allocs and frees never overlap and give everything back', async (t) => {
  const rand = mulberry32(7)
  const pool = new FirstFitPool(new Region(1, 'm', 1 << 20), 0, 1 << 18)
  const live = new Map<number, number>()
  let problems = 0
  for (let i = 0; i < 20_000; i++) {
    if (live.size > 0 && rand() < 0.45) {
      const keys = [...live.keys()]
      const addr = keys[Math.floor(rand() * keys.length)]!
      live.delete(addr)
      pool.free(addr)
      continue
    }
    const size = 1 + Math.floor(rand() * 3000)
    const addr = pool.alloc(size, rand() < 0.1 ? 4096 : 16)
    if (addr === null) continue
    for (const [other, len] of live) if (addr < other + len && other < addr + size) problems++
    if (addr % 16 !== 0 || addr + size > 1 << 18) problems++
    live.set(addr, size)
  }
  t.equal(problems, 0)
  for (const addr of live.keys()) pool.free(addr)
  t.equal(pool.bytesFree, 1 << 18)
  t.equal(pool.blocksInUse, 0)
  t.equal(pool.counters.bytesInUse, 0)
})

t.test('test payload: seq as a little-endian u64 first, sizes in [1, 4096]', async (t) => {
  const p = new Uint8Array(16)
  fillTestPayload(0x0102_0304_0506, p)
  t.same([...p.subarray(0, 8)], [6, 5, 4, 3, 2, 1, 0, 0])
  t.ok(checkTestPayload(0x0102_0304_0506, p))
  t.notOk(checkTestPayload(0x0102_0304_0507, p))
  p[12] = p[12]! ^ 1
  t.notOk(checkTestPayload(0x0102_0304_0506, p))
  const sizes = Array.from({ length: 5000 }, (_, seq) => testPayloadSize(seq))
  t.ok(sizes.every((n) => n >= 1 && n <= TEST_MAX_PAYLOAD))
  t.ok(sizes.some((n) => n < 8) && sizes.some((n) => n > 4000), 'short and long buffers both occur')
})
