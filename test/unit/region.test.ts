// Region (sparse little-endian bytes a daemon owns) and RegionTable.

import t from 'tap'
import { Region } from '../../daemon/src/mem/region.js'
import { RegionTable } from '../../daemon/src/mem/region-table.js'
import { PAGE_SIZE } from '../../daemon/src/mem/paged-memory.js'
import { OutOfRangeError } from '../../daemon/src/errors.js'

const OUT_OF_RANGE = { name: 'OutOfRangeError', code: 'ERR_OUT_OF_RANGE' }
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex')

t.test('PAGE_SIZE is 4 KiB', async (t) => {
  t.equal(PAGE_SIZE, 4096)
})

t.test('bounds: the last byte is in, one past it is not', async (t) => {
  const r = new Region(1, 'r', 100)
  r.write8(99, 0xab)
  t.equal(r.read8(99), 0xab)
  t.equal(r.read(96, 4)[3], 0xab)
  r.write32(96, 1)
  t.equal(r.read32(96), 1)

  const bad: Array<[string, () => unknown]> = [
    ['read8 at size', () => r.read8(100)],
    ['write8 at size', () => { r.write8(100, 1) }],
    ['read16 at size - 1', () => r.read16(99)],
    ['write32 at size - 3', () => { r.write32(97, 1) }],
    ['read64 at size - 7', () => r.read64(93)],
    ['read(0, size + 1)', () => r.read(0, 101)],
    ['write past the end', () => { r.write(98, Uint8Array.of(1, 2, 3)) }],
    ['read8 at -1', () => r.read8(-1)],
    ['write at -1', () => { r.write(-1, Uint8Array.of(1)) }],
    ['read8 at 1.5', () => r.read8(1.5)],
    ['write8 at 0.5', () => { r.write8(0.5, 1) }],
    ['read at NaN', () => r.read(NaN, 1)],
    ['read8 at Infinity', () => r.read8(Infinity)],
    ['readInto past the end', () => { r.readInto(90, new Uint8Array(11)) }]
  ]
  for (const [name, fn] of bad) t.throws(fn, OUT_OF_RANGE, name)
  t.throws(() => r.read8(100), OutOfRangeError)
})

t.test('a failing write writes nothing', async (t) => {
  const r = new Region(1, 'r', 3 * PAGE_SIZE - 2)
  r.write(0, Uint8Array.of(1, 2, 3))
  const writes = r.writes
  const seen: number[] = []
  r.observe((o) => { seen.push(o) })
  // Would span pages 1 and 2 and run 2 bytes past the end.
  t.throws(() => { r.write(2 * PAGE_SIZE - 8, new Uint8Array(PAGE_SIZE + 8).fill(0xee)) }, OUT_OF_RANGE)
  t.throws(() => { r.write64(r.size - 4, 0x0102030405) }, OUT_OF_RANGE)
  t.equal(r.populatedPages, 1, 'no page allocated')
  t.same(r.populated(), [0])
  t.equal(r.writes, writes, 'write counter unchanged')
  t.same(seen, [], 'observers not told')
  t.equal(r.read8(2 * PAGE_SIZE - 8), 0)
  t.equal(hexOf(r.read(r.size - 4, 4)), '00000000')
  t.equal(hexOf(r.read(0, 4)), '01020300')
})

t.test('values are little-endian', async (t) => {
  const r = new Region(1, 'r', 64)
  r.write32(0, 0x11223344)
  t.equal(hexOf(r.read(0, 4)), '44332211')
  r.write16(4, 0xbeef)
  t.equal(hexOf(r.read(4, 2)), 'efbe')
  r.write32(8, 0xfffffffe)
  t.equal(r.read32(8), 0xfffffffe, 'u32 reads are unsigned')
  t.equal(hexOf(r.read(8, 4)), 'feffffff')
  r.write(12, Uint8Array.of(0x78, 0x56, 0x34, 0x12))
  t.equal(r.read32(12), 0x12345678)
  t.equal(r.read16(13), 0x3456)
  t.equal(r.read8(15), 0x12)

  const v = 2 ** 40 + 5
  r.write64(16, v)
  t.equal(hexOf(r.read(16, 8)), '0500000000010000')
  t.equal(r.read64(16), v)
  r.write64(24, Number.MAX_SAFE_INTEGER)
  t.equal(hexOf(r.read(24, 8)), 'ffffffffffff1f00')
  t.equal(r.read64(24), Number.MAX_SAFE_INTEGER)
  t.throws(() => { r.write64(32, 2 ** 53) }, OUT_OF_RANGE, 'write64 of 2^53')
  t.throws(() => { r.write64(32, -1) }, OUT_OF_RANGE, 'write64 of -1')

  r.write(40, Buffer.from('0000000000002000', 'hex')) // 2^53
  t.throws(() => r.read64(40), OUT_OF_RANGE, 'read64 of 2^53')
  r.write(48, Buffer.from('ffffffffffffffff', 'hex'))
  t.throws(() => r.read64(48), OUT_OF_RANGE, 'read64 of 2^64 - 1')
})

t.test('sparse: a 1 TiB region allocates only the pages written', async (t) => {
  const r = new Region(1, 'big', 2 ** 40)
  t.equal(r.size, 2 ** 40)
  t.equal(r.populatedPages, 0)
  t.equal(r.read64(2 ** 39), 0)
  t.equal(hexOf(r.read(123_456_789, 16)), '00'.repeat(16), 'unwritten bytes read zero')
  t.equal(r.populatedPages, 0, 'reads allocate nothing')

  r.write64(2 ** 40 - 8, 0x0a0b0c0d0e)
  r.write32(2 ** 39 + 4, 0xcafef00d)
  r.write8(0, 7)
  t.equal(r.populatedPages, 3)
  t.same(r.populated(), [0, 2 ** 39 / PAGE_SIZE, 2 ** 40 / PAGE_SIZE - 1])
  t.equal(r.read64(2 ** 40 - 8), 0x0a0b0c0d0e)
  t.equal(hexOf(r.read(2 ** 40 - 8, 8)), '0e0d0c0b0a000000')
  t.equal(r.read32(2 ** 39 + 4), 0xcafef00d)
  t.equal(r.read32(2 ** 39), 0)
  t.equal(r.read8(0), 7)
  t.equal(r.read8(PAGE_SIZE), 0)
})

t.test('accesses spanning a page boundary', async (t) => {
  const r = new Region(1, 'r', 4 * PAGE_SIZE)
  r.write(4094, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))
  t.same(r.populated(), [0, 1], 'both pages allocated')
  t.equal(hexOf(r.read(4092, 12)), '000001020304050607080000')
  t.equal(r.read8(4095), 2)
  t.equal(r.read8(4096), 3)
  t.equal(r.read16(4095), 0x0302)
  t.equal(r.read32(4094), 0x04030201)
  t.throws(() => r.read64(4094), OUT_OF_RANGE, '0x0807060504030201 is above 2^53')

  r.write64(2 * PAGE_SIZE - 3, 2 ** 52 + 0x030201)
  t.equal(hexOf(r.read(2 * PAGE_SIZE - 3, 8)), '0102030000001000')
  t.equal(r.read64(2 * PAGE_SIZE - 3), 2 ** 52 + 0x030201)
  r.write32(3 * PAGE_SIZE - 1, 0xa1b2c3d4)
  t.equal(r.read8(3 * PAGE_SIZE - 1), 0xd4)
  t.equal(r.read32(3 * PAGE_SIZE - 1), 0xa1b2c3d4)
  const into = new Uint8Array(PAGE_SIZE + 10)
  r.readInto(PAGE_SIZE - 5, into)
  t.equal(hexOf(into.subarray(0, 7)), '00000001020304')
  t.equal(hexOf(into.subarray(PAGE_SIZE, PAGE_SIZE + 10)), '00000102030000001000', 'the u64 at 2 * PAGE_SIZE - 3')
  t.same(r.populated(), [0, 1, 2, 3])
})

t.test('observers see every write, in order, with its origin', async (t) => {
  const r = new Region(1, 'r', 2 * PAGE_SIZE)
  const seen: Array<[number, string, unknown]> = []
  const stop = r.observe((offset, length, origin) => { seen.push([offset, hexOf(r.read(offset, length)), origin]) })
  const port = { window: 3 }
  r.write(10, Uint8Array.of(1, 2))
  r.writeFrom(4095, Uint8Array.of(9, 8, 7), port)
  r.write32(0, 0x11223344)
  r.write8(5, 0xff)
  r.write64(16, 2 ** 40 + 5)
  t.throws(() => { r.write(2 * PAGE_SIZE - 1, Uint8Array.of(1, 2)) }, OUT_OF_RANGE)
  t.same(seen, [
    [10, '0102', null],
    [4095, '090807', port],
    [0, '44332211', null],
    [5, 'ff', null],
    [16, '0500000000010000', null]
  ])
  t.equal(seen[1]![2], port, 'the origin object itself')
  t.equal(r.writes, 5)
  stop()
  r.write8(0, 1)
  t.equal(seen.length, 5, 'no calls after unsubscribing')
})

t.test('RegionTable: ids, names, lookups, removal', async (t) => {
  const table = new RegionTable()
  const a = table.create('alpha', 4096)
  const b = table.create('beta', 2 ** 40)
  t.equal(a.id, 1)
  t.equal(b.id, 2)
  t.equal(b.size, 2 ** 40)
  t.throws(() => table.create('alpha', 10), { name: 'ConflictError', code: 'ERR_CONFLICT' }, 'names are unique')
  for (const bad of ['', '-x', 'a b', 'x/y', 'n'.repeat(65)]) {
    t.throws(() => table.create(bad, 10), { code: 'ERR_CONFLICT' }, `bad name ${JSON.stringify(bad)}`)
  }
  t.throws(() => table.create('neg', -1), OUT_OF_RANGE)
  t.throws(() => table.create('frac', 1.5), OUT_OF_RANGE)
  t.equal(table.list().length, 2, 'refused creations left nothing behind')

  t.equal(table.find(1), a)
  t.equal(table.find('alpha'), a)
  t.equal(table.find('2'), b, 'a digit string is an id')
  t.equal(table.find(3), undefined)
  t.equal(table.find('gamma'), undefined)
  t.equal(table.get('beta'), b)
  t.throws(() => table.get('gamma'), { name: 'NotFoundError', code: 'ERR_NOT_FOUND' })
  t.same(table.list().map((r) => r.name), ['alpha', 'beta'])

  const removed: string[] = []
  table.onRemoved((r) => { removed.push(r.name) })
  t.equal(table.remove('1'), a)
  t.same(removed, ['alpha'])
  t.equal(table.find('alpha'), undefined)
  t.equal(table.find(1), undefined)
  t.throws(() => table.remove('alpha'), { code: 'ERR_NOT_FOUND' })
  const again = table.create('alpha', 16)
  t.equal(again.id, 3, 'ids are never reused')
  t.same(table.list().map((r) => [r.id, r.name]), [[2, 'beta'], [3, 'alpha']])
})

t.test('afterReports: inside an observer, runs once the write that caused it has been reported to every observer', async (t) => {
  const r = new Region(1, 'regs', 64)
  const seen: string[] = []
  r.observe((offset) => {
    seen.push(`a:${offset}`)
    if (offset === 0) {
      r.write8(8, 1) // a side effect: reported after this write
      r.afterReports(() => { seen.push('irq') })
    }
  })
  r.observe((offset) => { seen.push(`b:${offset}`) })
  r.write8(0, 1)
  t.same(seen, ['a:0', 'b:0', 'a:8', 'b:8', 'irq'], 'the interrupt comes after the side effect reached every observer')
  const now: string[] = []
  r.afterReports(() => { now.push('now') })
  t.same(now, ['now'], 'outside an observer it runs at once')
})
