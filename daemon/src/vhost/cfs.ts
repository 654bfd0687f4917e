// The RFC's vhost configfs tree (drivers/vhost/vhost_cfs.c, [P 06]):
// /sys/kernel/config/vhost/vhost-client/ has a group per registered vhost
// driver (vhost_register_driver) holding one item per id-table entry, named
// "%08x:%08x" (vendor, device); vhost-transport/ has a group per transport
// device (ntb_vhost: vhost_cfs_add_device_item(), named dev_name(parent)).
// Symlinking a client item into a transport device gives the device its
// id and registers it on the vhost bus; unlinking unregisters it (both
// settle once the driver probed or was removed, as the kernel's symlink
// returns after vhost_register_device()). Directories and links only, no
// attributes.
//
// The tree keeps no state of its own: each side of a daemon that has vhost
// transports (a role) lists its devices and does the link and the unlink;
// the tree resolves names and answers as the kernel does: -ENODEV for an
// unknown device, -ENOENT for an unknown client item, -EBUSY for a device
// that is in use or already linked. Pure: no sockets, no timers.

import { BusyError, NotFoundError } from '../errors.js'
import type { DeviceId } from '../uapi/soclink-ids.js'
import type { VhostDriver } from './vhost.js'

/** One item of vhost-client/<driver>/: an id-table entry of a registered vhost driver. */
export interface VhostClientItem { driver: string, item: string, id: DeviceId }

export interface VhostClientView { name: string, items: Array<{ name: string, vendor: number, device: number }> }

/** Which code made the transport group: pci-epf-vhost keeps it under its pci_ep function directory, ntb_vhost under vhost-transport/. */
export type VhostTransportKind = 'pci-epf-vhost' | 'ntb-vhost'

/** A transport device as its side reports it. */
export interface VhostTransportState {
  name: string
  kind: VhostTransportKind
  /** The client item linked into it, or null. */
  link: { driver: string, item: string } | null
  /** The vhost device registered for it on the bus (vhost<n>), or null. */
  vhostDevice: string | null
  /** Why its link cannot change now (an ep function whose controller is started), or null. */
  busy: string | null
}

export interface VhostTransportView extends Omit<VhostTransportState, 'busy'> { registered: boolean, busy: boolean }

/**
 * What a role implements to appear in the tree: the drivers of its vhost
 * bus (vhost-client/), its transport devices (vhost-transport/), and the
 * link and unlink themselves. The tree checks names and busy first.
 */
export interface VhostTransportSide {
  readonly drivers: readonly VhostDriver[]
  devices (): VhostTransportState[]
  link (device: string, item: VhostClientItem): void | Promise<void>
  unlink (device: string): void | Promise<void>
}

const hex8 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0')

/** The item name vhost_register_driver() gives an id entry: "%08x:%08x", vendor then device. */
export function clientItemName (id: DeviceId): string {
  return `${hex8(id.vendor)}:${hex8(id.device)}`
}

/** A driver's items: its id entries up to the terminating one (device 0), as vhost_dev_match() reads the table. */
export function clientItems (drv: VhostDriver): VhostClientItem[] {
  const items: VhostClientItem[] = []
  for (const id of drv.idTable) {
    if (id.device === 0) break
    items.push({ driver: drv.name, item: clientItemName(id), id })
  }
  return items
}

export class VhostCfs {
  private readonly sides: readonly VhostTransportSide[]

  constructor (sides: readonly VhostTransportSide[]) {
    this.sides = sides
  }

  /** vhost-client/: a group per registered driver (once, if several sides register the same one). */
  clients (): VhostClientView[] {
    const seen = new Map<string, VhostClientView>()
    for (const side of this.sides) {
      for (const drv of side.drivers) {
        if (seen.has(drv.name)) continue
        seen.set(drv.name, { name: drv.name, items: clientItems(drv).map((i) => ({ name: i.item, vendor: i.id.vendor, device: i.id.device })) })
      }
    }
    return [...seen.values()]
  }

  /** vhost-transport/: every side's devices. */
  transports (): VhostTransportView[] {
    return this.sides.flatMap((side) => side.devices().map(view))
  }

  transport (device: string): VhostTransportView {
    return view(this.find(device).state)
  }

  /** ln -s vhost-client/<driver>/<item> vhost-transport/<device>/. */
  async link (device: string, driver: string, item: string): Promise<VhostTransportView> {
    const { side, state } = this.find(device)
    const drv = side.drivers.find((d) => d.name === driver)
    if (drv === undefined) throw new NotFoundError('vhost-client driver', driver)
    const it = clientItems(drv).find((i) => i.item === item)
    if (it === undefined) throw new NotFoundError('vhost-client item', `${driver}/${item}`)
    if (state.busy !== null) throw new BusyError(`vhost-transport ${device} is busy: ${state.busy}`)
    if (state.link !== null) throw new BusyError(`vhost-transport ${device} is busy: ${state.link.driver}/${state.link.item} is linked; unlink it first`)
    await side.link(device, it)
    return this.transport(device)
  }

  /** rm vhost-transport/<device>/<item>. */
  async unlink (device: string): Promise<VhostTransportView> {
    const { side, state } = this.find(device)
    if (state.link === null) throw new NotFoundError('vhost-client item linked into vhost-transport', device)
    if (state.busy !== null) throw new BusyError(`vhost-transport ${device} is busy: ${state.busy}`)
    await side.unlink(device)
    return this.transport(device)
  }

  /** -ENODEV for a name that no side has. */
  private find (device: string): { side: VhostTransportSide, state: VhostTransportState } {
    for (const side of this.sides) {
      const state = side.devices().find((d) => d.name === device)
      if (state !== undefined) return { side, state }
    }
    throw new NotFoundError('such device: vhost-transport', device)
  }
}

function view (s: VhostTransportState): VhostTransportView {
  return { ...s, link: s.link === null ? null : { ...s.link }, registered: s.vhostDevice !== null, busy: s.busy !== null }
}
