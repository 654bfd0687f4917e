// Driver (SplitVirtqueue) and device (Vringh) over one Region: descriptor
// bytes as virtio_ring.h lays them out, chains, indirect tables, free-list
// reuse, notification decisions with and without EVENT_IDX (worked out by
// hand from vring_need_event), and random round trips with contents.

import t from 'tap'
import { Region } from '../../daemon/src/mem/region.js'
import { splitLayout } from '../../daemon/src/uapi/virtio-ring.js'
import { SplitVirtqueue, type IndirectAllocator } from '../../daemon/src/virtio/split-virtqueue.js'
import { VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, features } from '../../daemon/src/uapi/virtio-config.js'
import { Vringh } from '../../daemon/src/vhost/vringh.js'
import { roundTrips } from '../support/vring-random.js'

const EVENT_IDX = features(VIRTIO_RING_F_EVENT_IDX)
const INDIRECT = features(VIRTIO_RING_F_INDIRECT_DESC)
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** Hands out 16-aligned tables from `base`; `refuse` makes it return null. */
class TableAllocator implements IndirectAllocator {
  live = new Map<number, number>()
  freed: Array<[number, number]> = []
  refuse = false
  private next: number
  constructor (base: number) { this.next = base }
  alloc (bytes: number): number | null {
    if (this.refuse) return null
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

function pair (featureSet = 0n, num = 8, allocator?: IndirectAllocator): { mem: Region, vq: SplitVirtqueue<string>, dev: Vringh } {
  const mem = new Region(1, 'mem', 1 << 20)
  const layout = splitLayout(0, num, 4096)
  const vq = new SplitVirtqueue<string>(mem, layout, allocator === undefined ? { features: featureSet } : { features: featureSet, indirect: allocator })
  return { mem, vq, dev: new Vringh(mem, layout, { features: featureSet }) }
}

t.test('a chain, byte for byte (num 8, align 4096)', async (t) => {
  const { mem, vq, dev } = pair()
  vq.add([{ addr: 0x8000, len: 100 }], [{ addr: 0x9000, len: 200 }, { addr: 0xa000, len: 300 }], 'a')
  t.equal(hex(mem.read(0, 48)),
    '0080000000000000' + '64000000' + '0100' + '0100' + // desc[0]: 0x8000, 100, NEXT, next 1
    '0090000000000000' + 'c8000000' + '0300' + '0200' + // desc[1]: 0x9000, 200, NEXT|WRITE, next 2
    '00a0000000000000' + '2c010000' + '0200' + '0300') // desc[2]: 0xa000, 300, WRITE (next: free list)
  t.equal(hex(mem.read(128, 6)), '0000' + '0100' + '0000', 'avail: flags 0, idx 1, ring[0] = head 0')
  t.equal(vq.numFree, 5)
  t.same(dev.getDesc(), {
    head: 0,
    readable: [{ addr: 0x8000, len: 100 }],
    writable: [{ addr: 0x9000, len: 200 }, { addr: 0xa000, len: 300 }],
    readableBytes: 100,
    writableBytes: 500
  })
  t.equal(dev.getDesc(), null)
  t.equal(dev.lastAvailIdx, 1)
  dev.complete(0, 250)
  t.equal(hex(mem.read(4096, 12)), '0000' + '0100' + '00000000' + 'fa000000', 'used: flags 0, idx 1, ring[0] = {0, 250}')
  t.same(vq.getBuf(), { token: 'a', len: 250 })
  t.equal(vq.getBuf(), null)
  t.equal(vq.numFree, 8)
  t.same(vq.counters, { added: 1, used: 1, kicks: 0, kicksSuppressed: 0, full: 0, indirect: 0 })
})

t.test('freed chains go to the front of the free list; a full ring throws', async (t) => {
  const { mem, vq, dev } = pair()
  for (const token of ['a', 'b', 'c']) vq.add([{ addr: 0x8000, len: 1 }], [{ addr: 0x9000, len: 1 }], token)
  t.same([0, 1, 2].map(() => dev.getDesc()!.head), [0, 2, 4])
  dev.complete(2, 0)
  dev.complete(0, 0)
  t.same([vq.getBuf()!.token, vq.getBuf()!.token], ['b', 'a'])
  // free list now 0 -> 1 -> 2 -> 3 -> 6 -> 7
  vq.add([{ addr: 1, len: 1 }, { addr: 2, len: 2 }, { addr: 3, len: 3 }], [], 'd')
  const d = dev.getDesc()!
  t.same([d.head, d.readable.map((s) => s.addr)], [0, [1, 2, 3]])
  t.equal(mem.read16(16 * 1 + 14), 2, 'desc[1].next = 2')
  t.equal(mem.read16(16 * 2 + 12), 0, 'desc[2] ends the chain')
  vq.add([{ addr: 4, len: 4 }], [], 'e')
  vq.add([{ addr: 5, len: 5 }], [{ addr: 6, len: 6 }], 'f')
  t.same([dev.getDesc()!.head, dev.getDesc()!.head], [3, 6])
  t.equal(vq.numFree, 0)
  t.ok(vq.full)
  t.throws(() => { vq.add([{ addr: 7, len: 7 }], [], 'g') }, { name: 'RingError', code: 'ERR_RING_FULL' })
  t.equal(vq.counters.full, 1)
  t.equal(mem.read16(130), 6, 'avail->idx not moved by the refused add')
})

t.test('buffers the driver may not add', async (t) => {
  const { vq } = pair(INDIRECT, 8, new TableAllocator(0x20000))
  const bad = { name: 'RingError', code: 'ERR_RING' }
  t.throws(() => { vq.add([], [], 'x') }, bad, 'no segments')
  t.throws(() => { vq.add([{ addr: 0, len: 2 ** 32 }], [], 'x') }, bad, 'len above u32')
  t.throws(() => { vq.add([{ addr: -1, len: 1 }], [], 'x') }, bad, 'negative address')
  t.throws(() => { vq.add([{ addr: 2 ** 53, len: 1 }], [], 'x') }, bad, 'address above 2^53')
  const nine = Array.from({ length: 9 }, (_, i) => ({ addr: i, len: 1 }))
  t.throws(() => { vq.add(nine, [], 'x') }, bad, 'more segments than the ring, even indirect')
  t.equal(vq.numFree, 8)
  t.equal(vq.counters.added, 0)
})

t.test('indirect tables', async (t) => {
  const tables = new TableAllocator(0x20000)
  const { mem, vq, dev } = pair(INDIRECT, 8, tables)
  vq.add([{ addr: 0x8000, len: 10 }], [{ addr: 0x9000, len: 20 }, { addr: 0xa000, len: 30 }], 'i')
  t.equal(hex(mem.read(0, 16)), '0000020000000000' + '30000000' + '0400' + '0100', 'desc[0]: table 0x20000, 48 bytes, INDIRECT')
  t.equal(hex(mem.read(0x20000, 48)),
    '0080000000000000' + '0a000000' + '0100' + '0100' +
    '0090000000000000' + '14000000' + '0300' + '0200' +
    '00a0000000000000' + '1e000000' + '0200' + '0300')
  t.equal(vq.numFree, 7)
  vq.add([{ addr: 0xb000, len: 40 }], [], 'one segment: direct')
  t.equal(mem.read16(16 + 12), 0, 'desc[1] flags 0')
  tables.refuse = true
  vq.add([{ addr: 0xc000, len: 1 }], [{ addr: 0xd000, len: 2 }], 'no table: direct')
  t.equal(vq.numFree, 4)
  t.same(dev.getDesc(), { head: 0, readable: [{ addr: 0x8000, len: 10 }], writable: [{ addr: 0x9000, len: 20 }, { addr: 0xa000, len: 30 }], readableBytes: 10, writableBytes: 50 })
  t.same(dev.getDesc(), { head: 1, readable: [{ addr: 0xb000, len: 40 }], writable: [], readableBytes: 40, writableBytes: 0 })
  t.same(dev.getDesc(), { head: 2, readable: [{ addr: 0xc000, len: 1 }], writable: [{ addr: 0xd000, len: 2 }], readableBytes: 1, writableBytes: 2 })
  for (const h of [0, 1, 2]) dev.complete(h, h)
  t.same([vq.getBuf(), vq.getBuf(), vq.getBuf()].map((b) => b!.token), ['i', 'one segment: direct', 'no table: direct'])
  t.same(tables.freed, [[0x20000, 48]])
  t.equal(tables.live.size, 0)
  t.equal(vq.counters.indirect, 1)

  tables.refuse = false
  const small = pair(INDIRECT, 2, new TableAllocator(0x20000))
  small.vq.add([{ addr: 1, len: 1 }], [], 'fills one of two')
  small.vq.add([{ addr: 2, len: 1 }, { addr: 3, len: 1 }], [], 'two segments in the last descriptor')
  t.equal(small.vq.numFree, 0)
})

t.test('kicks without EVENT_IDX follow used->flags', async (t) => {
  const { mem, vq, dev } = pair()
  vq.add([{ addr: 1, len: 1 }], [], 'a')
  t.equal(vq.kickPrepare(), true)
  dev.notifyDisable()
  t.equal(mem.read16(4096), 1, 'used->flags NO_NOTIFY')
  vq.add([{ addr: 2, len: 1 }], [], 'b')
  t.equal(vq.kickPrepare(), false)
  t.equal(dev.notifyEnable(), false, 'two buffers are waiting')
  t.equal(mem.read16(4096), 0)
  dev.getDesc()
  dev.getDesc()
  t.equal(dev.notifyEnable(), true)
  vq.add([{ addr: 3, len: 1 }], [], 'c')
  t.equal(vq.kickPrepare(), true)
  t.same([vq.counters.kicks, vq.counters.kicksSuppressed], [2, 1])
})

t.test('interrupts without EVENT_IDX follow avail->flags', async (t) => {
  const { mem, vq, dev } = pair()
  for (const token of ['a', 'b', 'c']) vq.add([{ addr: 1, len: 1 }], [], token)
  for (let i = 0; i < 3; i++) dev.getDesc()
  dev.complete(0, 0)
  t.equal(dev.needNotify(), true)
  vq.disableCb()
  t.equal(mem.read16(128), 1, 'avail->flags NO_INTERRUPT')
  dev.complete(1, 0)
  t.equal(dev.needNotify(), false)
  t.equal(vq.enableCb(), false, 'buffers are waiting')
  t.equal(mem.read16(128), 0)
  vq.getBuf()
  vq.getBuf()
  t.equal(vq.enableCb(), true)
  dev.complete(2, 0)
  t.equal(dev.needNotify(), true)
  t.same([dev.counters.notifies, dev.counters.notifiesSuppressed], [2, 1])
})

t.test('kicks with EVENT_IDX follow avail_event', async (t) => {
  const { mem, vq, dev } = pair(EVENT_IDX)
  const add = (): void => { vq.add([{ addr: 1, len: 1 }], [], 'x') }
  add()
  t.equal(vq.kickPrepare(), true, 'need_event(0, 1, 0): 0 < 1')
  add()
  t.equal(vq.kickPrepare(), false, 'need_event(0, 2, 1): 1 < 1 is false')
  dev.getDesc()
  dev.getDesc()
  t.equal(dev.notifyEnable(), true)
  t.equal(mem.read16(4164), 2, 'avail_event = 2')
  dev.notifyDisable()
  t.equal(mem.read16(4096), 0, 'used->flags untouched with EVENT_IDX')
  add()
  add()
  t.equal(vq.kickPrepare(), true, 'need_event(2, 4, 2): 1 < 2')
  dev.getDesc()
  dev.getDesc()
  add()
  t.equal(vq.kickPrepare(), false, 'need_event(2, 5, 4): 2 < 1 is false: the device has not re-armed')
})

t.test('interrupts with EVENT_IDX follow used_event', async (t) => {
  const { mem, vq, dev } = pair(EVENT_IDX)
  for (const token of ['a', 'b', 'c']) vq.add([{ addr: 1, len: 1 }], [], token)
  for (let i = 0; i < 3; i++) dev.getDesc()
  dev.complete(0, 0)
  t.equal(dev.needNotify(), true, 'need_event(0, 1, 0)')
  vq.getBuf()
  t.equal(mem.read16(148), 1, 'used_event follows getBuf')
  vq.disableCb()
  t.equal(mem.read16(148), 0, 'disabled: an event already passed')
  t.equal(mem.read16(128), 0, 'avail->flags untouched with EVENT_IDX')
  dev.complete(1, 0)
  t.equal(dev.needNotify(), false, 'need_event(0, 2, 1): 1 < 1 is false')
  t.equal(vq.enableCb(), false, 'buffer waiting')
  vq.getBuf()
  t.equal(mem.read16(148), 2)
  t.equal(vq.enableCb(), true)
  dev.complete(2, 0)
  t.equal(dev.needNotify(), true, 'need_event(2, 3, 2): 0 < 1')
})

t.test('enableCbDelayed asks for an interrupt after 3/4 of the outstanding buffers', async (t) => {
  const { mem, vq, dev } = pair(EVENT_IDX)
  for (let i = 0; i < 4; i++) vq.add([{ addr: 1, len: 1 }], [], `b${i}`)
  const heads = [0, 1, 2, 3].map(() => dev.getDesc()!.head)
  vq.disableCb()
  t.equal(vq.enableCbDelayed(), true)
  t.equal(mem.read16(148), 3, 'used_event = 0 + floor(4 * 3 / 4)')
  const decisions = heads.map((h) => { dev.complete(h, 0); return dev.needNotify() })
  t.same(decisions, [false, false, false, true])
})

t.test('a device that breaks the used ring breaks the queue', async (t) => {
  const cases: Array<[string, (mem: Region, dev: Vringh) => void, number]> = [
    ['an id never added', (_mem, dev) => { dev.complete(5, 0) }, 0],
    ['an id out of range', (mem) => { mem.write32(4100, 100); mem.write16(4098, 1) }, 0],
    ['used->idx ahead of what is outstanding', (mem) => { mem.write16(4098, 3) }, 0],
    ['an id completed twice', (_mem, dev) => { dev.complete(0, 0); dev.complete(0, 0) }, 1]
  ]
  for (const [name, act, good] of cases) {
    const { mem, vq, dev } = pair()
    vq.add([{ addr: 1, len: 1 }], [], 'a')
    vq.add([{ addr: 1, len: 1 }], [], 'b')
    dev.getDesc()
    dev.getDesc()
    act(mem, dev)
    for (let i = 0; i < good; i++) t.equal(vq.getBuf()!.token, 'a')
    t.throws(() => vq.getBuf(), { name: 'RingError', code: 'ERR_RING_USED' }, name)
    t.equal(vq.broken, true)
    t.throws(() => { vq.add([{ addr: 1, len: 1 }], [], 'c') }, { code: 'ERR_RING_BROKEN' })
    t.throws(() => vq.getBuf(), { code: 'ERR_RING_BROKEN' })
  }
})

t.test('more than 65535 adds between kicks always kick', async (t) => {
  const { vq, dev } = pair(EVENT_IDX, 1)
  for (let i = 0; i < 0x10000; i++) {
    vq.add([{ addr: 1, len: 1 }], [], 'x')
    dev.complete(dev.getDesc()!.head, 0)
    vq.getBuf()
  }
  t.equal(vq.kickPrepare(), true, 'new == old after 65536 adds, yet the device must hear of them')
})

t.test('detachUnused takes back every outstanding buffer', async (t) => {
  const tables = new TableAllocator(0x20000)
  const { mem, vq } = pair(INDIRECT, 8, tables)
  vq.add([{ addr: 1, len: 1 }], [], 'a')
  vq.add([{ addr: 1, len: 1 }, { addr: 2, len: 1 }], [], 'b')
  vq.add([{ addr: 1, len: 1 }], [], 'c')
  t.same(vq.detachUnused(), ['a', 'b', 'c'])
  t.same([vq.numFree, vq.inFlight, mem.read16(130), tables.live.size], [8, 0, 0, 0])
})

for (const [name, featureSet] of [['plain', 0n], ['EVENT_IDX', EVENT_IDX], ['INDIRECT', INDIRECT], ['EVENT_IDX + INDIRECT', EVENT_IDX | INDIRECT]] as const) {
  t.test(`10,000 random buffers round trip with contents (${name})`, async (t) => {
    const r = roundTrips(featureSet, 10_000, 0x5eed + Number(featureSet >> 20n))
    t.equal(r.verified, 10_000)
    t.same(r.problems, [], 'contents, tokens, lengths, no lost kick or interrupt')
    t.same([r.vq.numFree, r.vq.inFlight, r.tablesLive], [r.vq.num, 0, 0], 'everything back')
    t.equal(r.vq.counters.added, r.vq.counters.used)
    if ((featureSet & INDIRECT) !== 0n) t.ok(r.vq.counters.indirect > 1000, `${r.vq.counters.indirect} indirect`)
    t.ok(r.vq.counters.full > 0, `${r.vq.counters.full} full rings seen`)
    t.ok(r.vq.counters.kicksSuppressed > 100 && r.vq.counters.kicks > 100, `${r.vq.counters.kicks} kicks, ${r.vq.counters.kicksSuppressed} suppressed`)
    t.ok(r.dev.counters.notifiesSuppressed > 100 && r.dev.counters.notifies > 100, `${r.dev.counters.notifies} interrupts, ${r.dev.counters.notifiesSuppressed} suppressed`)
  })
}
