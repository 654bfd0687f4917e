// The rpmsg bus's driver model (drivers/rpmsg/rpmsg_core.c) and its configfs
// face (the RFC's drivers/rpmsg/rpmsg_cfs.c, Documentation/rpmsg.txt).
//
// Drivers: an rpmsg driver names the channels it serves in its id table
// (struct rpmsg_device_id); rpmsg_dev_match() pairs a channel with the first
// registered driver whose id table holds the channel's name, and the
// driver's probe() runs when the channel appears on any bus attached to the
// table (a virtio-side or a vhost-side rpmsg bus), or when the driver is
// registered after the channel. Before probe() the channel is bound to the
// driver (RpmsgBusCore.claimChannel: on the virtio side its endpoint is made
// and AS ASSIGN sent, as rpmsg_dev_probe() does); a channel another driver or
// an application holds is left alone (-EBUSY). remove() runs when the channel is destroyed,
// when its bus stops, or when the driver is unregistered. A probe that
// throws leaves the channel unbound (kept in lastError), as a failed
// rpmsg_dev_probe() does.
//
// configfs: /sys/kernel/config/rpmsg/channel/<id>/ is a group per id-table
// entry of each registered driver (__register_rpmsg_driver); mkdir makes an
// item in it. /sys/kernel/config/rpmsg/virtproc/<dev>/ is one per vhost
// rpmsg device. Linking an item into a virtproc creates a channel on that
// device named after the item's GROUP, not the item (the RFC does the
// same), and announces it; unlinking destroys it. A linked item is busy
// (-EBUSY): it cannot be linked again or removed. Links die with their
// virtproc's device, as configfs entries under a removed directory do.

import { EventEmitter } from 'node:events'
import { BusyError, ConflictError, NotFoundError, type SoclinkError } from '../errors.js'
import { asSoclinkError } from '../virtio/virtio.js'
import type { RpmsgBusCore, RpmsgChannel } from './core.js'

/** Where a channel lives: the side of the link and the virtio or vhost device its bus runs on (rpdev->dev.parent). */
export interface RpmsgParent { side: 'virtio' | 'vhost', device: string }

/** struct rpmsg_driver: a name, the channel names it serves, probe and remove. */
export interface RpmsgDriver {
  readonly name: string
  readonly idTable: readonly string[]
  probe (channel: RpmsgChannel, parent: RpmsgParent): void
  remove (channel: RpmsgChannel): void
}

/** What a vhost rpmsg device does for a configfs link: vhost_rpmsg_create_channel() and its undo. */
export interface Virtproc {
  createChannel (name: string): RpmsgChannel
  destroyChannel (name: string): void
}

export interface ChannelItemView { name: string, link: string | null }
export interface ChannelGroupView { name: string, driver: string, items: ChannelItemView[] }
export interface VirtprocLinkView { group: string, item: string, channel: { name: string, src: number } }
export interface VirtprocView { name: string, links: VirtprocLinkView[] }

export interface RpmsgDriverTableEvents {
  /** A bus was attached (a virtio or vhost rpmsg device probed). */
  attached: [bus: RpmsgBusCore, parent: RpmsgParent]
  detached: [bus: RpmsgBusCore, parent: RpmsgParent]
}

interface Attached { parent: RpmsgParent, virtproc: Virtproc | null, off: () => void }
interface Item { link: { device: string, channel: RpmsgChannel } | null }

export class RpmsgDriverTable extends EventEmitter<RpmsgDriverTableEvents> {
  /** The last probe or remove that threw. */
  lastError: SoclinkError | null = null
  private readonly drivers: RpmsgDriver[] = []
  private readonly buses = new Map<RpmsgBusCore, Attached>()
  private readonly bound = new Map<RpmsgChannel, RpmsgDriver>()
  /** channel/<group>/<item>; a group per id-table entry of a registered driver. */
  private readonly groups = new Map<string, { driver: string, items: Map<string, Item> }>()

  /** register_rpmsg_driver(): its configfs groups, then a probe for every unbound channel it matches. */
  register (drv: RpmsgDriver): void {
    if (this.drivers.some((d) => d.name === drv.name)) throw new ConflictError(`rpmsg driver ${drv.name} is registered`)
    const taken = drv.idTable.find((id) => this.groups.has(id))
    if (taken !== undefined) throw new ConflictError(`rpmsg channel group ${taken} belongs to another driver`)
    this.drivers.push(drv)
    for (const id of drv.idTable) this.groups.set(id, { driver: drv.name, items: new Map() })
    for (const [bus, at] of this.buses) {
      for (const ch of bus.channels.values()) if (!this.bound.has(ch)) this.probe(ch, at.parent)
    }
  }

  /** unregister_rpmsg_driver(): remove from every channel it serves; its groups go, unlinking their items. */
  unregister (name: string): void {
    const drv = this.driver(name)
    if (drv === undefined) throw new NotFoundError('rpmsg driver', name)
    for (const id of drv.idTable) {
      for (const [item, it] of this.groups.get(id)!.items) if (it.link !== null) this.unlink(it.link.device, id, item)
      this.groups.delete(id)
    }
    for (const [ch, d] of [...this.bound]) if (d === drv) this.release(ch)
    this.drivers.splice(this.drivers.indexOf(drv), 1)
  }

  driver (name: string): RpmsgDriver | undefined { return this.drivers.find((d) => d.name === name) }

  /** The driver bound to a channel. */
  driverOf (ch: RpmsgChannel): RpmsgDriver | undefined { return this.bound.get(ch) }

  /** Every attached bus with where it runs, in attach order. */
  attachedBuses (): Array<{ bus: RpmsgBusCore, parent: RpmsgParent }> {
    return [...this.buses].map(([bus, at]) => ({ bus, parent: at.parent }))
  }

  /** Where an attached bus runs. */
  parentOf (bus: RpmsgBusCore): RpmsgParent | undefined { return this.buses.get(bus)?.parent }

  /** A bus whose channels this table matches from now on; a vhost one (virtproc) also takes configfs links. */
  attach (bus: RpmsgBusCore, parent: RpmsgParent, virtproc: Virtproc | null = null): void {
    if (this.buses.has(bus)) return
    const created = (ch: RpmsgChannel): void => { this.probe(ch, parent) }
    const destroyed = (ch: RpmsgChannel): void => { this.release(ch) }
    bus.on('channel-created', created)
    bus.on('channel-destroyed', destroyed)
    this.buses.set(bus, { parent, virtproc, off: () => { bus.off('channel-created', created); bus.off('channel-destroyed', destroyed) } })
    for (const ch of bus.channels.values()) this.probe(ch, parent)
    this.emit('attached', bus, parent)
  }

  /** The bus stopped: remove drivers from what is left of its channels, and drop its virtproc's links. */
  detach (bus: RpmsgBusCore): void {
    const at = this.buses.get(bus)
    if (at === undefined) return
    this.buses.delete(bus)
    at.off()
    for (const ch of [...this.bound.keys()]) if (ch.bus === bus) this.release(ch)
    if (at.virtproc !== null) {
      for (const g of this.groups.values()) {
        for (const it of g.items.values()) if (it.link?.device === at.parent.device) it.link = null
      }
    }
    this.emit('detached', bus, at.parent)
  }

  private probe (ch: RpmsgChannel, parent: RpmsgParent): void {
    const drv = this.drivers.find((d) => d.idTable.includes(ch.name))
    if (drv === undefined || this.bound.has(ch)) return
    try {
      // rpmsg_dev_probe(): the channel is bound (its endpoint made, AS ASSIGN on the virtio side) before the driver's probe runs.
      ch.bus.claimChannel(ch, drv.name)
    } catch (err) {
      this.lastError = asSoclinkError(err, 'ERR_RPMSG_DRIVER')
      return
    }
    try {
      drv.probe(ch, parent)
      this.bound.set(ch, drv)
    } catch (err) {
      this.lastError = asSoclinkError(err, 'ERR_RPMSG_DRIVER')
      ch.bus.releaseChannel(ch, drv.name)
    }
  }

  private release (ch: RpmsgChannel): void {
    const drv = this.bound.get(ch)
    if (drv === undefined) return
    this.bound.delete(ch)
    try {
      drv.remove(ch)
    } catch (err) {
      this.lastError = asSoclinkError(err, 'ERR_RPMSG_DRIVER')
    }
    ch.bus.releaseChannel(ch, drv.name)
  }

  // configfs

  /** channel/: every group with its items and where each is linked. */
  channelGroups (): ChannelGroupView[] {
    return [...this.groups].map(([name, g]) => ({
      name,
      driver: g.driver,
      items: [...g.items].map(([item, it]) => ({ name: item, link: it.link?.device ?? null }))
    }))
  }

  /** virtproc/: one per attached vhost rpmsg device, with its links. */
  virtprocs (): VirtprocView[] {
    return [...this.buses.values()].filter((at) => at.virtproc !== null).map((at) => ({
      name: at.parent.device,
      links: [...this.groups].flatMap(([group, g]) => [...g.items]
        .filter(([, it]) => it.link?.device === at.parent.device)
        .map(([item, it]) => ({ group, item, channel: { name: it.link!.channel.name, src: it.link!.channel.src } })))
    }))
  }

  /** mkdir channel/<group>/<item>. */
  makeItem (group: string, item: string): void {
    const g = this.group(group)
    if (g.items.has(item)) throw new ConflictError(`rpmsg channel item ${group}/${item} exists`)
    g.items.set(item, { link: null })
  }

  /** rmdir channel/<group>/<item>; a linked item is busy. */
  removeItem (group: string, item: string): void {
    const g = this.group(group)
    const it = this.item(group, item)
    if (it.link !== null) throw new BusyError(`rpmsg channel item ${group}/${item} is linked to virtproc ${it.link.device}`)
    g.items.delete(item)
  }

  /** ln -s channel/<group>/<item> virtproc/<device>: a channel named <group> on that device, announced. */
  link (device: string, group: string, item: string): RpmsgChannel {
    const vp = this.virtproc(device)
    const it = this.item(group, item)
    if (it.link !== null) throw new BusyError(`rpmsg channel item ${group}/${item} is already linked to virtproc ${it.link.device}`)
    const channel = vp.createChannel(group)
    it.link = { device, channel }
    return channel
  }

  /** rm virtproc/<device>/<item>: the channel is destroyed (NS DESTROY), unless something else destroyed it first. */
  unlink (device: string, group: string, item: string): void {
    const vp = this.virtproc(device)
    const it = this.item(group, item)
    if (it.link?.device !== device) throw new NotFoundError(`link in virtproc ${device} to`, `${group}/${item}`)
    const { channel } = it.link
    it.link = null
    if (channel.bus.channel(channel.name) === channel) vp.destroyChannel(channel.name)
  }

  private group (name: string): { driver: string, items: Map<string, Item> } {
    const g = this.groups.get(name)
    if (g === undefined) throw new NotFoundError('rpmsg channel group', name)
    return g
  }

  private item (group: string, item: string): Item {
    const it = this.group(group).items.get(item)
    if (it === undefined) throw new NotFoundError('rpmsg channel item', `${group}/${item}`)
    return it
  }

  /** -ENODEV for a name that is no vhost rpmsg device here (every name, on a virtio-only daemon). */
  private virtproc (device: string): Virtproc {
    for (const at of this.buses.values()) if (at.virtproc !== null && at.parent.device === device) return at.virtproc
    throw new NotFoundError('such device: rpmsg virtproc', device)
  }
}
