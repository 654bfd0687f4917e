// The NTB host driver (ntb_hw_epf.c's model) against a board-side register
// model (test/support/ntb-board-model.ts) on in-memory nodes: the host's
// root complex enumerates the function, and every register access goes over
// the BAR windows as it would between daemons. Numbers are the fact sheet's:
// struct epf_ntb_ctrl offsets, commands 1..6, doorbell slot n at
// DB_ENTRY_SIZE * n + DB_OFFSET(n), MW1 at MW1_OFFSET in BAR2.

import t, { type Test } from 'tap'
import { once } from 'node:events'
import { settle } from '../support/loop-link.js'
import { ntbHost, MSI_DATA, type NtbBoardOptions, type NtbHostBench } from '../support/ntb-board-model.js'
import { NtbHwEpf, matchesNtbEpf } from '../../daemon/src/hw/ntb/ntb-hw-epf.js'
import { NtbCommandTimeoutError } from '../../daemon/src/hw/ntb/ntb-command.js'
import { OffsetView } from '../../daemon/src/mem/offset-view.js'
import * as R from '../../daemon/src/hw/ntb/epf-ntb-regs.js'

interface Bench extends NtbHostBench { dev: NtbHwEpf, writes: Array<[offset: number, value: number]> }

/** A host with the function enumerated, the driver made (not initialised), and the host's writes to BAR0 logged. */
async function bench (t: Test, options: NtbBoardOptions = {}, commandTimeoutMs?: number): Promise<Bench> {
  const h = await ntbHost(t, options)
  const dev = new NtbHwEpf({ fn: h.fn, rc: h.root, commandTimeoutMs })
  t.teardown(() => { dev.dispose() })
  const writes: Array<[number, number]> = []
  h.board.bar0.observe((offset, length, origin) => {
    if (origin === null) return
    writes.push([offset, length === 2 ? h.board.bar0.read16(offset) : h.board.bar0.read32(offset)])
  })
  return { ...h, dev, writes }
}

async function ready (t: Test, options: NtbBoardOptions = {}): Promise<Bench> {
  const b = await bench(t, options)
  await b.dev.init()
  await settle(b.ends)
  b.writes.length = 0
  b.board.commands.length = 0
  return b
}

const events = (dev: NtbHwEpf): { link: number, db: number[] } => {
  const seen = { link: 0, db: [] as number[] }
  dev.on('link', () => { seen.link++ })
  dev.on('db', (v) => { seen.db.push(v) })
  return seen
}

t.test('the driver binds TI J721E ids or class memory/RAM, not other functions', async (t) => {
  const h = await ntbHost(t)
  t.ok(matchesNtbEpf(h.fn), 'the model\'s function (0x104c:0xb00d, class 0x0500)')
  t.ok(matchesNtbEpf({ ...h.fn, header: { ...h.fn.header, classCode: 0xff0000 } }), 'the RFC table: ids alone')
  t.ok(matchesNtbEpf({ ...h.fn, header: { ...h.fn.header, vendorId: 0x1957, deviceId: 0x0809 } }), 'mainline: class memory/RAM')
  t.notOk(matchesNtbEpf({ ...h.fn, header: { ...h.fn.header, deviceId: 0xb500, classCode: 0xff0000 } }), 'pci-epf-vhost\'s function')
  t.notOk(matchesNtbEpf({ ...h.fn, header: { ...h.fn.header, deviceId: 0xb500, classCode: 0x058000 } }), 'memory class, other subclass')
})

t.test('init reads the layout and configures 32 vectors: ARGUMENT, COMMAND, then CMD_STATUS back to 0', async (t) => {
  const b = await bench(t)
  t.throws(() => b.dev.mwCount(), { code: 'ERR_UNAVAILABLE' }, 'nothing is known before init')
  await b.dev.init()
  await settle(b.ends)
  t.same(b.writes, [[R.ARGUMENT, 32], [R.COMMAND, R.CMD_CONFIGURE_DOORBELL], [R.CMD_STATUS, 0]], 'the kernel\'s sequence, MSI (no MSIX_ENABLE)')
  t.same(b.board.commands.map((c) => [c.cmd, c.arg]), [[R.CMD_CONFIGURE_DOORBELL, 32]])
  t.equal(b.board.bar0.read16(R.CMD_STATUS), 0, 'CMD_STATUS cleared on the board')
  t.equal(b.board.bar0.read32(R.COMMAND), 0, 'the board zeroed COMMAND')
  t.equal(b.dev.mwCount(), 2)
  t.equal(b.dev.peerMwCount(), 2)
  t.equal(b.dev.spadCount(), 128)
  t.equal(b.dev.dbVectorCount(), 31, 'db_count = vectors - 1')
  t.equal(b.dev.dbValidMask(), 0x7fff_ffff)
  t.equal(b.dev.dbVectorMask(30), 2 ** 30)
  t.equal(b.dev.dbVectorMask(31), 0, 'no vector 31')
  t.match(b.dev.state(), { ready: true, vectors: 32, dbCount: 31, mwCount: 2, spadCount: 128, link: false })
  t.equal(b.dev.counters.sent, 1)
  await t.rejects(b.dev.init(), { code: 'ERR_CONFLICT' }, 'init once')
})

t.test('a refused CONFIGURE_DOORBELL is retried with half the vectors, down to 4', async (t) => {
  const eight = await bench(t, { maxVectors: 8 })
  await eight.dev.init()
  t.same(eight.board.commands.map((c) => c.arg), [32, 16, 8])
  t.equal(eight.dev.dbValidMask(), 0x7f)
  t.equal(eight.dev.counters.refused, 2)

  const four = await bench(t, { maxVectors: 4 })
  await four.dev.init()
  t.equal(four.dev.dbVectorCount(), 3, '4 vectors give db_count 3')
  t.equal(four.dev.dbValidMask(), 0x7, 'and mask 0x7')

  const two = await bench(t, { maxVectors: 2 })
  await t.rejects(two.dev.init(), { code: 'ERR_COMMAND', message: /from 32 down to 4/ })
  t.same(two.board.commands.map((c) => c.arg), [32, 16, 8, 4], 'never below NTB_EPF_MIN_DB_COUNT + 1')
  t.equal(two.dev.ready, false)
})

t.test('a board that never answers: the command times out with its own error, and CMD_STATUS is written 0', async (t) => {
  const b = await bench(t, { answers: false }, 50)
  const err = await b.dev.init().then(() => null, (e: unknown) => e)
  t.ok(err instanceof NtbCommandTimeoutError, 'NtbCommandTimeoutError')
  t.match(err, { code: 'ERR_TIMEOUT', command: R.CMD_CONFIGURE_DOORBELL, message: /CONFIGURE_DOORBELL\(32\): no answer/ })
  await settle(b.ends)
  t.same(b.writes, [[R.ARGUMENT, 32], [R.COMMAND, 1], [R.CMD_STATUS, 0]])
  t.equal(b.dev.counters.timedOut, 1)
  // The queue is not stuck behind the lost command.
  await t.rejects(b.dev.linkEnable(), { code: 'ERR_TIMEOUT', message: /LINK_UP\(0\)/ })
  t.equal(b.board.commands.length, 2, 'the next command went out')
})

t.test('commands run one at a time, in the order asked, each with its own registers', async (t) => {
  const b = await ready(t)
  await Promise.all([b.dev.linkEnable(), b.dev.mwSetTrans(1, 0x1_2345_6000, 0x8000), b.dev.linkDisable()])
  await settle(b.ends)
  t.same(b.board.commands, [
    { cmd: R.CMD_LINK_UP, arg: 0, addr: 0, size: 0 },
    { cmd: R.CMD_CONFIGURE_MW, arg: 1, addr: 0x1_2345_6000, size: 0x8000 },
    { cmd: R.CMD_LINK_DOWN, arg: 0, addr: 0x1_2345_6000, size: 0x8000 }
  ])
  t.same(b.writes, [
    [R.ARGUMENT, 0], [R.COMMAND, R.CMD_LINK_UP], [R.CMD_STATUS, 0],
    [R.LOWER_ADDR, 0x2345_6000], [R.UPPER_ADDR, 1], [R.LOWER_SIZE, 0x8000], [R.UPPER_SIZE, 0],
    [R.ARGUMENT, 1], [R.COMMAND, R.CMD_CONFIGURE_MW], [R.CMD_STATUS, 0],
    [R.ARGUMENT, 0], [R.COMMAND, R.CMD_LINK_DOWN], [R.CMD_STATUS, 0]
  ], 'no command\'s writes interleave with another\'s')
})

t.test('link enable: the board raises vector 0, the host gets a link event and sees the link up', async (t) => {
  const b = await ready(t)
  const seen = events(b.dev)
  const linked = once(b.dev, 'link')
  await b.dev.linkEnable()
  await linked
  t.ok(b.dev.linkIsUp(), 'LINK_STATUS bit 0')
  t.same(b.board.commands.map((c) => [c.cmd, c.arg]), [[R.CMD_LINK_UP, 0]])
  const down = once(b.dev, 'link')
  await b.dev.linkDisable()
  await down
  t.notOk(b.dev.linkIsUp())
  t.equal(seen.link, 2)
  t.same(seen.db, [], 'vector 0 is no doorbell')
  t.equal(b.dev.counters.linkEvents, 2)
})

t.test('peer_db_set(0b101) rings slots 1 and 3 with their DB_DATA at DB_ENTRY_SIZE * n + DB_OFFSET(n)', async (t) => {
  const b = await ready(t)
  b.dev.peerDbSet(0b101)
  await settle(b.ends)
  t.same(b.board.rings, [{ offset: 256 * 1 + 0x10, data: MSI_DATA | 1 }, { offset: 256 * 3 + 0x10, data: MSI_DATA | 3 }])
  t.same(b.board.rings.map((r) => b.board.slotOf(r.offset)), [1, 3], 'bit b is slot b + 1, the peer\'s MSI b + 1')
  b.dev.peerDbSet(0)
  t.throws(() => { b.dev.peerDbSet(2 ** 31) }, { code: 'ERR_OUT_OF_RANGE' }, 'a bit outside db_valid_mask')
  await settle(b.ends)
  t.equal(b.board.rings.length, 2, 'neither rang anything')
  t.equal(b.dev.counters.peerDbRings, 2)

  const four = await ready(t, { maxVectors: 4 })
  four.dev.peerDbSet(0b100)
  t.throws(() => { four.dev.peerDbSet(0b1001) }, { code: 'ERR_OUT_OF_RANGE' }, 'refused whole: no slot rings')
  await settle(four.ends)
  t.same(four.board.rings.map((r) => four.board.slotOf(r.offset)), [3], 'BIT(db_count - 1) rings (the kernel refuses it)')
})

t.test('MSI vector 3 sets doorbell bit 2; a masked bit holds its event until unmasked', async (t) => {
  const b = await ready(t)
  const seen = events(b.dev)
  b.board.raiseMsi(3)
  await once(b.dev, 'db')
  t.same(seen.db, [2], 'db_event vector 2')
  t.equal(b.dev.dbRead(), 0b100, 'db_read is the bits')
  t.equal(b.dev.dbVectorMask(2), 0b100)
  b.dev.dbClear(0b100)
  t.equal(b.dev.dbRead(), 0)

  b.dev.dbSetMask(0b100)
  t.equal(b.dev.dbReadMask(), 0b100)
  b.board.raiseMsi(3)
  b.board.raiseMsi(1)
  await once(b.dev, 'db')
  t.same(seen.db, [2, 0], 'vector 1 came through, masked vector 3 did not')
  t.equal(b.dev.dbRead(), 0b101, 'the masked bit is set all the same')
  b.dev.dbClearMask(0b100)
  t.same(seen.db, [2, 0], 'the held event fires after the unmasking call returns')
  await once(b.dev, 'db')
  t.same(seen.db, [2, 0, 2], 'and then it fires')
  t.equal(b.dev.dbReadMask(), 0)

  b.dev.dbClear(0b101)
  b.dev.dbSetMask(0b1000)
  b.board.raiseMsi(4)
  await settle(b.ends)
  b.dev.dbClear(0b1000)
  b.dev.dbClearMask(0b1000)
  await settle(b.ends)
  t.same(seen.db, [2, 0, 2], 'a bit cleared while masked raises nothing')

  b.board.raiseMsi(32)
  await settle(b.ends)
  t.equal(b.dev.counters.spuriousMsis, 1, 'a vector this host never configured')
  t.throws(() => { b.dev.dbSetMask(2 ** 31) }, { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => { b.dev.dbClear(-1) }, { code: 'ERR_OUT_OF_RANGE' })
  t.match(b.dev.state(), { dbBits: 0, dbMask: 0, dbValidMask: 0x7fff_ffff })
})

t.test('scratchpads: own at SPAD_OFFSET + 4 * idx in BAR0, the peer\'s at 4 * idx in BAR1', async (t) => {
  const b = await ready(t)
  const spadOffset = b.board.spadOffset
  t.equal(spadOffset, 0x200, 'the model places them as pci-epf-ntb.c does for 128 scratchpads')
  b.dev.spadWrite(5, 0xdead_beef)
  b.dev.peerSpadWrite(3, 0x1234_5678)
  b.board.bar0.write32(spadOffset + 4 * 7, 0xa5a5_0007)
  b.board.peerSpad.write32(4 * 9, 0x5a5a_0009)
  await settle(b.ends)
  t.equal(b.board.bar0.read32(spadOffset + 20), 0xdead_beef, 'spad_write(5) at SPAD_OFFSET + 20')
  t.equal(b.board.peerSpad.read32(12), 0x1234_5678, 'peer_spad_write(3) at BAR1 + 12')
  t.equal(b.dev.spadRead(7), 0xa5a5_0007, 'the other host\'s peer_spad_write lands in our own spads')
  t.equal(b.dev.peerSpadRead(9), 0x5a5a_0009)
  t.equal(b.dev.spadRead(5), 0xdead_beef)
  for (const idx of [128, -1, 1.5]) {
    t.throws(() => b.dev.spadRead(idx), { code: 'ERR_OUT_OF_RANGE' }, `spad ${idx}`)
    t.throws(() => { b.dev.peerSpadWrite(idx, 1) }, { code: 'ERR_OUT_OF_RANGE' }, `peer spad ${idx}`)
  }
  t.throws(() => { b.dev.spadWrite(0, 2 ** 32) }, { code: 'ERR_OUT_OF_RANGE' }, 'a value that is no u32')
  const s = b.dev.state()
  t.equal(s.spads[7], 0xa5a5_0007)
  t.equal(s.peerSpads[3], 0x1234_5678)
})

t.test('memory windows: alignment, set and clear translation, and the peer\'s windows', async (t) => {
  const b = await ready(t)
  const bar2 = b.fn.bars.find((x) => x.index === 2)!
  const bar3 = b.fn.bars.find((x) => x.index === 3)!
  const mw1Offset = b.board.mw1Offset
  t.equal(mw1Offset, 0x1_0000)
  t.equal(bar2.size, 0x2_0000)
  t.same(b.dev.mwGetAlign(0), { addrAlign: 4096, sizeAlign: 1, sizeMax: bar2.size - mw1Offset }, 'MW1: the BAR less the doorbell slots (the kernel gives the whole BAR)')
  t.same(b.dev.mwGetAlign(1), { addrAlign: 4096, sizeAlign: 1, sizeMax: 0x1_0000 })
  t.throws(() => b.dev.mwGetAlign(2), { code: 'ERR_OUT_OF_RANGE' }, 'only MW_COUNT windows')

  await b.dev.mwSetTrans(0, 0x8_0000, 0x1_0000)
  t.same(b.board.commands, [{ cmd: R.CMD_CONFIGURE_MW, arg: 0, addr: 0x8_0000, size: 0x1_0000 }], 'ADDR, SIZE, then CONFIGURE_MW(widx)')
  await t.rejects(b.dev.mwSetTrans(0, 0x8_0800, 0x1000), { code: 'ERR_OUT_OF_RANGE' }, 'not 4 KiB aligned')
  await t.rejects(b.dev.mwSetTrans(0, 0x8_0000, 0x1_0001), { code: 'ERR_OUT_OF_RANGE' }, 'larger than size_max')
  t.equal(b.board.commands.length, 1, 'refused before any command')
  await b.dev.mwClearTrans(0)
  t.same(b.board.commands.at(-1), { cmd: R.CMD_TEARDOWN_MW, arg: 0, addr: 0x8_0000, size: 0x1_0000 })
  await b.dev.mwSetTrans(1, 0x10_0000, 0x4000)
  t.same(b.dev.state().translations, [{ widx: 1, addr: 0x10_0000, size: 0x4000 }])

  const mw0 = b.dev.peerMwGetAddr(0)
  t.equal(mw0.base, bar2.busAddress + mw1Offset, 'MW1 is BAR2 + MW1_OFFSET')
  t.equal(mw0.size, 0x1_0000)
  const mw1 = b.dev.peerMwGetAddr(1)
  t.equal(mw1.base, bar3.busAddress, 'MW2 is BAR3')
  t.equal(mw1.size, 0x1_0000)
  mw0.memory.write32(0x40, 0xc0ffee)
  mw1.memory.write32(0x80, 0xbeef)
  await settle(b.ends)
  t.equal(b.board.dbMw1.read32(mw1Offset + 0x40), 0xc0ffee, 'a write to MW1 lands after the doorbell slots')
  t.same(b.board.rings, [], 'and rings nothing')
  t.equal(b.board.mws[0]!.read32(0x80), 0xbeef)
  t.throws(() => { mw0.memory.write32(0x1_0000, 1) }, { code: 'ERR_OUT_OF_RANGE' }, 'the view ends where MW1 ends')
  t.match(b.dev.state().peerMws, [{ widx: 0, bar: 2, base: mw0.base, size: 0x1_0000 }, { widx: 1, bar: 3, base: mw1.base, size: 0x1_0000 }])
})

t.test('a CONFIGURE_MW or TEARDOWN_MW the board refuses is an error', async (t) => {
  const b = await ready(t, { refuse: [R.CMD_CONFIGURE_MW, R.CMD_TEARDOWN_MW] })
  await t.rejects(b.dev.mwSetTrans(1, 0x2000, 0x1000), { code: 'ERR_COMMAND', command: R.CMD_CONFIGURE_MW })
  t.same(b.dev.state().translations, [], 'no translation recorded')
  await t.rejects(b.dev.mwClearTrans(1), { code: 'ERR_COMMAND', command: R.CMD_TEARDOWN_MW })
  await settle(b.ends)
  t.equal(b.board.bar0.read16(R.CMD_STATUS), 0, 'CMD_STATUS cleared after ERROR too')
})

t.test('remove tears the doorbells down; a disposed device hears no MSIs and sends no commands', async (t) => {
  const b = await ready(t)
  const seen = events(b.dev)
  await b.dev.remove()
  t.same(b.board.commands.map((c) => [c.cmd, c.arg]), [[R.CMD_TEARDOWN_DOORBELL, 32]], 'TEARDOWN_DOORBELL with the vector count')
  b.board.raiseMsi(0)
  b.board.raiseMsi(2)
  await settle(b.ends)
  t.same(seen, { link: 0, db: [] })
  await t.rejects(b.dev.linkEnable(), { code: 'ERR_UNAVAILABLE' })

  const hung = await bench(t, { answers: false })
  const pending = hung.dev.init()
  await settle(hung.ends)
  hung.dev.dispose()
  await t.rejects(pending, { code: 'ERR_UNAVAILABLE', message: /went away/ }, 'an outstanding command fails at once')
})

t.test('OffsetView refuses accesses outside its range', async (t) => {
  const h = await ntbHost(t)
  const bar = h.fn.bars.find((x) => x.index === 1)!
  t.throws(() => new OffsetView(bar.window, bar.size - 4, 8), { code: 'ERR_OUT_OF_RANGE' })
  const v = new OffsetView(bar.window, 0x10, 0x20)
  t.throws(() => v.read8(0x20), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => v.read(-1, 1), { code: 'ERR_OUT_OF_RANGE' })
  v.write(0x1c, Uint8Array.of(1, 2, 3, 4))
  t.equal(bar.window.read32(0x2c), 0x0403_0201)
  t.equal(v.read32(0x1c), 0x0403_0201)
  // By addresses of its own (ntb_vhost's view of the virtio host's MW0).
  const at = new OffsetView(bar.window, 0x10, 0x20, { start: 0x8000_0000, name: 'MW0' })
  t.equal(at.size, 0x8000_0020, 'size is the end address')
  t.equal(at.read32(0x8000_001c), 0x0403_0201)
  t.ok(at.contains(0x8000_0000, 0x20))
  t.notOk(at.contains(0x7fff_ffff, 1))
  t.throws(() => at.read8(0x1c), { code: 'ERR_OUT_OF_RANGE', message: /outside the MW0/ }, 'below start')
  t.throws(() => at.read8(0x8000_0020), { code: 'ERR_OUT_OF_RANGE' })
})
