// The PCIe hardware model between two in-process daemons on loopback: the ep
// starts its controller, the rc enumerates the function (config reads, BAR
// sizing with 0xFFFFFFFF and non-posted reads, address assignment), both
// sides reach each other's memory through windows, and MSIs arrive after the
// writes that preceded them. The composition root's wiring is done by hand.

import t, { type Test } from 'tap'
import { startNode, linkUrl } from '../support/nodes.js'
import { until } from '../support/daemon.js'
import type { SoclinkNode } from '../../daemon/src/node.js'
import { EndpointController, PCIE_LINK } from '../../daemon/src/hw/pcie/endpoint-controller.js'
import { RootComplex, type EndpointFunction } from '../../daemon/src/hw/pcie/root-complex.js'
import { PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_STATUS, PCI_STATUS_INTERRUPT } from '../../daemon/src/hw/pcie/config-header.js'

interface Pair { rc: SoclinkNode, ep: SoclinkNode, root: RootComplex, ctrl: EndpointController, found: EndpointFunction[], removed: string[] }

/** An rc and an ep that dials it, wired as the composition root would. */
async function pair (t: Test): Promise<Pair> {
  // Daemons whose role builds no PCIe hardware between them (an NTB board
  // acts only on host peers, ntb-virtio and ntb-vhost, and these are boards):
  // this test wires the hardware models by hand.
  const rc = await startNode('rc', ['--role', 'ntb'])
  const ep = await startNode('ep', ['--role', 'ntb', '--peer', linkUrl(rc)])
  t.teardown(async () => { await ep.stop('test'); await rc.stop('test') })
  const root = new RootComplex({ regions: rc.regions, requester: rc.requester, doorbells: rc.doorbells, memorySize: 1 << 30, logger: rc.logger })
  rc.links.on('frame', (link, d) => {
    const le = d.frame.linkEvent
    if (le != null && le.link === PCIE_LINK) root.linkEvent(link.name, le.up === true, le.reason ?? '')
  })
  rc.links.on('down', (link, reason) => { root.peerDown(link.name, reason) })
  const ctrl = new EndpointController({
    regions: ep.regions,
    requester: ep.requester,
    doorbellRing: (target, value) => { ep.ring('rc', target, value) },
    sendLinkEvent: (up, reason) => { ep.sendLinkEvent('rc', PCIE_LINK, up, reason) },
    rcPeer: 'rc',
    name: 'pcie0'
  })
  ep.links.on('up', (link) => { if (link.name === 'rc') ctrl.peerUp() })
  const found: EndpointFunction[] = []
  const removed: string[] = []
  root.on('enumerated', (fn) => { found.push(fn) })
  root.on('removed', (peer) => { removed.push(peer) })
  root.on('failed', (peer, message) => { t.fail(`enumeration of ${peer} failed: ${message}`) })
  return { rc, ep, root, ctrl, found, removed }
}

function configure (ctrl: EndpointController): void {
  ctrl.setHeader({ vendorId: 0x104c, deviceId: 0xb500, subsystemVendorId: 0x1af4, subsystemId: 7, classCode: 0xff0000, interruptPin: 1 })
  ctrl.setBar(0, 0x1000)
}

t.test('the rc enumerates the ep function and both reach each other', async (t) => {
  const { rc, ep, root, ctrl, found, removed } = await pair(t)
  await until('ep linked to rc', () => ep.links.get('rc')?.state === 'up' ? true : undefined)
  configure(ctrl)
  ctrl.start()
  const fn = await until('enumerated', () => found[0])

  t.equal(fn.peer, 'ep')
  t.same(fn.header, { vendorId: 0x104c, deviceId: 0xb500, revisionId: 0, classCode: 0xff0000, subsystemVendorId: 0x1af4, subsystemId: 7, interruptPin: 1 })
  t.equal(fn.bars.length, 1, 'one implemented BAR')
  const bar0 = fn.bars[0]!
  t.match(bar0, { index: 0, size: 0x1000, flags: 0, busAddress: 0x4000_0000 }, 'BAR0 sized by the 0xFFFFFFFF protocol and placed on the bus')
  t.equal(ctrl.state().bars[0]!.busAddress, 0x4000_0000, 'the ep kept the address the rc gave')
  t.equal(ctrl.state().command & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 'decode and bus mastering on')
  t.equal(fn.config.read16(PCI_COMMAND), ctrl.state().command, "the rc's config replica agrees")
  t.same(root.resolve(0x4000_0010), { peer: 'ep', bar: bar0, offset: 0x10 })
  t.match(root.state().functions, [{ peer: 'ep', state: 'ready', vendorId: 0x104c, bars: [{ index: 0, size: 0x1000, busAddress: 0x4000_0000 }] }])

  // rc -> BAR0 (a memory write through the rc's window) and back.
  const epBar0 = ep.regions.get('pcie.bar0')
  bar0.window.write32(0x10, 0xcafe_f00d)
  await until('rc write in the ep BAR', () => epBar0.read32(0x10) === 0xcafe_f00d ? true : undefined)
  epBar0.write32(0x20, 0x1234_5678)
  await until('ep write in the rc replica', () => bar0.window.read32(0x20) === 0x1234_5678 ? true : undefined)

  // ep -> rc system memory through an outbound window; the MSI follows the write.
  const msis: Array<{ vector: number, seen: number }> = []
  root.onMsi('ep', (vector) => { msis.push({ vector, seen: root.sysmem.read32(0x10_0020) }) })
  const out = ctrl.mapOutbound(0x10_0000, 0x1000)
  await out.ready()
  out.window.write32(0x20, 0xfeed_beef)
  ctrl.raiseMsi(3)
  await until('the MSI', () => msis[0])
  t.same(msis, [{ vector: 3, seen: 0xfeed_beef }], 'MSI 3 arrived after the write that preceded it')
  t.equal(root.state().functions[0]!.msi, 1)
  rc.regions.get('pcie.sysmem').write32(0x10_0040, 0xabcd)
  await until('rc memory in the outbound replica', () => out.window.read32(0x40) === 0xabcd ? true : undefined)

  const levels: boolean[] = []
  root.onIntx('ep', (level) => { levels.push(level) })
  ctrl.raiseIntx(true)
  await until('INTx asserted', () => levels.length === 1 ? true : undefined)
  t.equal(fn.config.read16(PCI_STATUS) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT, 'Interrupt Status set before the assert arrived')
  ctrl.raiseIntx(false)
  await until('INTx deasserted', () => levels.length === 2 ? true : undefined)
  t.same(levels, [true, false])
  t.match(ctrl.state().counters, { msi: 1, intxAssert: 1, intxDeassert: 1, outboundMaps: 1 })

  ctrl.stop()
  await until('removed', () => removed[0])
  t.same(removed, ['ep'])
  t.equal(out.window.state, 'closed', 'outbound window unmapped')
  t.equal(bar0.window.state, 'closed', "the rc's BAR window closed")
  t.equal(ep.regions.find('pcie.cfg'), undefined)
  t.equal(ep.regions.find('pcie.bar0'), undefined)
  t.same(root.state().functions, [])

  // Started again: enumerated again, at the same (freed) bus address.
  configure(ctrl)
  ctrl.start()
  const again = await until('enumerated again', () => found[1])
  t.equal(again.bars[0]!.busAddress, 0x4000_0000)
  t.equal(root.spurious, 0)
})

t.test('an ep started before its link comes up is found; a lost link removes it', async (t) => {
  const { ep, root, ctrl, found, removed } = await pair(t)
  configure(ctrl)
  ctrl.setBar(2, 0x10_0000, 0x4 | 0x8)
  ctrl.start()
  const fn = await until('enumerated', () => found[0])
  t.match(fn.bars, [{ index: 0, size: 0x1000, flags: 0 }, { index: 2, size: 0x10_0000, flags: 0x0c }], 'a 64-bit prefetchable BAR sized through both registers')
  t.equal(fn.bars[1]!.busAddress, 0x4000_0000, 'the largest BAR placed first')
  t.equal(fn.bars[0]!.busAddress, 0x4010_0000)
  t.equal(ctrl.state().bars[1]!.busAddress, 0x4000_0000)
  await ep.stop('test')
  await until('removed', () => removed[0])
  t.equal(root.functionOf('ep'), null)
})
