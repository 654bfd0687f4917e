// The vhost bus, after the RFC's drivers/vhost/vhost.c ([P 03]):
// vhost_register_driver(), vhost_register_device() (an index from an IDA,
// name vhost%u) and vhost_dev_match() over the id table until device 0,
// then driver.probe; vhost_unregister_device() calls driver.remove. A
// failing probe or remove is kept in dev.lastError and emitted as 'failed',
// never thrown past the bus.

import { EventEmitter } from 'node:events'
import { ConflictError, type SoclinkError } from '../errors.js'
import { idTableMatch } from '../uapi/soclink-ids.js'
import { asSoclinkError, type VhostDevice, type VhostDriver } from './vhost.js'

export type ProbeOutcome = 'bound' | 'unmatched' | 'failed'

export interface VhostBusEvents {
  added: [dev: VhostDevice]
  removed: [dev: VhostDevice]
  bound: [dev: VhostDevice, drv: VhostDriver]
  unbound: [dev: VhostDevice, drv: VhostDriver]
  failed: [dev: VhostDevice, error: SoclinkError]
}

export class VhostBus extends EventEmitter<VhostBusEvents> {
  private readonly devs = new Set<VhostDevice>()
  private readonly drvs: VhostDriver[] = []
  private readonly locks = new WeakMap<VhostDevice, Promise<unknown>>()

  get devices (): VhostDevice[] { return [...this.devs] }
  get drivers (): VhostDriver[] { return [...this.drvs] }

  /** Adds a driver and probes it on every unbound device it matches. */
  async registerDriver (drv: VhostDriver): Promise<void> {
    if (this.drvs.includes(drv) || this.drvs.some((d) => d.name === drv.name)) throw new ConflictError(`vhost driver ${drv.name} is registered`)
    this.drvs.push(drv)
    const unbound = [...this.devs].filter((d) => d.driver === undefined && idTableMatch(drv.idTable, d.id))
    await Promise.all(unbound.map(async (d) => await this.serial(d, async () => await this.attach(d))))
  }

  /** Removes the driver from its devices and drops it. */
  async unregisterDriver (drv: VhostDriver): Promise<void> {
    const at = this.drvs.indexOf(drv)
    if (at < 0) return
    this.drvs.splice(at, 1)
    const bound = [...this.devs].filter((d) => d.driver === drv)
    await Promise.all(bound.map(async (d) => { await this.serial(d, async () => { await this.unbind(d) }) }))
  }

  /** vhost_register_device(): the lowest free index, then the first matching driver's probe. */
  async registerDevice (dev: VhostDevice): Promise<ProbeOutcome> {
    if (this.devs.has(dev)) throw new ConflictError(`${dev.name} is registered`)
    const used = new Set([...this.devs].map((d) => d.index))
    let index = 0
    while (used.has(index)) index++
    dev.index = index
    this.devs.add(dev)
    this.emit('added', dev)
    return await this.serial(dev, async () => await this.attach(dev))
  }

  /** vhost_unregister_device(): driver.remove, then the index is free again. */
  async unregisterDevice (dev: VhostDevice): Promise<void> {
    if (!this.devs.has(dev)) return
    await this.serial(dev, async () => {
      if (dev.driver !== undefined) await this.unbind(dev)
      this.devs.delete(dev)
      this.emit('removed', dev)
    })
  }

  private async attach (dev: VhostDevice): Promise<ProbeOutcome> {
    const drv = this.drvs.find((d) => idTableMatch(d.idTable, dev.id))
    if (drv === undefined) return 'unmatched'
    dev.driver = drv
    try {
      await drv.probe(dev)
    } catch (err) {
      dev.driver = undefined
      this.report(dev, err)
      try {
        if (dev.vqs.length > 0) dev.delVqs()
      } catch {
        // The probe's error is the one reported; queues a transport cannot delete now go with the device's next reset.
      }
      return 'failed'
    }
    this.emit('bound', dev, drv)
    return 'bound'
  }

  private async unbind (dev: VhostDevice): Promise<void> {
    const drv = dev.driver!
    try {
      await drv.remove(dev)
    } catch (err) {
      this.report(dev, err)
    }
    dev.driver = undefined
    this.emit('unbound', dev, drv)
  }

  private report (dev: VhostDevice, err: unknown): void {
    dev.lastError = asSoclinkError(err, 'ERR_VHOST_DRIVER')
    this.emit('failed', dev, dev.lastError)
  }

  private async serial<R> (dev: VhostDevice, fn: () => Promise<R>): Promise<R> {
    const run = (this.locks.get(dev) ?? Promise.resolve()).then(fn, fn)
    this.locks.set(dev, run.catch(() => undefined))
    return await run
  }
}
