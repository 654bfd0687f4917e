// Packed ring layout and constants against numbers worked out by hand from
// virtio 1.1 2.7 and include/uapi/linux/virtio_ring.h (never from our own
// constants): a 16-byte struct vring_packed_desc per slot, then the 4-byte
// Driver and Device Event Suppression areas; alignments 16, 4, 4; any queue
// size from 1 to 2^15, not only powers of two (2.7.10.1).

import t from 'tap'
import * as p from '../../daemon/src/uapi/virtio-packed.js'
import {
  isPackedAvail, isPackedUsed, packedAvailFlags, packedLayout, packedNeedEvent, packedOffWrap, packedRing, packedSize, packedUsedFlags
} from '../../daemon/src/uapi/virtio-packed.js'

t.test('num 256 from 0', async (t) => {
  // desc 16 * 256 = 4096 bytes; driver area 4096..4099; device area 4100..4103.
  t.same(packedLayout(0, 256), { num: 256, base: 0, size: 4104, desc: 0, driver: 4096, device: 4100 })
  t.equal(packedSize(256), 4104)
})

t.test('num 5 (not a power of two)', async (t) => {
  // desc 80 bytes; driver 80 (16-aligned, so 4-aligned); device 84; size 88.
  t.same(packedLayout(0, 5), { num: 5, base: 0, size: 88, desc: 0, driver: 80, device: 84 })
  t.same(packedLayout(0x10000, 5), { num: 5, base: 65536, size: 88, desc: 65536, driver: 65616, device: 65620 })
})

t.test('the extremes', async (t) => {
  t.same(packedLayout(16, 1), { num: 1, base: 16, size: 24, desc: 16, driver: 32, device: 36 })
  // 16 * 32768 = 524288; + 8.
  t.same(packedLayout(0, 32768), { num: 32768, base: 0, size: 524296, desc: 0, driver: 524288, device: 524292 })
  for (const num of [3, 6, 7, 100, 1000, 32767]) t.equal(packedSize(num), 16 * num + 8, `num ${num} is allowed`)
})

t.test('sizes and addresses that are refused', async (t) => {
  const bad = { name: 'RingError', code: 'ERR_RING_SIZE' }
  for (const num of [0, -1, 32769, 65536, 1.5, NaN, Infinity]) {
    t.throws(() => packedSize(num), bad, `num ${num}`)
    t.throws(() => packedLayout(0, num), bad, `layout num ${num}`)
  }
  for (const base of [-16, 8, 4, 1.5, 2 ** 53]) t.throws(() => packedLayout(base, 8), bad, `base ${base}`)
  t.same(packedRing(8, 0x1000, 0x2004, 0x3008), { num: 8, desc: 4096, driver: 8196, device: 12296 }, 'parts apart, 4-aligned areas')
  t.throws(() => packedRing(8, 8, 0x2000, 0x3000), bad, 'desc is 16-aligned')
  t.throws(() => packedRing(8, 0, 0x2002, 0x3000), bad, 'driver area is 4-aligned')
  t.throws(() => packedRing(8, 0, 0x2000, 0x3006), bad, 'device area is 4-aligned')
})

t.test('constants match virtio_ring.h and the spec', async (t) => {
  // virtio_ring.h defines AVAIL and USED as shifts: 7 and 15; the spec writes (1 << 7) and (1 << 15).
  t.same([p.VRING_PACKED_DESC_F_AVAIL, p.VRING_PACKED_DESC_F_USED, p.VRING_PACKED_EVENT_F_WRAP_CTR], [7, 15, 15])
  t.same([1 << p.VRING_PACKED_DESC_F_AVAIL, 1 << p.VRING_PACKED_DESC_F_USED], [0x80, 0x8000])
  t.same([p.VRING_PACKED_EVENT_FLAG_ENABLE, p.VRING_PACKED_EVENT_FLAG_DISABLE, p.VRING_PACKED_EVENT_FLAG_DESC], [0, 1, 2])
  t.same([p.VRING_PACKED_DESC_SIZE, p.VRING_PACKED_EVENT_SIZE, p.VRING_PACKED_MAX_NUM], [16, 4, 32768])
  // struct vring_packed_desc { __le64 addr; __le32 len; __le16 id; __le16 flags; }; the event struct: off_wrap, flags.
  t.same([p.PACKED_DESC_ADDR, p.PACKED_DESC_LEN, p.PACKED_DESC_ID, p.PACKED_DESC_FLAGS], [0, 8, 12, 14])
  t.same([p.PACKED_EVENT_OFF_WRAP, p.PACKED_EVENT_FLAGS], [0, 2])
})

t.test('available and used flags (virtio 1.1 2.7.1)', async (t) => {
  // Available: AVAIL = wrap, USED = !wrap. Used: AVAIL = USED = wrap.
  t.same([packedAvailFlags(1), packedAvailFlags(0), packedUsedFlags(1), packedUsedFlags(0)], [0x0080, 0x8000, 0x8080, 0x0000])
  const rows: Array<[number, number, boolean, boolean]> = [
    // [flags, wrap, available, used]
    [0x0000, 1, false, false], // zero-initialized ring: neither
    [0x0080, 1, true, false],
    [0x8000, 1, false, false],
    [0x8080, 1, false, true],
    [0x0000, 0, false, true],
    [0x0080, 0, false, false],
    [0x8000, 0, true, false],
    [0x8080, 0, false, false],
    [0x0083, 1, true, false], // NEXT | WRITE do not matter
    [0x8082, 1, false, true]
  ]
  for (const [flags, wrap, avail, used] of rows) {
    t.equal(isPackedAvail(flags, wrap), avail, `available(0x${flags.toString(16)}, ${wrap})`)
    t.equal(isPackedUsed(flags, wrap), used, `used(0x${flags.toString(16)}, ${wrap})`)
  }
})

t.test('off_wrap packs the offset in bits 0-14 and the wrap counter in bit 15', async (t) => {
  t.same([packedOffWrap(0, 1), packedOffWrap(5, 1), packedOffWrap(5, 0), packedOffWrap(32767, 1)], [0x8000, 0x8005, 0x0005, 0xffff])
})

t.test('event passed or not, by hand (num 8)', async (t) => {
  // [off_wrap, next, wrap, moved, expected]: an event in the other lap sits at off - 8, then
  // vring_need_event: (u16)(next - event - 1) < (u16)(next - (next - moved)).
  const rows: Array<[number, number, number, number, boolean]> = [
    [0x8003, 5, 1, 2, true], // event 3, old 3: 1 < 2
    [0x8003, 5, 1, 1, false], // event 3, old 4: 1 < 1 is false
    [0x0006, 2, 1, 4, true], // event 6 - 8 = -2, old -2: 3 < 4
    [0x0006, 2, 1, 3, false], // old -1: 3 < 3 is false
    [0x8002, 2, 1, 3, false], // the event is the next slot: 65535 < 3 is false
    [0x8007, 0, 0, 1, true], // slot 7 of lap 1 just made available: event -1, old -1: 0 < 1
    [0x0000, 0, 0, 1, false], // slot 0 of lap 0 not reached: 65535 < 1 is false
    [0x8001, 0, 1, 4, false], // event 1 ahead in this lap: 65534 < 4 is false
    [0x8001, 4, 1, 0, false], // nothing moved
    [0x8001, 4, 1, 8, true] // a whole ring moved: laps cannot be told apart, so yes
  ]
  for (const [offWrap, next, wrap, moved, want] of rows) {
    t.equal(packedNeedEvent(offWrap, 8, next, wrap, moved), want, `need_event(0x${offWrap.toString(16)}, next ${next}, wrap ${wrap}, moved ${moved})`)
  }
})
