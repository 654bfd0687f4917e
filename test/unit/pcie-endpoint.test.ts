// The endpoint controller's rules (pci_epc: BARs set while stopped, no IRQs
// or outbound maps while stopped) and the root complex's enumeration when
// things go wrong, over in-memory links (test/support/mem-node.ts).

import t from 'tap'
import pino from 'pino'
import { MemNode, connect } from '../support/mem-node.js'
import { settle } from '../support/loop-link.js'
import { EndpointController, MSI_DOORBELL } from '../../daemon/src/hw/pcie/endpoint-controller.js'
import { RootComplex, type EndpointFunction } from '../../daemon/src/hw/pcie/root-complex.js'
import { PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_STATUS, PCI_STATUS_INTERRUPT } from '../../daemon/src/hw/pcie/config-header.js'

function rig (): { ep: MemNode, rc: MemNode, ctrl: EndpointController, root: RootComplex, events: string[], ends: ReturnType<typeof connect> } {
  const ep = new MemNode('ep')
  const rc = new MemNode('rc')
  const ends = connect(ep, rc)
  const root = new RootComplex({ regions: rc.regions, requester: rc.requester, doorbells: rc.doorbells, memorySize: 1 << 20, logger: pino({ level: 'silent' }) })
  const events: string[] = []
  const ctrl = new EndpointController({
    regions: ep.regions,
    requester: ep.requester,
    doorbellRing: (target, value) => { ep.doorbells.ring(ep.links.get('rc')!, target, value) },
    sendLinkEvent: (up) => { events.push(`link ${up ? 'up' : 'down'}`); root.linkEvent('ep', up) },
    rcPeer: 'rc',
    name: 'pcie0'
  })
  root.on('enumerated', (fn) => { events.push(`enumerated ${fn.peer}`) })
  root.on('removed', (peer) => { events.push(`removed ${peer}`) })
  root.on('failed', (peer, message) => { events.push(`failed ${peer}: ${message}`) })
  return { ep, rc, ctrl, root, events, ends }
}

t.test('BARs, header and interrupts follow the controller state', async (t) => {
  const { ctrl } = rig()
  t.throws(() => ctrl.setBar(6, 0x1000), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => ctrl.setBar(0, 0x1800), { code: 'ERR_OUT_OF_RANGE' }, 'not a power of two')
  t.throws(() => ctrl.setBar(0, 8), { code: 'ERR_OUT_OF_RANGE' }, 'below 16 bytes')
  t.throws(() => ctrl.setBar(5, 0x1000, 4), { code: 'ERR_OUT_OF_RANGE' }, 'a 64-bit BAR5 has no upper half')
  t.throws(() => ctrl.setBar(0, 0x1000, 0x10), { code: 'ERR_OUT_OF_RANGE' }, 'not a flag bit')
  t.throws(() => ctrl.setHeader({ vendorId: 0x1_0000 }), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => ctrl.setHeader({ interruptPin: 5 }), { code: 'ERR_OUT_OF_RANGE' })
  ctrl.setBar(2, 0x1000, 4)
  t.throws(() => ctrl.setBar(3, 0x1000), { code: 'ERR_CONFLICT' }, "BAR3 is BAR2's upper half")
  t.throws(() => ctrl.setBar(2, 0x1000), { code: 'ERR_CONFLICT' })
  t.throws(() => ctrl.raiseMsi(0), { code: 'ERR_CONFLICT' }, 'no MSI while stopped')
  t.throws(() => ctrl.mapOutbound(0, 0x1000), { code: 'ERR_CONFLICT' })
  ctrl.clearBar(2)
  t.same(ctrl.state().bars, [])
  ctrl.setBar(0, 0x1000)
  ctrl.start()
  t.throws(() => ctrl.setBar(1, 0x1000), { code: 'ERR_CONFLICT' }, 'busy while started')
  t.throws(() => ctrl.setHeader({ deviceId: 1 }), { code: 'ERR_CONFLICT' })
  t.throws(() => ctrl.raiseMsi(2048), { code: 'ERR_OUT_OF_RANGE' })
  t.match(ctrl.state(), { started: true, bars: [{ index: 0, size: 0x1000, region: 'pcie.bar0' }] })
})

t.test('the rc fails a function with no vendor, and finds it once it has one', async (t) => {
  const { ctrl, root, events, ends } = rig()
  ctrl.setHeader({ vendorId: 0xffff })
  ctrl.setBar(0, 0x1000)
  ctrl.start()
  await settle(ends)
  t.match(events, ['link up', /^failed ep: no function behind ep/])
  t.match(root.state().functions, [{ peer: 'ep', state: 'failed', lastError: /vendor id 0xffff/ }])
  ctrl.stop()
  ctrl.setHeader({ vendorId: 0x104c })
  ctrl.setBar(0, 0x1000)
  ctrl.start()
  await settle(ends)
  t.same(events.slice(2), ['link down', 'link up', 'enumerated ep'])
  t.equal(root.state().functions[0]!.state, 'ready')
})

t.test('a link that goes down during enumeration leaves nothing behind', async (t) => {
  const { ctrl, root, rc, events, ends } = rig()
  ctrl.setBar(0, 0x1000)
  ctrl.start()
  root.peerDown('ep')
  await settle(ends)
  t.same(events, ['link up'], 'neither enumerated nor removed')
  t.same(rc.requester.list(), [], 'every window closed')
  t.same(root.state().functions, [])
})

t.test('a link event from a peer with no config space fails it', async (t) => {
  const { root, events, ends } = rig()
  root.linkEvent('ep', true)
  await settle(ends)
  t.match(events, [/^failed ep: .*pcie\.cfg/])
})

t.test('interrupts with no function are counted; destroy removes the rc model', async (t) => {
  const { ep, rc, root, ends } = rig()
  ep.doorbells.ring(ep.links.get('rc')!, MSI_DOORBELL, 1)
  await settle(ends)
  t.equal(root.spurious, 1)
  root.destroy()
  t.same(rc.doorbells.list(), [])
  t.equal(rc.regions.find('pcie.sysmem'), undefined)
})

// PCI Local Bus Spec 3.0 §6.2.2 and §6.2.3: with COMMAND's Interrupt Disable
// (bit 10) set the function may not assert INTx#, and one asserted is
// deasserted; Status.Interrupt keeps the function's interrupt state either way,
// so clearing the bit again asserts the pin of an interrupt still pending.
t.test('INTx honours the Interrupt Disable bit of COMMAND', async (t) => {
  const { ctrl, root, ends } = rig()
  const found: EndpointFunction[] = []
  root.on('enumerated', (fn) => { found.push(fn) })
  ctrl.setBar(0, 0x1000)
  ctrl.start()
  await settle(ends)
  const cfg = found[0]!.config
  const levels: boolean[] = []
  root.onIntx('ep', (level) => { levels.push(level) })
  const command = cfg.read16(PCI_COMMAND)
  cfg.write16(PCI_COMMAND, command | PCI_COMMAND_INTX_DISABLE)
  await settle(ends)
  t.equal(ctrl.state().command & PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_INTX_DISABLE, 'the bit is writable')
  ctrl.raiseIntx(true)
  await settle(ends)
  t.same(levels, [], 'no INTx while disabled')
  t.equal(cfg.read16(PCI_STATUS) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT, 'Interrupt Status shows the pending interrupt')
  t.equal(ctrl.state().intx, false)
  cfg.write16(PCI_COMMAND, command)
  await settle(ends)
  t.same(levels, [true], 'enabled again: the pending interrupt asserts the pin')
  cfg.write16(PCI_COMMAND, command | PCI_COMMAND_INTX_DISABLE)
  await settle(ends)
  t.same(levels, [true, false], 'disabled while asserted: deasserted')
  ctrl.raiseIntx(false)
  cfg.write16(PCI_COMMAND, command)
  await settle(ends)
  t.same(levels, [true, false], 'nothing pending: nothing asserted')
  t.equal(cfg.read16(PCI_STATUS) & PCI_STATUS_INTERRUPT, 0)
})
