// VringhPacked against packed rings a hostile driver wrote by hand: every
// broken rule ends in a RingError with its own code, never another exception
// and never a hang, and the device goes on with the next good buffer wherever
// the ring still says where that is. Ring num 8 at 0: desc 0..127, driver
// area 128, device area 132 (virtio 1.1 2.7.10.1). Flags from the spec:
// NEXT 1, WRITE 2, INDIRECT 4, AVAIL 1 << 7, USED 1 << 15.

import t from 'tap'
import { Region } from '../../daemon/src/mem/region.js'
import { VringhPacked, type AccessCheck } from '../../daemon/src/vhost/vringh-packed.js'
import { RingError } from '../../daemon/src/uapi/ring-error.js'
import { mulberry32 } from '../support/loop-link.js'

const NUM = 8
const RING = { num: NUM, desc: 0, driver: 128, device: 132 }
const TABLE = 0x2000
const NEXT = 1
const WRITE = 2
const INDIRECT = 4
const AVAIL = 0x80
const F_INDIRECT = 1n << 28n

function setup (features = 0n, canAccess?: AccessCheck): { mem: Region, dev: VringhPacked } {
  const mem = new Region(1, 'mem', 0x10000)
  const opts = canAccess === undefined ? { features } : { features, canAccess }
  return { mem, dev: new VringhPacked(mem, RING, opts) }
}

/** struct vring_packed_desc i of the table at `table`, flags as given. */
function desc (mem: Region, table: number, i: number, addr: number, len: number, flags: number, id = 0): void {
  const at = table + 16 * i
  mem.write32(at, addr % 2 ** 32)
  mem.write32(at + 4, Math.floor(addr / 2 ** 32))
  mem.write32(at + 8, len)
  mem.write16(at + 12, id)
  mem.write16(at + 14, flags)
}

/** Ring slot i made available in the first lap (AVAIL 1, USED 0). */
const avail = (mem: Region, i: number, addr: number, len: number, flags: number, id = 0): void => { desc(mem, 0, i, addr, len, flags | AVAIL, id) }

type Case = [name: string, code: string, descs: number, build: (mem: Region) => void, features?: bigint, canAccess?: AccessCheck]

// descs: the slots the bad list takes, consumed so the next buffer starts after them; 0: nothing can be consumed.
const cases: Case[] = [
  ['every slot chained to the next: a list longer than the ring', 'ERR_RING_LOOP', 0, (m) => { for (let i = 0; i < NUM; i++) avail(m, i, 0x3000, 1, NEXT) }],
  ['a readable descriptor after a writable one', 'ERR_RING_ORDER', 2, (m) => { avail(m, 1, 0x3000, 1, 0); avail(m, 0, 0x3000, 1, WRITE | NEXT) }],
  ['readable after writable in an indirect table', 'ERR_RING_ORDER', 1, (m) => {
    desc(m, TABLE, 0, 0x3000, 1, WRITE)
    desc(m, TABLE, 1, 0x3000, 1, 0)
    avail(m, 0, TABLE, 32, INDIRECT)
  }, F_INDIRECT],
  ['lengths adding up past 2^32 - 1', 'ERR_RING_LENGTH', 2, (m) => { avail(m, 1, 0x3000, 1, WRITE); avail(m, 0, 0x3000, 0xffff_ffff, NEXT) }, 0n, () => true],
  ['lengths past 2^32 - 1 in an indirect table', 'ERR_RING_LENGTH', 1, (m) => {
    desc(m, TABLE, 0, 0x3000, 0x8000_0000, 0)
    desc(m, TABLE, 1, 0x3000, 0x8000_0000, WRITE)
    avail(m, 0, TABLE, 32, INDIRECT)
  }, F_INDIRECT, () => true],
  ['a buffer the predicate refuses', 'ERR_RING_ADDRESS', 1, (m) => { avail(m, 0, 0x3000, 16, WRITE) }, 0n, (addr, _len, write) => !(write && addr === 0x3000)],
  ['a buffer past memory', 'ERR_RING_ADDRESS', 1, (m) => { avail(m, 0, 0xfff0, 0x20, 0) }],
  ['an address above 2^53', 'ERR_RING_ADDRESS', 1, (m) => { avail(m, 0, 2 ** 60, 1, 0) }, 0n, () => true],
  ['an indirect table the predicate refuses', 'ERR_RING_ADDRESS', 1, (m) => { avail(m, 0, TABLE, 32, INDIRECT) }, F_INDIRECT, (addr) => addr !== TABLE],
  ['an indirect table past memory', 'ERR_RING_ADDRESS', 1, (m) => { avail(m, 0, 0xfff0, 32, INDIRECT) }, F_INDIRECT, () => true],
  ['an indirect table of 24 bytes (not a multiple of 16)', 'ERR_RING_INDIRECT', 1, (m) => { avail(m, 0, TABLE, 24, INDIRECT) }, F_INDIRECT],
  ['an indirect table of 0 bytes', 'ERR_RING_INDIRECT', 1, (m) => { avail(m, 0, TABLE, 0, INDIRECT) }, F_INDIRECT],
  ['an indirect table longer than the ring', 'ERR_RING_INDIRECT', 1, (m) => { avail(m, 0, TABLE, 16 * (NUM + 1), INDIRECT) }, F_INDIRECT],
  ['an indirect table inside an indirect table', 'ERR_RING_INDIRECT', 1, (m) => {
    desc(m, TABLE, 0, TABLE + 0x100, 16, INDIRECT)
    avail(m, 0, TABLE, 16, INDIRECT)
  }, F_INDIRECT],
  ['an indirect descriptor without the feature', 'ERR_RING_INDIRECT', 1, (m) => { avail(m, 0, TABLE, 16, INDIRECT) }],
  ['an indirect descriptor in a list linked by NEXT', 'ERR_RING_INDIRECT', 2, (m) => {
    desc(m, TABLE, 0, 0x3000, 1, 0)
    avail(m, 1, TABLE, 16, INDIRECT)
    avail(m, 0, 0x3000, 1, NEXT)
  }, F_INDIRECT],
  ['an indirect descriptor with NEXT', 'ERR_RING_INDIRECT', 2, (m) => {
    desc(m, TABLE, 0, 0x3000, 1, 0)
    avail(m, 1, 0x3000, 1, 0)
    avail(m, 0, TABLE, 16, INDIRECT | NEXT)
  }, F_INDIRECT]
]

for (const [name, code, descs, build, features, canAccess] of cases) {
  t.test(`${name}: ${code}`, async (t) => {
    const { mem, dev } = setup(features, canAccess)
    build(mem)
    let thrown: unknown
    try { dev.getDesc() } catch (err) { thrown = err }
    t.ok(thrown instanceof RingError, `a RingError, not ${String(thrown)}`)
    t.equal((thrown as RingError).code, code)
    t.equal(dev.lastError, thrown, 'kept for inspection')
    t.same([dev.counters.errors, dev.counters.descs], [1, 0])
    t.equal(dev.lastAvail, descs, descs === 0 ? 'nothing consumed' : `the ${descs} slots of the bad list are consumed`)
    if (descs === 0) {
      t.throws(() => dev.getDesc(), { code }, 'still refused')
      avail(mem, 2, 0x3000, 1, 0)
      t.equal(dev.getDesc()!.descs, 3, 'once the driver ends the list, it goes through')
      return
    }
    avail(mem, descs, 0x3000, 4, 0, 5)
    t.same(dev.getDesc(), { id: 5, head: descs, descs: 1, readable: [{ addr: 0x3000, len: 4 }], writable: [], readableBytes: 4, writableBytes: 0 },
      'the next good buffer goes through')
    dev.complete(5, 0)
    t.same([mem.read16(12), mem.read16(14)], [5, 0x8080], 'used in slot 0, lap 1')
  })
}

t.test('a list that would overrun slots the device holds: ERR_RING_AVAIL', async (t) => {
  const { mem, dev } = setup()
  for (let i = 0; i < NUM; i++) avail(mem, i, 0x3000, 1, 0, i)
  for (let i = 0; i < NUM; i++) dev.getDesc()
  t.same([dev.held, dev.lastAvail, dev.availWrap], [NUM, 0, 0])
  desc(mem, 0, 0, 0x3000, 1, 0x8000, 9) // slot 0 available in lap 0, while the device still holds it
  t.throws(() => dev.getDesc(), { name: 'RingError', code: 'ERR_RING_AVAIL' })
  t.same([dev.lastAvail, dev.held], [0, NUM], 'nothing consumed')
  dev.complete(3, 0)
  t.same([mem.read16(12), mem.read16(14)], [3, 0x8080], 'the device uses slot 0 over it')
  desc(mem, 0, 0, 0x3000, 1, 0x8000, 9)
  t.equal(dev.getDesc()!.id, 9, 'now the driver may make it available again, and it goes through')
})

t.test('the limits themselves are accepted', async (t) => {
  const { mem, dev } = setup(F_INDIRECT, () => true)
  avail(mem, 0, 0x3000, 0xffff_ffff, 0)
  t.equal(dev.getDesc()!.readableBytes, 0xffff_ffff, 'a list of exactly 2^32 - 1 bytes')
  dev.complete(0, 0)
  for (let i = 1; i < NUM; i++) avail(mem, i, 0x3000, 1, NEXT)
  desc(mem, 0, 0, 0x3000, 1, 0x8000 | WRITE, 7) // slot 0 of lap 0 closes a list of 8
  const d = dev.getDesc()!
  t.same([d.id, d.head, d.descs, d.readable.length, d.writable.length], [7, 1, NUM, NUM - 1, 1], 'a list of num slots, wrapping, id from its last descriptor')
  t.same([dev.lastAvail, dev.availWrap], [1, 0])
  dev.complete(7, 0)
  for (let i = 0; i < NUM; i++) desc(mem, TABLE, i, 0x3000 + i, 1, i < 3 ? NEXT : WRITE) // NEXT in a table is ignored
  desc(mem, 0, 1, TABLE, 16 * NUM, 0x8000 | INDIRECT | WRITE, 4) // WRITE on an indirect descriptor is ignored
  const i = dev.getDesc()!
  t.same([i.id, i.descs, i.readable.length, i.writable.length], [4, 1, 3, 5], 'an indirect table of num entries')
})

t.test('complete() refuses what it cannot write; duplicate ids are the driver\'s affair', async (t) => {
  const { mem, dev } = setup()
  avail(mem, 0, 0x3000, 1, 0, 3)
  avail(mem, 1, 0x3000, 1, NEXT, 3)
  avail(mem, 2, 0x3000, 1, 0, 3)
  t.same([dev.getDesc()!.descs, dev.getDesc()!.descs], [1, 2], 'id 3 twice: both read')
  t.throws(() => { dev.complete(4, 0) }, { code: 'ERR_RING_ID' }, 'an id never read')
  t.throws(() => { dev.complete(0x10000, 0) }, { code: 'ERR_RING_INDEX' })
  t.throws(() => { dev.complete(3, 2 ** 32) }, { code: 'ERR_RING_LENGTH' })
  t.equal(mem.read16(14), AVAIL, 'nothing written')
  dev.complete(3, 0)
  dev.complete(3, 0)
  t.same([dev.nextUsed, dev.held], [3, 0], 'skipped 1, then 2')
  t.throws(() => { dev.complete(3, 0) }, { code: 'ERR_RING_ID' }, 'a third time')
})

t.test('rings that cannot be set up', async (t) => {
  const mem = new Region(1, 'mem', 0x10000)
  for (const num of [0, 32769, 65536, -8, 2.5, NaN]) {
    t.throws(() => new VringhPacked(mem, { ...RING, num }), { name: 'RingError', code: 'ERR_RING_SIZE' }, `num ${num}`)
  }
  t.doesNotThrow(() => new VringhPacked(mem, { ...RING, num: 5 }), 'num 5 is fine')
  const parts: Array<[string, number, number, number]> = [
    ['desc misaligned', 8, 256, 260], ['driver area misaligned', 0, 130, 260], ['device area misaligned', 0, 128, 134],
    ['desc past memory', 0xffc0, 0, 4], ['device area past memory', 0, 128, 0x10000], ['negative', -16, 128, 132]
  ]
  for (const [name, d, dr, dv] of parts) {
    t.throws(() => new VringhPacked(mem, { num: NUM, desc: d, driver: dr, device: dv }), { name: 'RingError', code: 'ERR_RING_ADDRESS' }, name)
  }
})

t.test('random rings: only RingErrors, always bounded', async (t) => {
  const rand = mulberry32(0xbad)
  const int = (n: number): number => Math.floor(rand() * n)
  const seen = new Map<string, number>()
  let found = 0
  const others: string[] = []
  for (const [features, canAccess] of [[0n, undefined], [F_INDIRECT, undefined], [F_INDIRECT, () => true]] as const) {
    const { mem } = setup()
    for (let round = 0; round < 3000; round++) {
      const dev = new VringhPacked(mem, RING, canAccess === undefined ? { features } : { features, canAccess })
      for (const table of [0, TABLE]) {
        for (let i = 0; i < NUM; i++) {
          const addr = rand() < 0.3 ? TABLE : rand() < 0.1 ? 2 ** 40 : int(0x11000)
          const len = rand() < 0.1 ? 0xffff_ffff - int(2) : 16 * int(12) + int(2)
          desc(mem, table, i, addr, len, (rand() < 0.7 ? AVAIL : int(2) * 0x8080) | int(8), int(NUM + 2))
        }
      }
      for (let k = 0; k < 4; k++) {
        try {
          const d = dev.getDesc()
          if (d !== null) { found++; dev.complete(d.id, int(2)) }
        } catch (err) {
          if (err instanceof RingError) seen.set(err.code, (seen.get(err.code) ?? 0) + 1)
          else others.push(String(err))
        }
      }
    }
  }
  t.same(others, [], 'no exception but RingError')
  t.ok(found > 100, `${found} well-formed buffers among them`)
  t.same([...seen.keys()].sort(), ['ERR_RING_ADDRESS', 'ERR_RING_AVAIL', 'ERR_RING_INDIRECT', 'ERR_RING_LENGTH', 'ERR_RING_LOOP', 'ERR_RING_ORDER'],
    JSON.stringify(Object.fromEntries(seen)))
})
