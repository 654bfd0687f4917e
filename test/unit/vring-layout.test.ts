// Split ring layout and constants against numbers worked out by hand from
// include/uapi/linux/virtio_ring.h and virtio_config.h (never from our own
// functions): vring_init() puts avail right after desc[num] and used at the
// next `align` boundary after used_event; vring_size() = ALIGN(16*num +
// 2*(3+num), align) + 2*3 + 8*num.

import t from 'tap'
import * as c from '../../daemon/src/uapi/virtio-config.js'
import * as ring from '../../daemon/src/uapi/virtio-ring.js'
import { ringFields, splitLayout, vringNeedEvent, vringSize } from '../../daemon/src/uapi/virtio-ring.js'

t.test('num 256, align 4096', async (t) => {
  // desc 16*256 = 4096; avail 4096..4096+4+512 = 4612 (used_event), +2 = 4614 -> ALIGN 8192.
  t.same(splitLayout(0, 256, 4096), {
    base: 0,
    align: 4096,
    num: 256,
    size: 10246, // 8192 + 6 + 8*256
    desc: 0,
    avail: 4096,
    availIdx: 4098,
    availRing: 4100,
    usedEvent: 4612,
    used: 8192,
    usedIdx: 8194,
    usedRing: 8196,
    availEvent: 10244 // 8196 + 8*256
  })
  t.equal(vringSize(256, 4096), 10246)
})

t.test('num 8, align 4096', async (t) => {
  // desc 128 bytes; avail at 128, ring at 132, used_event at 132 + 16 = 148; 150 -> ALIGN 4096.
  const l = splitLayout(0, 8, 4096)
  t.same([l.desc, l.avail, l.availIdx, l.availRing, l.usedEvent], [0, 128, 130, 132, 148])
  t.same([l.used, l.usedIdx, l.usedRing, l.availEvent], [4096, 4098, 4100, 4164])
  t.equal(l.size, 4166) // 4096 + 6 + 64
  t.equal(vringSize(8, 4096), 4166)
})

t.test('a base other than 0 moves every field by it', async (t) => {
  const l = splitLayout(0x10000, 8, 4096)
  t.same([l.desc, l.avail, l.usedEvent, l.used, l.availEvent, l.size], [65536, 65664, 65684, 69632, 69700, 4166])
})

t.test('small alignments and the extremes', async (t) => {
  // num 1, align 4: 16 + 2*4 = 24 -> 24; used at 24; size 24 + 6 + 8 = 38.
  const one = splitLayout(0, 1, 4)
  t.same([one.avail, one.availRing, one.usedEvent, one.used, one.usedRing, one.availEvent, one.size], [16, 20, 22, 24, 28, 36, 38])
  // num 4, align 16: 64 + 2*7 = 78 -> 80; size 80 + 6 + 32 = 118.
  const four = splitLayout(0, 4, 16)
  t.same([four.avail, four.usedEvent, four.used, four.availEvent, four.size], [64, 76, 80, 116, 118])
  // num 32768, align 4096: 524288 + 65542 = 589830 -> 593920; + 6 + 262144.
  t.equal(vringSize(32768, 4096), 856070)
  t.equal(splitLayout(0, 32768, 4096).used, 593920)
  // legacy virtio-pci: num 128, align 4096: 2048 + 262 = 2310 -> 4096; + 6 + 1024.
  t.equal(vringSize(128, 4096), 5126)
})

t.test('separate parts (virtio 1.x addresses)', async (t) => {
  t.same(ringFields(16, 0x1000, 0x2002, 0x3004), {
    num: 16,
    desc: 4096,
    avail: 8194,
    availIdx: 8196,
    availRing: 8198,
    usedEvent: 8230, // 8198 + 2*16
    used: 12292,
    usedIdx: 12294,
    usedRing: 12296,
    availEvent: 12424 // 12296 + 8*16
  })
  t.throws(() => ringFields(16, 8, 0, 0), { code: 'ERR_RING_SIZE' }, 'desc is 16-aligned')
  t.throws(() => ringFields(16, 0, 1, 0), { code: 'ERR_RING_SIZE' }, 'avail is 2-aligned')
  t.throws(() => ringFields(16, 0, 0, 2), { code: 'ERR_RING_SIZE' }, 'used is 4-aligned')
})

t.test('sizes and alignments that are refused', async (t) => {
  const bad = { name: 'RingError', code: 'ERR_RING_SIZE' }
  for (const num of [0, 3, 6, 65536, 65535, 32769, -8, 1.5, NaN, Infinity]) {
    t.throws(() => vringSize(num, 4096), bad, `num ${num}`)
    t.throws(() => splitLayout(0, num, 4096), bad, `layout num ${num}`)
  }
  for (const align of [0, 1, 2, 3, 12, 4097, -4096]) t.throws(() => vringSize(8, align), bad, `align ${align}`)
  for (const base of [-4096, 2048, 1.5, 2 ** 53]) t.throws(() => splitLayout(base, 8, 4096), bad, `base ${base}`)
})

t.test('vring_need_event truth table, by hand', async (t) => {
  // [event, new, old, expected]; the comment gives (u16)(new - event - 1) < (u16)(new - old)
  const rows: Array<[number, number, number, boolean]> = [
    [0, 1, 0, true], // 0 < 1
    [1, 1, 0, false], // 65535 < 1
    [5, 10, 0, true], // 4 < 10
    [10, 10, 0, false], // 65535 < 10
    [9, 10, 9, true], // 0 < 1
    [8, 10, 9, false], // 1 < 1: the event was passed before old
    [0, 0, 0, false], // 65535 < 0
    [0xffff, 0, 0xfffe, true], // 0 < 2 across the wrap
    [0xfffe, 1, 0xffff, false], // 2 < 2
    [0xffff, 1, 0xffff, true], // 1 < 2
    [0, 1, 0xffff, true], // 0 < 2
    [1, 1, 0xffff, false], // 65535 < 2
    [100, 200, 100, true], // 99 < 100
    [99, 200, 100, false] // 100 < 100
  ]
  for (const [e, n, o, want] of rows) {
    t.equal(vringNeedEvent(e, n, o), want, `need_event(${e}, ${n}, ${o})`)
  }
})

t.test('constants match the headers', async (t) => {
  t.same([c.VIRTIO_CONFIG_S_ACKNOWLEDGE, c.VIRTIO_CONFIG_S_DRIVER, c.VIRTIO_CONFIG_S_DRIVER_OK, c.VIRTIO_CONFIG_S_FEATURES_OK,
    c.VIRTIO_CONFIG_S_NEEDS_RESET, c.VIRTIO_CONFIG_S_FAILED], [1, 2, 4, 8, 0x40, 0x80])
  t.same([c.VIRTIO_F_NOTIFY_ON_EMPTY, c.VIRTIO_F_ANY_LAYOUT, c.VIRTIO_RING_F_INDIRECT_DESC, c.VIRTIO_RING_F_EVENT_IDX,
    c.VIRTIO_F_VERSION_1, c.VIRTIO_F_ACCESS_PLATFORM, c.VIRTIO_F_RING_PACKED], [24, 27, 28, 29, 32, 33, 34])
  t.same([c.VRING_DESC_F_NEXT, c.VRING_DESC_F_WRITE, c.VRING_DESC_F_INDIRECT, c.VRING_USED_F_NO_NOTIFY,
    c.VRING_AVAIL_F_NO_INTERRUPT, c.VIRTIO_ID_RPMSG], [1, 2, 4, 1, 1, 7])
  t.same([ring.VRING_DESC_SIZE, ring.VRING_USED_ELEM_SIZE, ring.VRING_MAX_NUM], [16, 8, 32768])
})

t.test('feature sets are bigints of bit numbers', async (t) => {
  t.equal(c.featureBit(c.VIRTIO_F_VERSION_1), 0x1_0000_0000n)
  t.equal(c.features(c.VIRTIO_RING_F_EVENT_IDX, c.VIRTIO_F_VERSION_1), 0x1_2000_0000n)
  t.ok(c.hasFeature(0x1_1000_0000n, c.VIRTIO_RING_F_INDIRECT_DESC))
  t.notOk(c.hasFeature(0x1_1000_0000n, c.VIRTIO_RING_F_EVENT_IDX))
  t.throws(() => c.featureBit(64), RangeError)
})
