// Driver (PackedVirtqueue) and device (VringhPacked) over one Region:
// descriptor bytes as virtio 1.1 2.7 and virtio_ring.h lay them out, wrap
// counters, out-of-order completion by id, indirect tables, notification
// decisions with and without EVENT_IDX (worked out by hand); random round
// trips are in packed-roundtrip.test.ts. Ring num 8 at 0: desc 0..127,
// driver area 128 (off_wrap 128, flags 130), device area 132 (off_wrap 132,
// flags 134).

import t from 'tap'
import { Region } from '../../daemon/src/mem/region.js'
import { packedLayout } from '../../daemon/src/uapi/virtio-packed.js'
import { PackedVirtqueue, type IndirectAllocator } from '../../daemon/src/virtio/packed-virtqueue.js'
import { VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, features } from '../../daemon/src/uapi/virtio-config.js'
import { VringhPacked, type VringhPackedDesc } from '../../daemon/src/vhost/vringh-packed.js'

const EVENT_IDX = features(VIRTIO_RING_F_EVENT_IDX)
const INDIRECT = features(VIRTIO_RING_F_INDIRECT_DESC)
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const seg = (addr: number, len = 1): { addr: number, len: number } => ({ addr, len })

/** Hands out 16-aligned tables from `base`. */
class TableAllocator implements IndirectAllocator {
  live = new Map<number, number>()
  freed: Array<[number, number]> = []
  private next: number
  constructor (base: number) { this.next = base }
  alloc (bytes: number): number | null {
    const addr = this.next
    this.next += Math.ceil(bytes / 16) * 16
    this.live.set(addr, bytes)
    return addr
  }

  free (addr: number, bytes: number): void {
    if (this.live.get(addr) !== bytes) throw new Error(`free of ${addr}/${bytes} that was not allocated`)
    this.live.delete(addr)
    this.freed.push([addr, bytes])
  }
}

function pair (featureSet = 0n, num = 8, allocator?: IndirectAllocator): { mem: Region, vq: PackedVirtqueue<string>, dev: VringhPacked } {
  const mem = new Region(1, 'mem', 1 << 20)
  const layout = packedLayout(0, num)
  const vq = new PackedVirtqueue<string>(mem, layout, allocator === undefined ? { features: featureSet } : { features: featureSet, indirect: allocator })
  return { mem, vq, dev: new VringhPacked(mem, layout, { features: featureSet }) }
}

t.test('a chain, byte for byte', async (t) => {
  const { mem, vq, dev } = pair()
  vq.add([seg(0x8000, 100)], [seg(0x9000, 200), seg(0xa000, 300)], 'a')
  t.equal(hex(mem.read(0, 48)),
    '0080000000000000' + '64000000' + '0000' + '8100' + // slot 0: 0x8000, 100, id 0, AVAIL | NEXT
    '0090000000000000' + 'c8000000' + '0000' + '8300' + // slot 1: 0x9000, 200, id 0, AVAIL | WRITE | NEXT
    '00a0000000000000' + '2c010000' + '0000' + '8200') // slot 2: 0xa000, 300, id 0, AVAIL | WRITE
  t.equal(hex(mem.read(48, 16)), '00'.repeat(16), 'slot 3 untouched')
  t.same([vq.numFree, vq.nextAvail, vq.availWrap], [5, 3, 1])
  t.same(dev.getDesc(), { id: 0, head: 0, descs: 3, readable: [seg(0x8000, 100)], writable: [seg(0x9000, 200), seg(0xa000, 300)], readableBytes: 100, writableBytes: 500 })
  t.equal(dev.getDesc(), null)
  dev.complete(0, 250)
  t.equal(hex(mem.read(0, 16)), '0080000000000000' + 'fa000000' + '0000' + '8280', 'used in slot 0: len 250, id 0, AVAIL | USED | WRITE')
  t.same(vq.getBuf(), { token: 'a', len: 250 })
  t.equal(vq.getBuf(), null)
  t.same([vq.numFree, vq.lastUsed, vq.usedWrap, dev.nextUsed, dev.held], [8, 3, 1, 3, 0])
  t.same(vq.counters, { added: 1, used: 1, kicks: 0, kicksSuppressed: 0, full: 0, indirect: 0 })
})

t.test('the head flags go last: until then a device sees no buffer at all', async (t) => {
  for (const featureSet of [0n, INDIRECT]) {
    const { mem, vq } = pair(featureSet, 8, new TableAllocator(0x20000))
    const writes: Array<[number, number, VringhPackedDesc | null]> = []
    mem.observe((offset, length) => { writes.push([offset, length, new VringhPacked(mem, packedLayout(0, 8), { features: featureSet }).getDesc()]) })
    vq.add([seg(0x8000, 1)], [seg(0x9000, 2), seg(0xa000, 3)], 'a')
    const [offset, length, seen] = writes.pop()!
    t.same([offset, length], [14, 2], 'the last write is slot 0 flags')
    t.same(writes.map(([, , d]) => d), writes.map(() => null), `${writes.length} earlier writes show nothing`)
    t.ok(writes.every(([o, n]) => o + n <= 14 || o >= 16), 'nor touch those flags')
    t.same(seen?.writable, [seg(0x9000, 2), seg(0xa000, 3)], 'then the whole chain')
  }
})

t.test('both wrap counters flip at the end of the ring; ids complete out of order', async (t) => {
  const { mem, vq, dev } = pair(0n, 3)
  const flags = (slot: number): number => mem.read16(16 * slot + 14)
  vq.add([seg(0x8000)], [], 'a')
  vq.add([seg(0x9000)], [seg(0xa000)], 'b')
  t.same([flags(0), flags(1), flags(2)], [0x0080, 0x0081, 0x0082])
  t.same([mem.read16(12), mem.read16(16 + 12), mem.read16(32 + 12)], [0, 1, 1], 'ids 0, 1, 1')
  t.same([vq.nextAvail, vq.availWrap], [0, 0], 'the driver wrapped')
  t.same([dev.getDesc()!.id, dev.getDesc()!.id, dev.getDesc()], [0, 1, null])
  t.same([dev.lastAvail, dev.availWrap], [0, 0], 'so did the device')
  dev.complete(1, 0)
  t.same([flags(0), mem.read16(12)], [0x8080, 1], 'b is used first, in slot 0, without WRITE')
  t.same(vq.getBuf(), { token: 'b', len: 0 })
  t.same([vq.lastUsed, vq.usedWrap, vq.numFree], [2, 1, 2], 'two slots skipped')
  vq.add([seg(0xb000)], [], 'c')
  t.same([flags(0), mem.read16(12)], [0x8000, 1], 'c in lap 0: AVAIL 0, USED 1; id 1 reused')
  dev.complete(0, 7)
  t.same([flags(2), mem.read16(32 + 12), mem.read32(32 + 8)], [0x8082, 0, 7], 'a used in slot 2, still lap 1')
  t.same([dev.nextUsed, dev.usedWrap], [0, 0])
  t.same(vq.getBuf(), { token: 'a', len: 7 })
  t.same([vq.lastUsed, vq.usedWrap], [0, 0])
  t.same(dev.getDesc(), { id: 1, head: 0, descs: 1, readable: [seg(0xb000)], writable: [], readableBytes: 1, writableBytes: 0 })
  dev.complete(1, 0)
  t.equal(flags(0), 0x0000, 'used in lap 0: AVAIL = USED = 0')
  t.same(vq.getBuf(), { token: 'c', len: 0 })
  t.same([vq.numFree, vq.inFlight, dev.held], [3, 0, 0])
})

t.test('a full ring throws; buffers the driver may not add', async (t) => {
  const { vq } = pair(0n, 4)
  vq.add([seg(1), seg(2), seg(3)], [], 'a')
  t.throws(() => { vq.add([seg(4)], [seg(5)], 'b') }, { name: 'RingError', code: 'ERR_RING_FULL' })
  t.same([vq.numFree, vq.nextAvail, vq.counters.full], [1, 3, 1], 'nothing changed')
  vq.add([seg(4)], [], 'c')
  t.ok(vq.full)
  const bad = { name: 'RingError', code: 'ERR_RING' }
  const other = pair(0n, 4).vq
  t.throws(() => { other.add([], [], 'x') }, bad, 'no segments')
  t.throws(() => { other.add([seg(0, 2 ** 32)], [], 'x') }, bad, 'len above u32')
  t.throws(() => { other.add([seg(-1)], [], 'x') }, bad, 'negative address')
  t.throws(() => { other.add([seg(2 ** 53)], [], 'x') }, bad, 'address above 2^53')
  t.throws(() => { other.add([1, 2, 3, 4, 5].map((a) => seg(a)), [], 'x') }, bad, 'more segments than the ring')
  t.same([other.numFree, other.counters.added], [4, 0])
})

t.test('indirect tables', async (t) => {
  const tables = new TableAllocator(0x20000)
  const { mem, vq, dev } = pair(INDIRECT, 8, tables)
  vq.add([seg(0x8000, 10)], [seg(0x9000, 20), seg(0xa000, 30)], 'i')
  t.equal(hex(mem.read(0, 16)), '0000020000000000' + '30000000' + '0000' + '8400', 'slot 0: table 0x20000, 48 bytes, id 0, AVAIL | INDIRECT')
  t.equal(hex(mem.read(0x20000, 48)),
    '0080000000000000' + '0a000000' + '0000' + '0000' +
    '0090000000000000' + '14000000' + '0000' + '0200' + // only WRITE is valid in a table
    '00a0000000000000' + '1e000000' + '0000' + '0200')
  vq.add([seg(0xb000, 40)], [], 'one segment: direct')
  t.equal(mem.read16(16 + 14), 0x0080)
  t.same(vq.numFree, 6)
  t.same(dev.getDesc(), { id: 0, head: 0, descs: 1, readable: [seg(0x8000, 10)], writable: [seg(0x9000, 20), seg(0xa000, 30)], readableBytes: 10, writableBytes: 50 })
  t.same(dev.getDesc(), { id: 1, head: 1, descs: 1, readable: [seg(0xb000, 40)], writable: [], readableBytes: 40, writableBytes: 0 })
  dev.complete(1, 0)
  dev.complete(0, 50)
  t.same([vq.getBuf(), vq.getBuf()], [{ token: 'one segment: direct', len: 0 }, { token: 'i', len: 50 }])
  t.same(tables.freed, [[0x20000, 48]])
  t.same([tables.live.size, vq.counters.indirect, vq.numFree], [0, 1, 8])
})

t.test('kicks without EVENT_IDX follow the device area flags', async (t) => {
  const { mem, vq, dev } = pair()
  vq.add([seg(1)], [], 'a')
  t.equal(vq.kickPrepare(), true, 'ENABLE (0) in a zeroed ring')
  dev.notifyDisable()
  t.equal(mem.read16(134), 1, 'device flags DISABLE')
  vq.add([seg(2)], [], 'b')
  t.equal(vq.kickPrepare(), false)
  t.equal(dev.notifyEnable(), false, 'two buffers are waiting')
  t.equal(mem.read16(134), 0)
  dev.getDesc()
  dev.getDesc()
  t.equal(dev.notifyEnable(), true)
  vq.add([seg(3)], [], 'c')
  t.equal(vq.kickPrepare(), true)
  t.same([vq.counters.kicks, vq.counters.kicksSuppressed], [2, 1])
})

t.test('interrupts without EVENT_IDX follow the driver area flags', async (t) => {
  const { mem, vq, dev } = pair()
  for (const token of ['a', 'b', 'c']) vq.add([seg(1)], [], token)
  for (let i = 0; i < 3; i++) dev.getDesc()
  dev.complete(0, 0)
  t.equal(dev.needNotify(), true)
  vq.disableCb()
  t.equal(mem.read16(130), 1, 'driver flags DISABLE')
  dev.complete(1, 0)
  t.equal(dev.needNotify(), false)
  t.equal(vq.enableCb(), false, 'buffers are waiting')
  t.equal(mem.read16(130), 0)
  vq.getBuf()
  vq.getBuf()
  t.equal(vq.enableCb(), true)
  dev.complete(2, 0)
  t.equal(dev.needNotify(), true)
  t.same([dev.counters.notifies, dev.counters.notifiesSuppressed], [2, 1])
})

t.test('kicks with EVENT_IDX follow the device off_wrap', async (t) => {
  const { mem, vq, dev } = pair(EVENT_IDX)
  vq.add([seg(1)], [], 'a')
  t.equal(vq.kickPrepare(), true, 'ENABLE until the device asks for DESC')
  dev.getDesc()
  t.equal(dev.notifyEnable(), true)
  t.same([mem.read16(132), mem.read16(134)], [0x8001, 2], 'off_wrap: slot 1, lap 1; flags DESC')
  vq.add([seg(1), seg(2)], [], 'b')
  t.equal(vq.kickPrepare(), true, 'slots 1-2 pass event 1: (3 - 1 - 1) < 2')
  vq.add([seg(3)], [], 'c')
  t.equal(vq.kickPrepare(), false, 'slot 3: (4 - 1 - 1) < 1 is false: the device has not re-armed')
  dev.getDesc()
  dev.getDesc()
  t.equal(dev.notifyEnable(), true)
  t.equal(mem.read16(132), 0x8004)
  for (const id of [0, 1, 2]) dev.complete(id, 0)
  t.same([vq.getBuf()!.token, vq.getBuf()!.token, vq.getBuf()!.token], ['a', 'b', 'c'])
  vq.add([seg(4), seg(5), seg(6)], [], 'd')
  vq.add([seg(7), seg(8)], [], 'e')
  t.same([vq.nextAvail, vq.availWrap], [1, 0])
  t.equal(vq.kickPrepare(), true, 'event 4 of lap 1 is -4 from lap 0; next 1, old -4: 4 < 5')
  dev.getDesc()
  dev.getDesc()
  t.equal(dev.notifyEnable(), true)
  t.equal(mem.read16(132), 0x0001, 'slot 1, lap 0')
  dev.notifyDisable()
  t.equal(mem.read16(134), 1)
  vq.add([seg(9)], [], 'f')
  t.equal(vq.kickPrepare(), false, 'DISABLE')
})

t.test('interrupts with EVENT_IDX follow the driver off_wrap', async (t) => {
  const { mem, vq, dev } = pair(EVENT_IDX)
  for (const token of ['a', 'b', 'c', 'd']) vq.add([seg(1)], [], token)
  for (let i = 0; i < 4; i++) dev.getDesc()
  dev.complete(0, 0)
  t.equal(dev.needNotify(), true, 'ENABLE in a zeroed ring')
  vq.disableCb()
  dev.complete(1, 0)
  t.equal(dev.needNotify(), false, 'DISABLE')
  t.equal(vq.getBuf()!.token, 'a')
  t.equal(mem.read16(128), 0, 'off_wrap untouched while disabled')
  t.equal(vq.enableCb(), false, 'b is waiting')
  t.same([mem.read16(128), mem.read16(130)], [0x8001, 2], 'off_wrap: slot 1, lap 1; flags DESC')
  t.equal(vq.getBuf()!.token, 'b')
  t.equal(mem.read16(128), 0x8002, 'off_wrap follows getBuf')
  t.equal(vq.enableCb(), true)
  dev.complete(2, 0)
  t.equal(dev.needNotify(), true, 'event 2, next 3, old 2: 0 < 1')
  dev.complete(3, 0)
  t.equal(dev.needNotify(), false, 'event 2, next 4, old 3: 1 < 1 is false: c not yet read')
})

t.test('enableCbDelayed asks for an interrupt 3/4 of the way through the held slots', async (t) => {
  const { mem, vq, dev } = pair(EVENT_IDX)
  for (let i = 0; i < 4; i++) vq.add([seg(1)], [], `b${i}`)
  const ids = [0, 1, 2, 3].map(() => dev.getDesc()!.id)
  vq.disableCb()
  t.equal(vq.enableCbDelayed(), true)
  t.equal(mem.read16(128), 0x8003, 'slot 0 + floor(4 * 3 / 4), lap 1')
  t.same(ids.map((id) => { dev.complete(id, 0); return dev.needNotify() }), [false, false, false, true])
})

t.test('more than num slots between kicks always kick', async (t) => {
  const { mem, vq, dev } = pair(EVENT_IDX, 2)
  mem.write16(132, 0x8001)
  mem.write16(134, 2)
  for (let i = 0; i < 4; i++) {
    vq.add([seg(1)], [], 'x')
    dev.complete(dev.getDesc()!.id, 0)
    vq.getBuf()
  }
  t.same([vq.nextAvail, vq.availWrap], [0, 1], 'two laps: back to slot 0 of a wrap-1 lap')
  t.equal(vq.kickPrepare(), true, 'need_event(1, 0, -4) alone would say no; slot 1 of the first lap was passed')
})

t.test('a device that breaks the used ring breaks the queue', async (t) => {
  const used = (mem: Region, slot: number, id: number): void => { mem.write16(16 * slot + 12, id); mem.write16(16 * slot + 14, 0x8080) }
  const cases: Array<[string, (mem: Region, dev: VringhPacked) => void, number]> = [
    ['an id never added', (mem) => { used(mem, 0, 5) }, 0],
    ['an id out of range', (mem) => { used(mem, 0, 100) }, 0],
    ['an id used twice', (mem, dev) => { dev.complete(0, 0); used(mem, 1, 0) }, 1]
  ]
  for (const [name, act, good] of cases) {
    const { mem, vq, dev } = pair()
    vq.add([seg(1)], [], 'a')
    vq.add([seg(1)], [], 'b')
    dev.getDesc()
    dev.getDesc()
    act(mem, dev)
    for (let i = 0; i < good; i++) t.equal(vq.getBuf()!.token, 'a')
    t.throws(() => vq.getBuf(), { name: 'RingError', code: 'ERR_RING_USED' }, name)
    t.equal(vq.broken, true)
    t.throws(() => { vq.add([seg(1)], [], 'c') }, { code: 'ERR_RING_BROKEN' })
    t.throws(() => vq.getBuf(), { code: 'ERR_RING_BROKEN' })
  }
})

t.test('detachUnused takes back every buffer and restarts the ring', async (t) => {
  const tables = new TableAllocator(0x20000)
  const { mem, vq } = pair(INDIRECT, 8, tables)
  vq.add([seg(1)], [], 'a')
  vq.add([seg(1), seg(2)], [], 'b')
  vq.add([seg(1)], [], 'c')
  t.same(vq.detachUnused(), ['a', 'b', 'c'])
  t.same([vq.numFree, vq.inFlight, vq.nextAvail, vq.availWrap, tables.live.size], [8, 0, 0, 1, 0])
  t.equal(hex(mem.read(0, 136)), '00'.repeat(136), 'ring zeroed')
  const dev = new VringhPacked(mem, packedLayout(0, 8))
  vq.add([seg(3)], [], 'd')
  t.equal(dev.getDesc()!.readable[0]!.addr, 3, 'a reset device finds the next buffer at slot 0')
})
