// The vhost configfs model (daemon/src/vhost/cfs.ts): item names from id
// tables as vhost_register_driver() makes them ("%08x:%08x", vendor then
// device), and the tree's answers over sides that list transport devices:
// -ENODEV, unknown clients, -EBUSY for a busy or linked device.

import t from 'tap'
import { VhostCfs, clientItemName, clientItems, type VhostClientItem, type VhostTransportSide, type VhostTransportState } from '../../daemon/src/vhost/cfs.js'
import { TestVhostDriver } from '../../daemon/src/vhost/vhost-soclink-test.js'
import { VhostRpmsgDriver } from '../../daemon/src/rpmsg/vhost-rpmsg.js'
import type { VhostDriver } from '../../daemon/src/vhost/vhost.js'
import { VIRTIO_DEV_ANY_ID } from '../../daemon/src/uapi/soclink-ids.js'

const rpmsg = new VhostRpmsgDriver()
const test = new TestVhostDriver()

/** A driver with a terminated table: entries after the one with device 0 are not read. */
const terminated: VhostDriver = {
  name: 'net-ish',
  idTable: [{ device: 1, vendor: 0x1af4 }, { device: 0, vendor: 0 }, { device: 2, vendor: 0x1af4 }],
  probe: async () => {},
  remove: async () => {}
}

t.test('item names: "%08x:%08x", vendor then device', async (t) => {
  t.equal(clientItemName({ vendor: VIRTIO_DEV_ANY_ID, device: 7 }), 'ffffffff:00000007')
  t.equal(clientItemName({ vendor: 0x1af4, device: 0xffe0 }), '00001af4:0000ffe0')
  t.same(clientItems(rpmsg), [{ driver: 'vhost_rpmsg_bus', item: 'ffffffff:00000007', id: { device: 7, vendor: VIRTIO_DEV_ANY_ID } }], 'vhost_rpmsg: {VIRTIO_ID_RPMSG, VIRTIO_DEV_ANY_ID}')
  t.same(clientItems(test).map((i) => `${i.driver}/${i.item}`), ['soclink-test-vhost/ffffffff:0000ffe0'], 'the test driver')
  t.same(clientItems(terminated).map((i) => i.item), ['00001af4:00000001'], 'the table ends at device 0')
})

class FakeSide implements VhostTransportSide {
  readonly linked: Array<[string, VhostClientItem | null]> = []
  constructor (readonly drivers: readonly VhostDriver[], readonly state: VhostTransportState[]) {}
  devices (): VhostTransportState[] { return this.state.map((s) => ({ ...s })) }
  link (device: string, item: VhostClientItem): void {
    this.linked.push([device, item])
    this.state.find((s) => s.name === device)!.link = { driver: item.driver, item: item.item }
  }

  unlink (device: string): void {
    this.linked.push([device, null])
    this.state.find((s) => s.name === device)!.link = null
  }
}

const dev = (name: string, over: Partial<VhostTransportState> = {}): VhostTransportState =>
  ({ name, kind: 'pci-epf-vhost', link: null, vhostDevice: null, busy: null, ...over })

t.test('clients and transports: every side, a driver once', async (t) => {
  const a = new FakeSide([test, rpmsg], [dev('f1'), dev('f2', { link: { driver: 'vhost_rpmsg_bus', item: 'ffffffff:00000007' }, vhostDevice: 'vhost0', busy: 'started' })])
  const b = new FakeSide([rpmsg, terminated], [dev('ntb0', { kind: 'ntb-vhost' })])
  const cfs = new VhostCfs([a, b])
  t.same(cfs.clients(), [
    { name: 'soclink-test-vhost', items: [{ name: 'ffffffff:0000ffe0', vendor: VIRTIO_DEV_ANY_ID, device: 0xffe0 }] },
    { name: 'vhost_rpmsg_bus', items: [{ name: 'ffffffff:00000007', vendor: VIRTIO_DEV_ANY_ID, device: 7 }] },
    { name: 'net-ish', items: [{ name: '00001af4:00000001', vendor: 0x1af4, device: 1 }] }
  ])
  t.same(cfs.transports(), [
    { name: 'f1', kind: 'pci-epf-vhost', link: null, vhostDevice: null, busy: false, registered: false },
    { name: 'f2', kind: 'pci-epf-vhost', link: { driver: 'vhost_rpmsg_bus', item: 'ffffffff:00000007' }, vhostDevice: 'vhost0', busy: true, registered: true },
    { name: 'ntb0', kind: 'ntb-vhost', link: null, vhostDevice: null, busy: false, registered: false }
  ])
  t.same(new VhostCfs([]).clients(), [])
  t.same(new VhostCfs([]).transports(), [])
})

t.test('link and unlink: names resolved on the device\'s side, busy and linked devices refused', async (t) => {
  const a = new FakeSide([test, rpmsg], [dev('f1'), dev('f2', { link: { driver: 'soclink-test-vhost', item: 'ffffffff:0000ffe0' }, busy: 'controller pcie0 is started; stop it first' })])
  const b = new FakeSide([terminated], [dev('ntb0', { kind: 'ntb-vhost' })])
  const cfs = new VhostCfs([a, b])

  await t.rejects(cfs.link('f9', 'vhost_rpmsg_bus', 'ffffffff:00000007'), { code: 'ERR_NOT_FOUND', message: /no such device/ }, 'unknown device')
  await t.rejects(cfs.link('f1', 'vhost_net', 'ffffffff:00000001'), { code: 'ERR_NOT_FOUND', message: /vhost-client driver/ }, 'unknown driver')
  await t.rejects(cfs.link('f1', 'vhost_rpmsg_bus', 'ffffffff:00000008'), { code: 'ERR_NOT_FOUND', message: /vhost-client item/ }, 'unknown item')
  await t.rejects(cfs.link('ntb0', 'vhost_rpmsg_bus', 'ffffffff:00000007'), { code: 'ERR_NOT_FOUND' }, 'a driver of another side is not a client of this device')
  await t.rejects(cfs.link('f2', 'vhost_rpmsg_bus', 'ffffffff:00000007'), { code: 'ERR_BUSY', message: /pcie0 is started/ }, 'busy')
  await t.rejects(cfs.unlink('f2'), { code: 'ERR_BUSY' }, 'busy: no unlink either')
  await t.rejects(cfs.unlink('f1'), { code: 'ERR_NOT_FOUND' }, 'nothing linked')
  await t.rejects(cfs.unlink('f9'), { code: 'ERR_NOT_FOUND', message: /no such device/ })
  t.same(a.linked, [], 'no refused request reached the side')

  t.same(await cfs.link('f1', 'vhost_rpmsg_bus', 'ffffffff:00000007'),
    { name: 'f1', kind: 'pci-epf-vhost', link: { driver: 'vhost_rpmsg_bus', item: 'ffffffff:00000007' }, vhostDevice: null, busy: false, registered: false }, 'linked')
  t.same(a.linked, [['f1', { driver: 'vhost_rpmsg_bus', item: 'ffffffff:00000007', id: { device: 7, vendor: VIRTIO_DEV_ANY_ID } }]], 'the side got the item with its id')
  await t.rejects(cfs.link('f1', 'soclink-test-vhost', 'ffffffff:0000ffe0'), { code: 'ERR_BUSY', message: /unlink it first/ }, 'a second link')
  t.same((await cfs.unlink('f1')).link, null, 'unlinked')
  t.same((await cfs.link('ntb0', 'net-ish', '00001af4:00000001')).link, { driver: 'net-ish', item: '00001af4:00000001' }, 'the other side links its own')
  t.same(b.linked.map(([d]) => d), ['ntb0'])
})
