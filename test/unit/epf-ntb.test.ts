// The NTB endpoint function on the board (hw/ntb/epf-ntb.ts, a model of
// pci-epf-ntb.c) with in-memory hosts: each host reaches its own
// controller's BARs by their plain names and owns pcie.sysmem; MSIs arrive
// as pcie.msi doorbells. Offsets, command codes and vector numbers are
// written as the numbers of the fact sheet (ntb_hw_epf.c #defines,
// struct epf_ntb_ctrl), not only as the constants.

import t from 'tap'
import { ntbBoard, SYSMEM_SIZE } from '../support/ntb-board.js'
import { nextTurn } from '../support/loop-link.js'
import * as R from '../../daemon/src/hw/ntb/epf-ntb-regs.js'
import { epfNtbLayout, type EpfNtbConfig } from '../../daemon/src/hw/ntb/epf-ntb-layout.js'
import { EpfNtb } from '../../daemon/src/hw/ntb/epf-ntb.js'
import { wire } from '../../daemon/src/link/codec.js'
import pino from 'pino'

const OK = 1
const ERROR = 2
const CONFIGURE_DOORBELL = 1
const TEARDOWN_DOORBELL = 2
const CONFIGURE_MW = 3
const TEARDOWN_MW = 4
const LINK_UP = 5
const LINK_DOWN = 6

/** Two windows of 64 KiB and 32 KiB, 8 vectors, 16 scratchpads. */
const CONFIG: EpfNtbConfig = { numMws: 2, mwSizes: [0x10000, 0x8000], dbCount: 8, spadCount: 16 }
/** What CONFIG lays out: ctrl rounded to 0x200, spads after it; MW1 after ALIGN(8 * 4, 0x10000). */
const SPAD_OFFSET = 0x200
const MW1_OFFSET = 0x10000

const pair = (): ReturnType<typeof ntbBoard> => ntbBoard(['hA', 'hB'], [['hA', 'hB']], CONFIG)

async function up (n: ReturnType<typeof ntbBoard>, ...hosts: string[]): Promise<void> {
  for (const h of hosts) n.ntbs.find((x) => x.hosts.includes(h))!.startInterface(h)
  for (const h of hosts) await n.open(h)
}

t.test('epf_ntb_ctrl and the BAR layout match the fact sheet', async (t) => {
  const offsets = [R.COMMAND, R.ARGUMENT, R.CMD_STATUS, R.LINK_STATUS, R.TOPOLOGY, R.LOWER_ADDR, R.UPPER_ADDR, R.LOWER_SIZE, R.UPPER_SIZE, R.MW_COUNT, R.MW1_OFFSET, R.SPAD_OFFSET, R.SPAD_COUNT, R.DB_ENTRY_SIZE]
  t.same(offsets, [0x00, 0x04, 0x08, 0x0a, 0x0c, 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24, 0x28, 0x2c, 0x30], 'NTB_EPF_* offsets')
  t.equal(R.DB_DATA(0), 0x34)
  t.equal(R.DB_DATA(31), 0xb0, 'db_data[32] ends at 0xB3')
  t.equal(R.DB_OFFSET(0), 0xb4)
  t.equal(R.DB_OFFSET(31), 0x130, 'db_offset[32] ends at 0x133')
  t.equal(R.CTRL_SIZE, 308, 'sizeof(struct epf_ntb_ctrl) = 0x134')
  t.same([R.CMD_CONFIGURE_DOORBELL, R.CMD_TEARDOWN_DOORBELL, R.CMD_CONFIGURE_MW, R.CMD_TEARDOWN_MW, R.CMD_LINK_UP, R.CMD_LINK_DOWN], [1, 2, 3, 4, 5, 6])
  t.same([R.COMMAND_STATUS_OK, R.COMMAND_STATUS_ERROR, R.LINK_STATUS_UP, R.MSIX_ENABLE, R.DB_COUNT_MASK], [1, 2, 1, 0x10000, 0xffff])

  // The howto's sample: db_count 4, spad_count 128, num_mws 2, mw1 = mw2 = 0x100000.
  t.same(epfNtbLayout({ numMws: 2, mwSizes: [0x100000, 0x100000], dbCount: 4, spadCount: 128 }), {
    spadOffset: 0x200, mw1Offset: 0x100000, dbEntrySize: 4, spadSize: 0x200, configBar: 0x400, peerSpadBar: 0x200, mwBars: [0x200000, 0x100000]
  }, 'spad_offset 0x200, BAR0 0x400, MW1_OFFSET 0x100000, BAR2 0x200000')
  t.same(epfNtbLayout(CONFIG), {
    spadOffset: SPAD_OFFSET, mw1Offset: MW1_OFFSET, dbEntrySize: 4, spadSize: 64, configBar: 0x400, peerSpadBar: 128, mwBars: [0x20000, 0x8000]
  }, 'ctrl rounded up to 0x200; BARs at least 128 bytes and powers of two')
  t.equal(epfNtbLayout({ numMws: 1, mwSizes: [0x1000], dbCount: 32, spadCount: 1024 }).spadOffset, 0x1000, 'the ctrl part grows to the spad size')

  const bad: Array<[Partial<EpfNtbConfig>, RegExp]> = [
    [{ numMws: 0, mwSizes: [] }, /num_mws/],
    [{ numMws: 5, mwSizes: [0x1000, 0x1000, 0x1000, 0x1000, 0x1000] }, /num_mws/],
    [{ numMws: 2, mwSizes: [0x1000] }, /2 sizes/],
    [{ mwSizes: [0x1800, 0x1000] }, /mw1.*power of two/],
    [{ mwSizes: [0x1000, 0x800] }, /mw2/],
    [{ mwSizes: [0x1000, 2 ** 31] }, /mw2/],
    [{ dbCount: 3 }, /db_count/],
    [{ dbCount: 33 }, /db_count/],
    [{ spadCount: 0 }, /spad_count/],
    [{ spadCount: 1.5 }, /spad_count/]
  ]
  for (const [change, message] of bad) {
    t.throws(() => epfNtbLayout({ ...CONFIG, ...change }), { code: 'ERR_CONFIG', message }, JSON.stringify(change))
  }
  const n = pair()
  t.throws(() => new EpfNtb({ name: 'x', config: CONFIG, primary: n.host('hA').ctrl, secondary: n.host('hA').ctrl, logger: pino({ level: 'silent' }) }), { code: 'ERR_CONFIG' }, 'one host on both sides')
  t.throws(() => { n.ntbs[0]!.startInterface('hC') }, { code: 'ERR_NOT_FOUND' })
})

t.test('each host finds its ctrl fields, the function ids and its BARs at start', async (t) => {
  const n = pair()
  await up(n, 'hA', 'hB')
  for (const name of ['hA', 'hB']) {
    const h = n.host(name)
    const ctrl = h.bars[0]!
    t.same([ctrl.read32(0x20), ctrl.read32(0x24), ctrl.read32(0x28), ctrl.read32(0x2c), ctrl.read32(0x30)], [2, 0x10000, 0x200, 16, 4], `${name}: num_mws, mw1_offset, spad_offset, spad_count, db_entry_size`)
    t.same([ctrl.read32(0x00), ctrl.read32(0x04), ctrl.read16(0x08), ctrl.read16(0x0a)], [0, 0, 0, 0], `${name}: no command, status or link yet`)
    t.same(h.ctrl.state().bars.map((b) => [b.index, b.size, b.region]), [
      [0, 0x400, `pcie.bar0@${name}`], [1, 128, `pcie.bar1@${name}`], [2, 0x20000, `pcie.bar2@${name}`], [3, 0x8000, `pcie.bar3@${name}`]
    ], `${name}: BAR0 ctrl+spads, BAR1 peer spads, BAR2 doorbells+MW1, BAR3 MW2`)
    t.match(h.ctrl.state().header, { vendorId: 0x104c, deviceId: 0xb00d, classCode: 0x050000 }, 'TI J721E, memory controller / RAM')
    t.same(h.linkEvents, [true], 'the controller started')
  }
  t.match(n.ntbs[0]!.state(), { name: 'ntb0', interfaces: [{ side: 'primary', host: 'hA', started: true, peerSpadBacked: true }, { side: 'secondary', host: 'hB', started: true }] })
})

t.test('LINK_UP from one host answers OK quietly; from both, LINK_STATUS and vector 0 on both', async (t) => {
  const n = pair()
  await up(n, 'hA', 'hB')
  const A = n.host('hA')
  const B = n.host('hB')
  A.bars[0]!.write32(0x04, 0x1234)
  A.bars[0]!.write32(0x00, 5)
  await n.settle()
  t.equal(A.bars[0]!.read16(0x08), OK, 'LINK_UP: CMD_STATUS OK')
  t.same([A.bars[0]!.read32(0x00), A.bars[0]!.read32(0x04)], [0, 0], 'COMMAND and ARGUMENT zeroed when taken')
  A.bars[0]!.write16(0x08, 0)
  await n.settle()
  t.equal(A.bars[0]!.read16(0x0a), 0, 'the link is not up with one host')
  t.same([A.msi, B.msi], [[], []], 'no interrupt yet')
  t.equal(await n.command('hB', LINK_UP), OK)
  t.equal(A.bars[0]!.read16(0x0a) & 1, 1, 'LINK_STATUS bit 0 on A')
  t.equal(B.bars[0]!.read16(0x0a) & 1, 1, 'and on B')
  t.same([A.msi, B.msi], [[0], [0]], 'vector 0 on both')
  t.equal(await n.command('hA', LINK_DOWN), OK)
  t.same([A.bars[0]!.read16(0x0a), B.bars[0]!.read16(0x0a)], [0, 0], 'LINK_DOWN clears both')
  t.same([A.msi, B.msi], [[0, 0], [0, 0]], 'with vector 0 on both')
  t.equal(await n.command('hA', LINK_UP), OK, 'B is still enabled: A\'s LINK_UP brings the link up again')
  t.same([A.bars[0]!.read16(0x0a), B.bars[0]!.read16(0x0a), A.msi.length, B.msi.length], [1, 1, 3, 3])
  t.equal(await n.command('hA', 7), ERROR, 'an unknown command answers ERROR (the kernel stays silent)')
  t.match(n.ntbs[0]!.state().interfaces[0], { linkup: true, linkStatus: true, msi: [3], counters: { commands: 4, commandErrors: 1, linkEvents: 3 }, lastError: /unknown command 7/ })
  for (const e of n.ends) t.same(e.errors, [], `no handler errors at ${e.name}`)
})

t.test('CONFIGURE_DOORBELL maps the other host\'s slots: its slot write raises vector n here', async (t) => {
  const n = pair()
  await up(n, 'hA', 'hB')
  const A = n.host('hA')
  const B = n.host('hB')
  t.equal(await n.command('hB', CONFIGURE_DOORBELL, 4), OK, 'B asks for 4 vectors (link + 3 doorbells)')
  const ctrlA = A.bars[0]!
  t.same([0, 1, 2, 3, 4].map((k) => ctrlA.read32(0x34 + 4 * k)), [0, 1, 2, 3, 0], 'A\'s db_data[0..3] = 0..3')
  t.same([0, 1, 2, 3].map((k) => ctrlA.read32(0xb4 + 4 * k)), [0, 0, 0, 0], 'A\'s db_offset[0..3] = 0')
  t.equal(B.bars[0]!.read32(0x34 + 4), 0, 'B\'s own db_data is untouched')

  // ntb_epf_peer_db_set: writel(DB_DATA(n), db_reg + DB_ENTRY_SIZE * n + DB_OFFSET(n)).
  const ring = (k: number): void => { A.bars[2]!.write32(ctrlA.read32(0x30) * k + ctrlA.read32(0xb4 + 4 * k), ctrlA.read32(0x34 + 4 * k)) }
  ring(2)
  ring(3)
  await n.settle()
  t.same(B.msi, [2, 3], 'A\'s slots 2 and 3 raise vectors 2 and 3 on B')
  t.same(A.msi, [], 'and nothing on A')
  A.bars[2]!.write32(4 * 5, 5)
  A.bars[2]!.write32(4 * 1, 9)
  A.bars[2]!.write16(4 * 2, 2)
  await n.settle()
  t.same(B.msi, [2, 3], 'a slot past B\'s 4 vectors, data that is no vector of B\'s, a partial slot write: nothing')
  t.match(n.ntbs[0]!.state().interfaces, [{ counters: { doorbellWrites: 5, doorbellsDropped: 3 } }, { doorbells: { configured: true, count: 4 }, msi: [0, 0, 1, 1] }])

  t.equal(await n.command('hA', CONFIGURE_DOORBELL, 33), ERROR, 'more than 32 vectors')
  t.equal(await n.command('hA', CONFIGURE_DOORBELL, 9), ERROR, 'more than db_count (8)')
  t.equal(await n.command('hA', CONFIGURE_DOORBELL, 0x10000 | 4), ERROR, 'MSI-X: the function offers MSI only')
  t.equal(await n.command('hA', CONFIGURE_DOORBELL, 8), OK)
  B.bars[2]!.write32(4 * 7, 7)
  await n.settle()
  t.same(A.msi, [7], 'B\'s slot 7 raises vector 7 on A')

  t.equal(await n.command('hB', TEARDOWN_DOORBELL), OK)
  ring(2)
  await n.settle()
  t.same(B.msi, [2, 3], 'after TEARDOWN_DOORBELL A\'s slots raise nothing on B')
  for (const e of n.ends) t.same(e.errors, [], `no handler errors at ${e.name}`)
})

t.test('a host\'s BAR1 is the other host\'s own scratchpads, both ways', async (t) => {
  const n = pair()
  await up(n, 'hA', 'hB')
  const A = n.host('hA')
  const B = n.host('hB')
  A.bars[1]!.write32(4 * 3, 0xa11ce) // peer_spad_write(3)
  B.bars[0]!.write32(0x200 + 4 * 5, 0xb0b) // spad_write(5): SPAD_OFFSET + 4 * 5
  await n.settle()
  t.equal(B.bars[0]!.read32(0x200 + 12), 0xa11ce, 'A\'s peer spad 3 is B\'s spad 3')
  t.equal(A.bars[1]!.read32(20), 0xb0b, 'B\'s spad 5 shows in A\'s BAR1')
  t.equal(A.bars[0]!.read32(0x200 + 12), 0, 'A\'s own spads are its own')
  B.bars[1]!.write32(0, 0xfeed)
  await n.settle()
  t.equal(A.bars[0]!.read32(0x200), 0xfeed, 'and B\'s peer spad 0 is A\'s spad 0')
  const [sa, sb] = n.ntbs[0]!.state().interfaces
  t.equal(sa!.spads[0], 0xfeed)
  t.equal(sb!.spads[3], 0xa11ce)
  t.equal(sb!.spads[5], 0xb0b)
  t.equal(sa!.spads.length, 16)
  A.bars[1]!.write32(64, 1)
  await n.settle()
  t.equal(A.bars[1]!.counters.errors, 1, 'BAR1 past the 16 scratchpads refuses the write')
  t.equal(B.bars[0]!.read32(0x240), 0, 'and B\'s BAR0 past its spads is untouched')
  for (const e of n.ends) t.same(e.errors, [], `no handler errors at ${e.name}`)
})

t.test('CONFIGURE_MW by B: A\'s MW BARs reach B\'s memory; TEARDOWN_MW refuses A\'s writes again', async (t) => {
  const n = pair()
  await up(n, 'hA', 'hB')
  const A = n.host('hA')
  const B = n.host('hB')
  const mw1 = A.bars[2]!
  mw1.write32(0x10000 + 0x10, 1)
  await n.settle()
  t.equal(mw1.counters.errors, 1, 'an untranslated MW refuses the write')
  t.match(mw1.lastError, /no translation/)
  t.equal(mw1.read32(0x10010), 0, 'and A\'s replica is put right')

  const setTrans = async (idx: number, addr: number, size: number): Promise<number> => {
    const ctrl = B.bars[0]!
    ctrl.write32(0x10, addr)
    ctrl.write32(0x14, 0)
    ctrl.write32(0x18, size)
    ctrl.write32(0x1c, 0)
    return await n.command('hB', CONFIGURE_MW, idx)
  }
  B.sysmem.write32(0x40020, 0x5eed)
  t.equal(await setTrans(0, 0x40000, 0x10000), OK, 'MW1 at 0x40000, 64 KiB')
  mw1.write32(0x10000 + 0x10, 0xabcd)
  await n.settle()
  t.equal(B.sysmem.read32(0x40010), 0xabcd, 'A\'s write at MW1_OFFSET + 0x10 lands at B\'s 0x40010')
  t.equal(mw1.read32(0x10000 + 0x20), 0x5eed, 'B\'s memory shows in A\'s replica')
  B.sysmem.write32(0x40030, 0x77)
  await n.settle()
  t.equal(mw1.read32(0x10030), 0x77, 'and B\'s later writes too')
  t.equal(mw1.read32(0x30), 0, 'the doorbell slots below MW1 are not B\'s memory')

  t.equal(await setTrans(1, 0x80000, 0x8001), ERROR, 'MW2 larger than its 32 KiB')
  t.equal(await setTrans(1, 0x80010, 0x1000), ERROR, 'an address not 4 KiB aligned')
  t.equal(await setTrans(2, 0x80000, 0x1000), ERROR, 'no MW3')
  t.equal(await setTrans(1, SYSMEM_SIZE, 0x1000), ERROR, 'past B\'s memory: the outbound window is refused')
  t.equal(await setTrans(1, 0x80000, 0x1000), OK, 'MW2 at 0x80000, 4 KiB')
  A.bars[3]!.write(0xffe, Uint8Array.of(1, 2, 3, 4))
  await n.settle()
  t.equal(A.bars[3]!.counters.errors, 1, 'a write running past the 4 KiB translation is refused')
  t.equal(B.sysmem.read32(0x80ffc), 0, 'and changes nothing')
  A.bars[3]!.write8(0xfff, 9)
  await n.settle()
  t.equal(B.sysmem.read8(0x80fff), 9, 'the last byte of the translation is B\'s')
  t.match(n.ntbs[0]!.state().interfaces[1]!.mws, [{ idx: 0, addr: 0x40000, size: 0x10000, state: 'mapped', attached: true }, { idx: 1, addr: 0x80000, size: 0x1000, attached: true }])

  t.equal(await n.command('hB', TEARDOWN_MW, 0), OK)
  mw1.write32(0x10010, 0x1111)
  await n.settle()
  t.equal(mw1.counters.errors, 2, 'after TEARDOWN_MW A\'s write is refused')
  t.equal(B.sysmem.read32(0x40010), 0xabcd, 'and B\'s memory is unchanged')
  t.equal(mw1.read32(0x10010), 0, 'A\'s replica reads zeros')
  t.equal(await n.command('hB', TEARDOWN_MW, 4), ERROR, 'TEARDOWN_MW of a window the function lacks')
  t.equal(B.ctrl.state().outbound.length, 1, 'one outbound window left (MW2)')
  for (const e of n.ends) t.same(e.errors, [], `no handler errors at ${e.name}`)
})

t.test('accesses outside a BAR are refused and change nothing', async (t) => {
  const n = pair()
  await up(n, 'hA', 'hB')
  const A = n.host('hA')
  const past = A.node.requester.open({ peer: 'board', region: 'pcie.bar1', offset: 0, size: 256, replica: true })
  await t.rejects(A.node.requester.opened(past), { code: 'ERR_OUT_OF_RANGE' }, 'a window past the 128-byte BAR1 is a Completer Abort')
  const reports: number[] = []
  const end = n.ends.find((e) => e.name === 'board' && e.far.name === 'hA')!
  const handler = end.handler!
  end.handler = (link, d) => {
    if (d.frame.errorReport != null) reports.push(d.frame.errorReport.status ?? 0)
    return handler(link, d)
  }
  // A write frame running past the end of A's window onto BAR0 (a hostile requester).
  const link = A.node.links.get('board')!
  link.send({ write: { window: A.bars[0]!.id, offset: 0x3fe, length: 4, wseq: 0 } }, Uint8Array.of(1, 2, 3, 4))
  await n.settle()
  t.same(reports, [wire.Status.STATUS_COMPLETER_ABORT], 'a write past the BAR: Completer Abort')
  t.equal(n.board.regions.get('pcie.bar0@hA').read16(0x3fe), 0, 'nothing written')
  t.equal(n.board.completer.counters.completerAborts, 2)
})

t.test('a host going away: the other sees the link drop, its windows into the host detached, BAR1 unbacked; back again, all is set up anew', async (t) => {
  const n = pair()
  await up(n, 'hA', 'hB')
  const A = n.host('hA')
  const B = n.host('hB')
  const epf = n.ntbs[0]!
  t.equal(await n.command('hA', CONFIGURE_DOORBELL, 8), OK)
  t.equal(await n.command('hB', CONFIGURE_DOORBELL, 8), OK)
  for (const h of [A, B]) {
    h.bars[0]!.write32(0x10, 0x100000)
    h.bars[0]!.write32(0x18, 0x1000)
  }
  t.equal(await n.command('hA', CONFIGURE_MW, 0), OK, 'A: MW1 into A\'s memory')
  t.equal(await n.command('hB', CONFIGURE_MW, 0), OK, 'B: MW1 into B\'s memory')
  t.equal(await n.command('hA', LINK_UP), OK)
  t.equal(await n.command('hB', LINK_UP), OK)
  B.bars[0]!.write32(0x200, 0xb)
  await n.settle()
  t.equal(A.bars[1]!.read32(0), 0xb)
  A.msi.length = 0
  B.msi.length = 0

  epf.stopInterface('hB', 'host hB went away')
  await n.settle()
  t.equal(A.bars[0]!.read16(0x0a), 0, 'A\'s LINK_STATUS cleared')
  t.same(A.msi, [0], 'vector 0 on A')
  t.same(B.linkEvents, [true, false], 'B\'s controller stopped')
  t.equal(A.bars[1]!.read32(0), 0, 'A\'s BAR1 reads zeros')
  A.bars[1]!.write32(0, 1)
  A.bars[2]!.write32(0x10000, 2)
  A.bars[2]!.write32(4, 1)
  await n.settle()
  t.equal(A.bars[1]!.counters.errors, 1, 'A\'s BAR1 refuses writes')
  t.equal(A.bars[2]!.counters.errors, 1, 'A\'s MW1 into B\'s memory is detached')
  t.equal(B.sysmem.read32(0x100000), 0, 'B\'s memory is untouched')
  t.same(B.msi, [], 'A\'s doorbell goes nowhere')
  t.equal(B.bars[0]!.state, 'failed', 'B\'s windows onto the board failed with its BARs')
  const [sa, sb] = epf.state().interfaces
  t.match(sa, { linkup: true, linkStatus: false, peerSpadBacked: false, mws: [{ idx: 0, state: 'mapped', attached: false }] })
  t.match(sb, { started: false, linkup: false, doorbells: { configured: false }, mws: [] })
  t.equal(A.ctrl.state().outbound.length, 1, 'A\'s own translation stays mapped')

  epf.startInterface('hB')
  await n.open('hB')
  await n.settle()
  const ctrlB = B.bars[0]!
  t.same([ctrlB.read32(0x20), ctrlB.read32(0x28)], [2, 0x200], 'B\'s ctrl is filled again')
  t.same([1, 7].map((k) => ctrlB.read32(0x34 + 4 * k)), [1, 7], 'A\'s doorbell mapping is written into B\'s new ctrl')
  t.equal(ctrlB.read16(0x0a), 0, 'the link waits for B\'s LINK_UP')
  t.equal(B.bars[1]!.read32(0), 0, 'B\'s BAR1 shows A\'s spad 0')
  A.bars[0]!.write32(0x200 + 4, 0xaa)
  await n.settle()
  t.equal(B.bars[1]!.read32(4), 0xaa, 'and follows it')
  B.bars[2]!.write32(0x10000 + 8, 0x42)
  await n.settle()
  t.equal(A.sysmem.read32(0x100008), 0x42, 'A\'s translation is attached to B\'s new MW1')
  t.match(epf.state().interfaces[0]!.mws, [{ attached: true }])
  B.bars[2]!.write32(4 * 3, 3)
  await n.settle()
  t.same(A.msi, [0, 3], 'B\'s slot 3 rings A')
  t.equal(await n.command('hB', LINK_UP), OK)
  t.same([A.bars[0]!.read16(0x0a), ctrlB.read16(0x0a)], [1, 1], 'A stayed enabled: the link is up as soon as B enables it')
  t.same([A.msi.at(-1), B.msi], [0, [0]])

  epf.stopInterface('hA', 'host hA went away')
  await n.settle()
  t.equal(ctrlB.read16(0x0a), 0)
  B.bars[2]!.write32(0x10000 + 8, 0x43)
  await n.settle()
  t.equal(A.sysmem.read32(0x100008), 0x42, 'once A is gone, B\'s MW1 into A\'s memory refuses writes')
  t.equal(A.ctrl.state().outbound.length, 0, 'A\'s outbound windows are unmapped')
  epf.stop()
  t.same(n.board.regions.list().map((r) => r.name), [], 'no region left on the board')
  for (const e of n.ends) t.same(e.errors, [], `no handler errors at ${e.name}`)
})

t.test('two pairs on one board, four hosts: no crosstalk', async (t) => {
  const n = ntbBoard(['h1', 'h2', 'h3', 'h4'], [['h1', 'h2'], ['h3', 'h4']], CONFIG)
  await up(n, 'h1', 'h2', 'h3', 'h4')
  const [h1, h2, h3, h4] = ['h1', 'h2', 'h3', 'h4'].map((x) => n.host(x))
  for (const h of ['h1', 'h2', 'h3', 'h4']) t.equal(await n.command(h, CONFIGURE_DOORBELL, 8), OK)
  t.equal(await n.command('h1', LINK_UP), OK)
  t.equal(await n.command('h3', LINK_UP), OK)
  t.equal(await n.command('h2', LINK_UP), OK)
  t.same([h1!.msi, h2!.msi, h3!.msi, h4!.msi], [[0], [0], [], []], 'only the first pair links up')
  t.same([h3!.bars[0]!.read16(0x0a), h4!.bars[0]!.read16(0x0a)], [0, 0])
  h1!.bars[1]!.write32(0, 0x12)
  h3!.bars[1]!.write32(0, 0x34)
  h2!.bars[2]!.write32(4 * 2, 2)
  h4!.bars[2]!.write32(4 * 5, 5)
  await n.settle()
  t.same([h2!.bars[0]!.read32(0x200), h4!.bars[0]!.read32(0x200)], [0x12, 0x34], 'each host\'s peer spad reaches its own partner')
  t.same([h1!.msi, h3!.msi], [[0, 2], [5]], 'doorbells ring the partner only')
  for (const h of [h3!, h4!]) {
    h.bars[0]!.write32(0x10, 0x2000)
    h.bars[0]!.write32(0x18, 0x1000)
  }
  t.equal(await n.command('h4', CONFIGURE_MW, 0), OK)
  h3!.bars[2]!.write32(0x10000, 0x44)
  await n.settle()
  t.same([h4!.sysmem.read32(0x2000), h2!.sysmem.read32(0x2000), h1!.sysmem.read32(0x2000)], [0x44, 0, 0], 'an MW reaches the partner\'s memory only')
  n.ntbs[1]!.stopInterface('h4')
  await n.settle()
  t.same([h1!.bars[0]!.read16(0x0a), h2!.bars[0]!.read16(0x0a)], [1, 1], 'a host leaving the other pair changes nothing here')
  for (const e of n.ends) t.same(e.errors, [], `no handler errors at ${e.name}`)
})

t.test('a host that leaves while its CONFIGURE_MW waits for its window: nothing is attached, nothing answered late', async (t) => {
  const n = pair()
  await up(n, 'hA', 'hB')
  const A = n.host('hA')
  const B = n.host('hB')
  const ctrl = B.bars[0]!
  ctrl.write32(0x10, 0x40000)
  ctrl.write32(0x18, 0x1000)
  ctrl.write32(0x04, 0)
  ctrl.write32(0x00, CONFIGURE_MW)
  for (let k = 0; k < 100 && B.ctrl.state().outbound.length === 0; k++) await nextTurn()
  t.match(n.ntbs[0]!.state().interfaces[1]!.mws, [{ idx: 0, state: 'mapping', attached: false }], 'the board took the command and waits for B\'s memory')
  n.ntbs[0]!.stopInterface('hB', 'host hB went away')
  await n.settle()
  t.same(n.ntbs[0]!.state().interfaces[1]!.mws, [], 'the translation is gone')
  t.equal(B.ctrl.state().outbound.length, 0, 'and its outbound window unmapped')
  A.bars[2]!.write32(0x10000, 1)
  await n.settle()
  t.equal(A.bars[2]!.counters.errors, 1, 'A\'s MW1 refuses writes')
  t.equal(B.sysmem.read32(0x40000), 0)
  n.ntbs[0]!.startInterface('hB')
  await n.open('hB')
  t.same([B.bars[0]!.read16(0x08), n.ntbs[0]!.state().interfaces[1]!.counters.commands], [0, 0], 'the returning host finds no stale answer')
  for (const e of n.ends) t.same(e.errors, [], `no handler errors at ${e.name}`)
})
