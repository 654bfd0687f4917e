// An ntb-vhost host's side of the vhost configfs tree (vhost/cfs.ts). The
// RFC's ntb_vhost probe creates the vhost device and adds a group for it
// with vhost_cfs_add_device_item(): vhost-transport/<dev_name(parent)>/,
// the NTB device's name (here ntb_hw_epf's, "ntb_hw_epf:<board>"), kind
// ntb-vhost. Linking a vhost-client item into it sets vdev->id and calls
// vhost_register_device() (the driver with that id probes); unlinking calls
// vhost_unregister_device() (the driver is removed), and the transport then
// withdraws its TYPE so the virtio host removes its device
// (transport/ntb-vhost.ts deviceUnregistered). Neither is ever busy.
//
// The link outlives the NTB device: the setting vhostDriver links its item
// at start (rpmsg: vhost_rpmsg_bus/ffffffff:00000007; none: nothing
// linked, the device waits unregistered), and whatever is linked when the
// board's function comes back is linked again, as a boot script would.

import type { Logger } from 'pino'
import type { NtbHostRole } from './ntb-host.js'
import type { NtbVhost } from '../transport/ntb-vhost.js'
import type { VhostBus } from '../vhost/bus.js'
import type { VhostDriver } from '../vhost/vhost.js'
import { clientItems, type VhostClientItem, type VhostTransportSide, type VhostTransportState } from '../vhost/cfs.js'
import { idTableMatch, vhostDriverDeviceId, VIRTIO_DEV_ANY_ID } from '../uapi/soclink-ids.js'

/** The vhost-client item linked into an ntb-vhost host's transport device, and the registration it makes. */
export class NtbVhostLink {
  /** The linked item; null: none (vhostDriver none, or unlinked). */
  item: VhostClientItem | null

  /** `vhostDriver`: the setting, naming the item linked at start (the bus's drivers are registered by now). */
  constructor (private readonly bus: VhostBus, vhostDriver: string, private readonly logger: Logger) {
    const device = vhostDriverDeviceId(vhostDriver)
    const id = { device: device ?? 0, vendor: VIRTIO_DEV_ANY_ID }
    this.item = device === null ? null : bus.drivers.flatMap(clientItems).find((i) => idTableMatch([i.id], id)) ?? null
  }

  /** Whether `t`'s vhost device is on the bus. */
  registered (t: NtbVhost): boolean { return this.bus.devices.includes(t.device) }

  /** ntb_vhost probe: with an item linked, the device takes its id and registers; without, it waits for a link. */
  async attach (t: NtbVhost): Promise<void> {
    if (this.item === null) {
      this.logger.info({ device: t.ntb.name }, 'no vhost-client item linked: the vhost device waits for one (vhost configfs)')
      return
    }
    await this.register(t, this.item)
  }

  /** ln -s: the item is linked; the device of the transport there now, if any, registers with its id. */
  async link (t: NtbVhost | null, item: VhostClientItem): Promise<void> {
    this.item = item
    if (t !== null) await this.register(t, item)
  }

  /** rm: vhost_unregister_device(), then the transport tells the virtio side. */
  async unlink (t: NtbVhost | null): Promise<void> {
    this.item = null
    if (t === null) return
    await this.bus.unregisterDevice(t.device)
    t.deviceUnregistered()
    this.logger.info({ device: t.ntb.name, vhost: t.device.name }, 'vhost device unregistered (vhost configfs unlink)')
  }

  private async register (t: NtbVhost, item: VhostClientItem): Promise<void> {
    if (this.registered(t)) return
    t.device.id = { ...item.id }
    const outcome = await this.bus.registerDevice(t.device)
    this.logger.info({ device: t.device.name, driver: item.driver, item: item.item, outcome }, 'vhost device registered')
    // An unlink may have come while the driver probed.
    if (this.registered(t)) t.deviceRegistered()
  }
}

/** The tree's view of an ntb-vhost host: one transport device while the NTB device is bound. */
export class NtbVhostTransports implements VhostTransportSide {
  constructor (private readonly role: NtbHostRole) {}

  get drivers (): readonly VhostDriver[] { return this.role.vhostBus?.drivers ?? [] }

  devices (): VhostTransportState[] {
    const t = this.role.vhost
    const l = this.role.vhostLink
    if (t === null || l === null) return []
    return [{
      name: t.ntb.name,
      kind: 'ntb-vhost',
      link: l.item === null ? null : { driver: l.item.driver, item: l.item.item },
      vhostDevice: l.registered(t) ? t.device.name : null,
      busy: null
    }]
  }

  async link (_device: string, item: VhostClientItem): Promise<void> { await this.role.vhostLink?.link(this.role.vhost, item) }

  async unlink (_device: string): Promise<void> { await this.role.vhostLink?.unlink(this.role.vhost) }
}
