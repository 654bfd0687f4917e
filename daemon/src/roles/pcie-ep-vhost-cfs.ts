// The ep's side of the vhost configfs tree (vhost/cfs.ts): one transport
// device per endpoint function, kind pci-epf-vhost, named after the
// function. The RFC keeps this group elsewhere: pci-epf-vhost adds it as
// dev_name(&epf->dev) under the function's own pci_ep configfs directory
// (functions/pci_epf_vhost/<fn>/), not under vhost/vhost-transport/; the
// REST tree lists it with the others. Linking a vhost-client item copies
// its device and vendor into the header's subsys_id and subsys_vendor_id
// (both u16, so VIRTIO_DEV_ANY_ID becomes 0xffff) and names the driver in
// the function's vhostDriver; the vhost device itself registers when the
// controller starts (EPF bind). While the controller is started the
// function is busy, as pci_ep configfs answers -EBUSY.

import type { PcieEndpointRole } from './pcie-ep.js'
import type { VHOST_DRIVERS } from '../hw/pcie/function-table.js'
import type { VhostDriver } from '../vhost/vhost.js'
import { clientItemName, clientItems, type VhostClientItem, type VhostTransportSide, type VhostTransportState } from '../vhost/cfs.js'
import { idTableMatch } from '../uapi/soclink-ids.js'
import { NotFoundError } from '../errors.js'

type ClientName = Exclude<typeof VHOST_DRIVERS[number], 'none'>

export class EpfVhostTransports implements VhostTransportSide {
  private readonly role: PcieEndpointRole
  /** The vhost drivers a function's vhostDriver names. */
  private readonly clients: Record<ClientName, VhostDriver>

  constructor (role: PcieEndpointRole) {
    this.role = role
    this.clients = { 'soclink-test': role.testDriver, rpmsg: role.rpmsgDriver }
  }

  get drivers (): readonly VhostDriver[] { return this.role.vhostBus.drivers }

  devices (): VhostTransportState[] {
    const { functions, controllers } = this.role.functions.tree()
    const epf = this.role.epf
    return functions.map((fn) => {
      const ctrl = controllers.find((c) => c.function === fn.name)
      const running = epf !== null && epf.fn === fn && this.role.vhostBus.devices.includes(epf.device)
      return {
        name: fn.name,
        kind: 'pci-epf-vhost',
        link: this.linked(fn.vhostDriver, { device: fn.subsysId, vendor: fn.subsysVendorId }),
        vhostDevice: running ? epf.device.name : null,
        busy: ctrl?.started === true ? `controller ${ctrl.name} is started; stop it first` : null
      }
    })
  }

  link (device: string, item: VhostClientItem): void {
    const name = (Object.keys(this.clients) as ClientName[]).find((k) => this.clients[k].name === item.driver)
    if (name === undefined) throw new NotFoundError('vhost-client driver a pci-epf-vhost function can name', item.driver)
    this.role.functions.update(device, { vhostDriver: name, subsysVendorId: item.id.vendor & 0xffff, subsysId: item.id.device & 0xffff })
  }

  unlink (device: string): void {
    this.role.functions.update(device, { vhostDriver: 'none' })
  }

  /** The item behind a function's vhostDriver: the entry its subsystem ids match, else the driver's first. */
  private linked (vhostDriver: string, ids: { device: number, vendor: number }): { driver: string, item: string } | null {
    const drv = Object.hasOwn(this.clients, vhostDriver) ? this.clients[vhostDriver as ClientName] : undefined
    if (drv === undefined) return null
    const items = clientItems(drv)
    const item = items.find((i) => idTableMatch([i.id], ids)) ?? items[0]
    return item === undefined ? null : { driver: drv.name, item: clientItemName(item.id) }
  }
}
