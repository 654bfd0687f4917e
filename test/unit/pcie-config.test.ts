// The PCI type-0 configuration header (PCI Local Bus Spec 3.0 §6.1, offsets
// from include/uapi/linux/pci_regs.h) byte by byte, and BAR sizing (§6.2.5.1)
// as the endpoint's config space answers it.

import t from 'tap'
import * as H from '../../daemon/src/hw/pcie/config-header.js'
import { ConfigSpace, decodeSizing, readHeader, sizingResponse, writeHeader, type FunctionHeader } from '../../daemon/src/hw/pcie/config-header.js'
import { BusAllocator } from '../../daemon/src/hw/pcie/bus-allocator.js'
import { RegionTable } from '../../daemon/src/mem/region-table.js'
import { MemNode, connect } from '../support/mem-node.js'
import { settle } from '../support/loop-link.js'

const HEADER: FunctionHeader = {
  vendorId: 0x104c,
  deviceId: 0xb500,
  revisionId: 0x01,
  // Appendix D: base class 0x0c (serial bus), subclass 0x03 (USB), interface 0x30 (xHCI).
  classCode: 0x0c0330,
  subsystemVendorId: 0x1af4,
  subsystemId: 0x0007,
  interruptPin: 1,
  bars: [
    { size: 0x1000, flags: 0 },
    null,
    { size: 0x10_0000, flags: H.PCI_BASE_ADDRESS_MEM_TYPE_64 | H.PCI_BASE_ADDRESS_MEM_PREFETCH },
    null,
    { size: 0x100, flags: H.PCI_BASE_ADDRESS_SPACE_IO },
    null
  ]
}

const peer = { window: 'a peer window' }
const u32 = (v: number): Uint8Array => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0, 0); return b }

t.test('header offsets are those of pci_regs.h', async (t) => {
  t.same(
    [H.PCI_VENDOR_ID, H.PCI_DEVICE_ID, H.PCI_COMMAND, H.PCI_STATUS, H.PCI_REVISION_ID, H.PCI_CLASS_PROG, H.PCI_CLASS_DEVICE, H.PCI_HEADER_TYPE],
    [0x00, 0x02, 0x04, 0x06, 0x08, 0x09, 0x0a, 0x0e])
  t.same([0, 1, 2, 3, 4, 5].map(H.barOffset), [0x10, 0x14, 0x18, 0x1c, 0x20, 0x24])
  t.same([H.PCI_SUBSYSTEM_VENDOR_ID, H.PCI_SUBSYSTEM_ID, H.PCI_INTERRUPT_LINE, H.PCI_INTERRUPT_PIN], [0x2c, 0x2e, 0x3c, 0x3d])
  t.same([H.PCI_BASE_ADDRESS_SPACE_IO, H.PCI_BASE_ADDRESS_MEM_TYPE_64, H.PCI_BASE_ADDRESS_MEM_PREFETCH], [1, 4, 8])
  t.same([H.PCI_COMMAND_IO, H.PCI_COMMAND_MEMORY, H.PCI_COMMAND_MASTER, H.PCI_STATUS_INTERRUPT], [1, 2, 4, 8])
  t.same([H.PCI_STD_HEADER_SIZEOF, H.PCI_STD_NUM_BARS, H.PCI_CFG_SPACE_EXP_SIZE], [64, 6, 4096])
})

t.test('a written header, byte by byte', async (t) => {
  const r = new RegionTable().create('cfg', 4096)
  writeHeader(r, HEADER)
  const expected = Buffer.from([
    0x4c, 0x10, 0x00, 0xb5, // vendor 0x104c, device 0xb500 (little-endian)
    0x00, 0x00, 0x00, 0x00, // command, status
    0x01, 0x30, 0x03, 0x0c, // revision, programming interface, subclass, base class
    0x00, 0x00, 0x00, 0x00, // cache line, latency, header type 0, BIST
    0x00, 0x00, 0x00, 0x00, // BAR0: 32-bit memory, not prefetchable
    0x00, 0x00, 0x00, 0x00, // BAR1: not implemented
    0x0c, 0x00, 0x00, 0x00, // BAR2: 64-bit prefetchable memory, low half
    0x00, 0x00, 0x00, 0x00, // BAR3: BAR2's high half
    0x01, 0x00, 0x00, 0x00, // BAR4: I/O
    0x00, 0x00, 0x00, 0x00, // BAR5
    0x00, 0x00, 0x00, 0x00, // CardBus CIS pointer
    0xf4, 0x1a, 0x07, 0x00, // subsystem vendor 0x1af4, subsystem 0x0007
    0x00, 0x00, 0x00, 0x00, // expansion ROM
    0x00, 0x00, 0x00, 0x00, // capabilities pointer, reserved
    0x00, 0x00, 0x00, 0x00, // reserved
    0x00, 0x01, 0x00, 0x00 //  interrupt line, pin INTA, Min_Gnt, Max_Lat
  ])
  t.equal(expected.length, 64)
  t.same([...r.read(0, 64)], [...expected])
  t.match(readHeader(r), { vendorId: 0x104c, deviceId: 0xb500, classCode: 0x0c0330, subsystemVendorId: 0x1af4, subsystemId: 7, interruptPin: 1, headerType: 0, barRegisters: [0, 0, 0x0c, 0, 1, 0] })
})

t.test('BAR sizing on the config space region', async (t) => {
  const regions = new RegionTable()
  const cs = new ConfigSpace(regions, 'pcie.cfg', HEADER)
  const r = cs.region
  const sized = (n: number): number => { r.writeFrom(H.barOffset(n), u32(0xffff_ffff), peer); return r.read32(H.barOffset(n)) }
  t.equal(sized(0), 0xffff_f000, 'BAR0 reads ~(0x1000 - 1)')
  t.equal(sized(1), 0, 'an unimplemented BAR reads 0')
  t.equal(sized(2), 0xfff0_000c, 'BAR2: ~(1 MiB - 1) | 64-bit | prefetchable')
  t.equal(sized(3), 0xffff_ffff, "BAR2's upper half: all ones below 4 GiB")
  t.equal(sized(4), 0xffff_ff01, 'BAR4: ~(256 - 1) | I/O')
  t.same(decodeSizing(0xffff_f000), { size: 0x1000, flags: 0 })
  t.same(decodeSizing(0xfff0_000c, 0xffff_ffff), { size: 0x10_0000, flags: 0x0c })
  t.same(decodeSizing(0xffff_ff01), { size: 0x100, flags: 1 })
  t.equal(decodeSizing(0), null)
  t.same(sizingResponse({ size: 0x2_0000_0000, flags: 4 }), { low: 4, high: 0xffff_fffe }, 'an 8 GiB BAR')
  t.same(decodeSizing(4, 0xffff_fffe), { size: 0x2_0000_0000, flags: 4 })

  r.writeFrom(H.barOffset(0), u32(0x4000_1234), peer)
  t.equal(r.read32(H.barOffset(0)), 0x4000_1000, 'an address is kept aligned to the BAR size')
  r.writeFrom(H.barOffset(2), u32(0x8000_0000), peer)
  r.writeFrom(H.barOffset(3), u32(1), peer)
  t.equal(cs.barAddress(0), 0x4000_1000)
  t.equal(cs.barAddress(2), 0x1_8000_0000, 'a 64-bit address spans both registers')
  t.equal(r.read32(H.barOffset(2)), 0x8000_000c, 'flag bits are read-only')

  r.writeFrom(H.PCI_VENDOR_ID, u32(0xdeadbeef), peer)
  t.equal(r.read32(0), 0xb500_104c, 'ids are read-only to the rc')
  r.writeFrom(H.PCI_COMMAND, u32(0xffff_0006), peer)
  t.equal(r.read16(H.PCI_COMMAND), 6, 'COMMAND is writable')
  t.equal(r.read16(H.PCI_STATUS), 0, 'STATUS is not')
  cs.setInterruptStatus(true)
  t.equal(r.read16(H.PCI_STATUS), H.PCI_STATUS_INTERRUPT, 'the owner sets Interrupt Status')
  r.write16(H.PCI_SUBSYSTEM_ID, 9)
  t.equal(r.read16(H.PCI_SUBSYSTEM_ID), 9, "the owner's own writes are not filtered")
  cs.dispose()
  t.equal(regions.find('pcie.cfg'), undefined)
  t.throws(() => new ConfigSpace(regions, 'x', { ...HEADER, bars: [{ size: 48, flags: 0 }, null, null, null, null, null] }), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => new ConfigSpace(regions, 'x', { ...HEADER, bars: [null, null, null, null, null, { size: 16, flags: 4 }] }), { code: 'ERR_OUT_OF_RANGE' }, 'no room for the upper half')
})

t.test('a replica window converges to the sizing response and the kept address', async (t) => {
  const ep = new MemNode('ep')
  const rc = new MemNode('rc')
  const other = new MemNode('other')
  const ends = [...connect(ep, rc), ...connect(ep, other)]
  const cs = new ConfigSpace(ep.regions, 'pcie.cfg', HEADER)
  const w = rc.requester.open({ peer: 'ep', region: 'pcie.cfg', offset: 0, size: 4096, replica: true })
  const o = other.requester.open({ peer: 'ep', region: 'pcie.cfg', offset: 0, size: 64, replica: true })
  await settle(ends)
  w.write32(0x10, 0xffff_ffff)
  const read = rc.requester.readRemote(w, 0x10, 4)
  await settle(ends)
  t.equal(Buffer.from(await read).readUInt32LE(0), 0xffff_f000, 'the non-posted read shows the response')
  t.equal(w.read32(0x10), 0xffff_f000, "the writer's replica converged")
  t.equal(o.read32(0x10), 0xffff_f000, "another replica too")
  w.write32(0x10, 0x4000_0abc)
  w.write16(0, 0)
  await settle(ends)
  t.equal(cs.barAddress(0), 0x4000_0000)
  for (const m of [w, o]) t.same([...m.read(0, 64)], [...cs.region.read(0, 64)], 'replica equals the owner')
  for (const e of ends) t.same(e.errors, [])
})

t.test('bus addresses: first fit, aligned to size', async (t) => {
  const a = new BusAllocator(0x4000_0000, 0x5000_0000)
  t.equal(a.alloc(0x1000), 0x4000_0000)
  t.equal(a.alloc(0x10_0000), 0x4010_0000)
  t.equal(a.alloc(0x1000), 0x4000_1000)
  a.free(0x4000_0000)
  t.equal(a.alloc(0x800), 0x4000_0000, 'a freed range is reused')
  t.equal(a.alloc(0x1000_0000), null, 'the space is full')
})
