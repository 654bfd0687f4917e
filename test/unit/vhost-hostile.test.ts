// Vringh against rings a hostile driver wrote by hand: every broken rule
// ends in a RingError with its own code, never another exception and never
// a hang, and the Vringh stays usable and inspectable. Ring: num 8 at 0
// (desc 0, avail 128, used 4096; virtio_ring.h with align 4096).

import t from 'tap'
import { Region } from '../../daemon/src/mem/region.js'
import { Vringh, type AccessCheck } from '../../daemon/src/vhost/vringh.js'
import { RingError } from '../../daemon/src/uapi/ring-error.js'
import { mulberry32 } from '../support/loop-link.js'

const NUM = 8
const AVAIL = 128
const USED = 4096
const TABLE = 0x2000
const NEXT = 1
const WRITE = 2
const INDIRECT = 4
const F_INDIRECT = 1n << 28n

function setup (features = 0n, canAccess?: AccessCheck): { mem: Region, dev: Vringh } {
  const mem = new Region(1, 'mem', 0x10000)
  const opts = canAccess === undefined ? { features } : { features, canAccess }
  return { mem, dev: new Vringh(mem, { num: NUM, desc: 0, avail: AVAIL, used: USED }, opts) }
}

/** struct vring_desc i of the table at `table`. */
function desc (mem: Region, table: number, i: number, addr: number, len: number, flags: number, next = 0): void {
  const at = table + 16 * i
  mem.write32(at, addr % 2 ** 32)
  mem.write32(at + 4, Math.floor(addr / 2 ** 32))
  mem.write32(at + 8, len)
  mem.write16(at + 12, flags)
  mem.write16(at + 14, next)
}

/** avail->ring[idx % num] = head, then avail->idx++. */
function publish (mem: Region, head: number): void {
  const idx = mem.read16(AVAIL + 2)
  mem.write16(AVAIL + 4 + 2 * (idx % NUM), head)
  mem.write16(AVAIL + 2, (idx + 1) & 0xffff)
}

type Case = [name: string, code: string, build: (mem: Region) => void, features?: bigint, canAccess?: AccessCheck]

const cases: Case[] = [
  ['a two-descriptor loop', 'ERR_RING_LOOP', (m) => { desc(m, 0, 0, 0x3000, 1, NEXT, 1); desc(m, 0, 1, 0x3000, 1, NEXT, 0); publish(m, 0) }],
  ['a descriptor that chains to itself', 'ERR_RING_LOOP', (m) => { desc(m, 0, 3, 0x3000, 1, NEXT, 3); publish(m, 3) }],
  ['a loop inside an indirect table', 'ERR_RING_LOOP', (m) => {
    for (let i = 0; i < 4; i++) desc(m, TABLE, i, 0x3000, 1, NEXT, (i + 1) % 4)
    desc(m, 0, 0, TABLE, 64, INDIRECT)
    publish(m, 0)
  }, F_INDIRECT],
  ['a head equal to num', 'ERR_RING_INDEX', (m) => { publish(m, NUM) }],
  ['a head of 0xffff', 'ERR_RING_INDEX', (m) => { publish(m, 0xffff) }],
  ['a next beyond the ring', 'ERR_RING_INDEX', (m) => { desc(m, 0, 0, 0x3000, 1, NEXT, 9); publish(m, 0) }],
  ['a next beyond the indirect table', 'ERR_RING_INDEX', (m) => {
    desc(m, TABLE, 0, 0x3000, 1, NEXT, 1)
    desc(m, TABLE, 1, 0x3000, 1, NEXT, 2)
    desc(m, 0, 0, TABLE, 32, INDIRECT)
    publish(m, 0)
  }, F_INDIRECT],
  ['a buffer the predicate refuses', 'ERR_RING_ADDRESS', (m) => { desc(m, 0, 0, 0x9000, 16, 0); publish(m, 0) }, 0n, (addr, len) => addr + len <= 0x8000],
  ['a writable buffer the predicate keeps read-only', 'ERR_RING_ADDRESS', (m) => { desc(m, 0, 0, 0x3000, 16, WRITE); publish(m, 0) }, 0n, (_a, _l, write) => !write],
  ['a buffer running past memory', 'ERR_RING_ADDRESS', (m) => { desc(m, 0, 0, 0xfff0, 0x11, 0); publish(m, 0) }],
  ['an address above 2^53', 'ERR_RING_ADDRESS', (m) => { desc(m, 0, 0, 0, 1, 0); m.write32(4, 0xffff_ffff); publish(m, 0) }],
  ['an indirect table past memory', 'ERR_RING_ADDRESS', (m) => { desc(m, 0, 0, 0xfff0, 32, INDIRECT); publish(m, 0) }, F_INDIRECT, () => true],
  ['an indirect table the predicate refuses', 'ERR_RING_ADDRESS', (m) => { desc(m, 0, 0, TABLE, 32, INDIRECT); publish(m, 0) }, F_INDIRECT, (addr) => addr !== TABLE],
  ['lengths adding up past 2^32 - 1', 'ERR_RING_LENGTH', (m) => {
    desc(m, 0, 0, 0x3000, 0xffff_ffff, NEXT, 1)
    desc(m, 0, 1, 0x3000, 1, WRITE)
    publish(m, 0)
  }, 0n, () => true],
  ['a readable descriptor after a writable one', 'ERR_RING_ORDER', (m) => {
    desc(m, 0, 0, 0x3000, 1, WRITE | NEXT, 1)
    desc(m, 0, 1, 0x3000, 1, 0)
    publish(m, 0)
  }],
  ['readable after writable in an indirect table', 'ERR_RING_ORDER', (m) => {
    desc(m, 0, 0, 0x3000, 1, NEXT, 1)
    desc(m, 0, 1, TABLE, 32, INDIRECT)
    desc(m, TABLE, 0, 0x3000, 1, WRITE | NEXT, 1)
    desc(m, TABLE, 1, 0x3000, 1, 0)
    publish(m, 0)
  }, F_INDIRECT],
  ['avail->idx num + 1 ahead', 'ERR_RING_AVAIL', (m) => { m.write16(AVAIL + 2, NUM + 1) }],
  ['avail->idx half the u16 space ahead', 'ERR_RING_AVAIL', (m) => { m.write16(AVAIL + 2, 0x8000) }],
  ['an indirect table inside an indirect table', 'ERR_RING_INDIRECT', (m) => {
    desc(m, TABLE, 0, TABLE + 0x100, 16, INDIRECT)
    desc(m, 0, 0, TABLE, 16, INDIRECT)
    publish(m, 0)
  }, F_INDIRECT],
  ['an indirect descriptor without the feature', 'ERR_RING_INDIRECT', (m) => { desc(m, 0, 0, TABLE, 16, INDIRECT); publish(m, 0) }],
  ['an indirect table of 0 bytes', 'ERR_RING_INDIRECT', (m) => { desc(m, 0, 0, TABLE, 0, INDIRECT); publish(m, 0) }, F_INDIRECT],
  ['an indirect table of 24 bytes', 'ERR_RING_INDIRECT', (m) => { desc(m, 0, 0, TABLE, 24, INDIRECT); publish(m, 0) }, F_INDIRECT],
  ['an indirect table of 65537 entries', 'ERR_RING_INDIRECT', (m) => { desc(m, 0, 0, 0, 16 * 65537, INDIRECT); publish(m, 0) }, F_INDIRECT, () => true],
  ['an indirect descriptor with NEXT', 'ERR_RING_INDIRECT', (m) => {
    desc(m, TABLE, 0, 0x3000, 1, 0)
    desc(m, 0, 0, TABLE, 16, INDIRECT | NEXT, 1)
    publish(m, 0)
  }, F_INDIRECT]
]

for (const [name, code, build, features, canAccess] of cases) {
  t.test(`${name}: ${code}`, async (t) => {
    const { mem, dev } = setup(features, canAccess)
    build(mem)
    let thrown: unknown
    try { dev.getDesc() } catch (err) { thrown = err }
    t.ok(thrown instanceof RingError, `a RingError, not ${String(thrown)}`)
    t.equal((thrown as RingError).code, code)
    t.equal(dev.lastError, thrown, 'kept for inspection')
    t.equal(dev.counters.errors, 1)
    t.equal(dev.counters.descs, 0)
    if (code === 'ERR_RING_AVAIL') {
      t.equal(dev.lastAvailIdx, 0, 'nothing consumed')
      t.throws(() => dev.getDesc(), { code }, 'still refused')
      mem.write16(AVAIL + 2, 0)
    } else {
      t.equal(dev.lastAvailIdx, 1, 'the bad entry is consumed, as __vringh_get_head does')
    }
    desc(mem, 0, 5, 0x3000, 4, 0)
    publish(mem, 5)
    t.same(dev.getDesc(), { head: 5, readable: [{ addr: 0x3000, len: 4 }], writable: [], readableBytes: 4, writableBytes: 0 }, 'the next good buffer goes through')
    dev.complete(5, 0)
    t.equal(mem.read16(USED + 2), 1)
  })
}

t.test('the limits themselves are accepted', async (t) => {
  const { mem, dev } = setup(F_INDIRECT, () => true)
  desc(mem, 0, 0, 0x3000, 0xffff_ffff, 0)
  publish(mem, 0)
  t.equal(dev.getDesc()!.readableBytes, 0xffff_ffff, 'a chain of exactly 2^32 - 1 bytes')
  for (let i = 0; i < NUM; i++) desc(mem, 0, i, 0x3000, 1, i < NUM - 1 ? NEXT : WRITE, i + 1)
  publish(mem, 0)
  t.equal(dev.getDesc()!.readable.length, NUM - 1, 'a chain of num descriptors')
  desc(mem, 0, 1, 0x3000, 2, NEXT, 2)
  desc(mem, 0, 2, TABLE, 32, INDIRECT)
  desc(mem, TABLE, 0, 0x3000, 3, NEXT, 1)
  desc(mem, TABLE, 1, 0x4000, 4, WRITE)
  publish(mem, 1)
  t.same(dev.getDesc(), { head: 1, readable: [{ addr: 0x3000, len: 2 }, { addr: 0x3000, len: 3 }], writable: [{ addr: 0x4000, len: 4 }], readableBytes: 5, writableBytes: 4 },
    'normal descriptors followed by one indirect (virtio 1.x 2.7.5.3.2)')
  mem.write16(AVAIL + 2, (dev.lastAvailIdx + NUM) & 0xffff)
  t.not(dev.getDesc(), null, 'avail->idx exactly num ahead')
})

t.test('rings that cannot be set up', async (t) => {
  const mem = new Region(1, 'mem', 0x10000)
  for (const num of [0, 3, 12, 65536, 65535, -8, 2.5, NaN]) {
    t.throws(() => new Vringh(mem, { num, desc: 0, avail: 128, used: 4096 }), { name: 'RingError', code: 'ERR_RING_SIZE' }, `num ${num}`)
  }
  const parts: Array<[string, number, number, number]> = [
    ['desc past memory', 0xfff0, 128, 4096], ['desc misaligned', 8, 256, 4096], ['avail misaligned', 0, 129, 4096],
    ['used misaligned', 0, 128, 4098], ['used past memory', 0, 128, 0xffc0], ['negative', -16, 128, 4096]
  ]
  for (const [name, d, a, u] of parts) {
    t.throws(() => new Vringh(mem, { num: NUM, desc: d, avail: a, used: u }), { name: 'RingError', code: 'ERR_RING_ADDRESS' }, name)
  }
})

t.test('complete() refuses what no used ring can hold', async (t) => {
  const { mem, dev } = setup()
  t.throws(() => { dev.complete(NUM, 0) }, { code: 'ERR_RING_INDEX' })
  t.throws(() => { dev.complete(0, 2 ** 32) }, { code: 'ERR_RING_LENGTH' })
  t.equal(mem.read16(USED + 2), 0)
})

t.test('random rings: only RingErrors, always bounded', async (t) => {
  const rand = mulberry32(0xbad)
  const int = (n: number): number => Math.floor(rand() * n)
  const seen = new Map<string, number>()
  let found = 0
  const others: string[] = []
  const configs: Array<[bigint, AccessCheck | undefined]> = [[0n, undefined], [F_INDIRECT, undefined], [F_INDIRECT, () => true]]
  for (const [features, canAccess] of configs) {
    const { mem, dev } = setup(features, canAccess)
    for (let round = 0; round < 3000; round++) {
      for (const table of [0, TABLE]) {
        for (let i = 0; i < NUM; i++) {
          const flags = int(8)
          const addr = rand() < 0.3 ? TABLE : rand() < 0.1 ? 2 ** 40 : int(0x11000)
          desc(mem, table, i, addr, rand() < 0.1 ? 0xffff_ffff - int(2) : 16 * int(12) + int(2), flags, int(NUM + 2))
        }
      }
      for (let i = 0; i < NUM; i++) mem.write16(AVAIL + 4 + 2 * i, int(NUM + 1))
      mem.write16(AVAIL + 2, (dev.lastAvailIdx + int(NUM + 3)) & 0xffff)
      for (let k = 0; k < 3; k++) {
        try {
          if (dev.getDesc() !== null) found++
        } catch (err) {
          if (err instanceof RingError) seen.set(err.code, (seen.get(err.code) ?? 0) + 1)
          else others.push(String(err))
        }
      }
    }
  }
  t.same(others, [], 'no exception but RingError')
  t.ok(found > 100, `${found} well-formed buffers among them`)
  t.same([...seen.keys()].sort(), ['ERR_RING_ADDRESS', 'ERR_RING_AVAIL', 'ERR_RING_INDEX', 'ERR_RING_INDIRECT', 'ERR_RING_LENGTH', 'ERR_RING_LOOP', 'ERR_RING_ORDER'],
    JSON.stringify(Object.fromEntries(seen)))
})
