// The virtio bus (drivers/virtio/virtio.c): matches drivers to devices by id
// table and runs device initialization (virtio 1.x 3.1.1) as
// register_virtio_device() and virtio_dev_probe() do. Failures never throw
// past the bus: the device shows FAILED, keeps the error in lastError, and
// the bus emits 'failed'. Work on one device is serialized. reprobe() tries
// a failed device again (its transport's owner does, after a timeout).
//
// DEVICE_NEEDS_RESET (deviceNeedsReset, which the transport calls): the
// driver is removed, the device reset and probed again from the start, as
// virtio 1.x 2.1.2 asks of a driver; if that probe fails the device stays
// FAILED with the reason.

import { EventEmitter } from 'node:events'
import { ConflictError, type SoclinkError } from '../errors.js'
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FAILED, VIRTIO_CONFIG_S_FEATURES_OK
} from '../uapi/virtio-config.js'
import { idTableMatch } from '../uapi/soclink-ids.js'
import { VirtioError, asSoclinkError, checkVersion1, negotiateFeatures, type VirtioDevice, type VirtioDriver } from './virtio.js'

export type ProbeOutcome = 'bound' | 'unmatched' | 'failed'

export interface VirtioBusEvents {
  added: [dev: VirtioDevice]
  removed: [dev: VirtioDevice]
  bound: [dev: VirtioDevice, drv: VirtioDriver]
  unbound: [dev: VirtioDevice, drv: VirtioDriver]
  /** A probe, remove or reset failed; also kept in dev.lastError. */
  failed: [dev: VirtioDevice, error: SoclinkError]
  'needs-reset': [dev: VirtioDevice]
  /** Every status a device reads back after a change, for state views. */
  status: [dev: VirtioDevice, status: number]
}

const hex = (n: number | bigint): string => `0x${n.toString(16)}`

export class VirtioBus extends EventEmitter<VirtioBusEvents> {
  private readonly devs = new Set<VirtioDevice>()
  private readonly drvs: VirtioDriver[] = []
  private readonly locks = new WeakMap<VirtioDevice, Promise<unknown>>()
  private readonly relays = new Map<VirtioDevice, (status: number) => void>()

  get devices (): VirtioDevice[] { return [...this.devs] }
  get drivers (): VirtioDriver[] { return [...this.drvs] }

  /** Adds a driver and probes it on every unbound device it matches (driver_register). */
  async registerDriver (drv: VirtioDriver): Promise<void> {
    if (this.drvs.includes(drv) || this.drvs.some((d) => d.name === drv.name)) throw new ConflictError(`virtio driver ${drv.name} is registered`)
    this.drvs.push(drv)
    const unbound = [...this.devs].filter((d) => d.driver === undefined && idTableMatch(drv.idTable, d.id))
    await Promise.all(unbound.map(async (d) => await this.serial(d, async () => await this.attach(d))))
  }

  /** Unbinds the driver from its devices, which are acknowledged again (virtio_dev_remove), and drops it. */
  async unregisterDriver (drv: VirtioDriver): Promise<void> {
    const at = this.drvs.indexOf(drv)
    if (at < 0) return
    this.drvs.splice(at, 1)
    const bound = [...this.devs].filter((d) => d.driver === drv)
    await Promise.all(bound.map(async (d) => await this.serial(d, async () => {
      await this.unbind(d)
      await this.attempt(d, async () => { await d.addStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE) })
    })))
  }

  /** register_virtio_device(): an index, reset, ACKNOWLEDGE, then the first matching driver's probe. */
  async addDevice (dev: VirtioDevice): Promise<ProbeOutcome> {
    if (this.devs.has(dev)) throw new ConflictError(`${dev.name} is on the bus`)
    const used = new Set([...this.devs].map((d) => d.index))
    let index = 0
    while (used.has(index)) index++
    dev.index = index
    this.devs.add(dev)
    const relay = (status: number): void => { this.emit('status', dev, status) }
    this.relays.set(dev, relay)
    dev.on('status', relay)
    this.emit('added', dev)
    return await this.serial(dev, async () => {
      if (!await this.start(dev)) return 'failed'
      return await this.attach(dev)
    })
  }

  /** Removes the driver (driver.remove, reset, delVqs) and drops the device (unregister_virtio_device). */
  async removeDevice (dev: VirtioDevice): Promise<void> {
    if (!this.devs.has(dev)) return
    await this.serial(dev, async () => {
      if (dev.driver !== undefined) await this.unbind(dev)
      else await this.attempt(dev, async () => { await dev.reset() })
      this.devs.delete(dev)
      dev.off('status', this.relays.get(dev)!)
      this.relays.delete(dev)
      this.emit('removed', dev)
    })
  }

  /** The device set DEVICE_NEEDS_RESET: remove its driver, reset it and probe it again (virtio 1.x 2.1.2). */
  async deviceNeedsReset (dev: VirtioDevice): Promise<ProbeOutcome> {
    if (!this.devs.has(dev)) return 'unmatched'
    return await this.serial(dev, async () => {
      dev.lastError = new VirtioError('ERR_VIRTIO_NEEDS_RESET', `${dev.name} set DEVICE_NEEDS_RESET (status ${hex(dev.status)})`)
      this.emit('needs-reset', dev)
      if (dev.driver !== undefined) await this.unbind(dev)
      if (!await this.start(dev)) return 'failed'
      return await this.attach(dev)
    })
  }

  /**
   * Probes again a device whose last probe failed: reset, ACKNOWLEDGE, the
   * matching driver's probe. A device bound meanwhile is left as it is.
   */
  async reprobe (dev: VirtioDevice): Promise<ProbeOutcome> {
    if (!this.devs.has(dev)) return 'unmatched'
    return await this.serial(dev, async () => {
      if (dev.driver !== undefined) return 'bound'
      if (!await this.start(dev)) return 'failed'
      return await this.attach(dev)
    })
  }

  /** Reset, then ACKNOWLEDGE (register_virtio_device). */
  private async start (dev: VirtioDevice): Promise<boolean> {
    return await this.attempt(dev, async () => {
      await dev.reset()
      await dev.addStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE)
    })
  }

  /** Probes the first registered driver whose id table matches. */
  private async attach (dev: VirtioDevice): Promise<ProbeOutcome> {
    const drv = this.drvs.find((d) => idTableMatch(d.idTable, dev.id))
    if (drv === undefined) return 'unmatched'
    if (dev.status !== VIRTIO_CONFIG_S_ACKNOWLEDGE && !await this.start(dev)) return 'failed'
    return await this.probe(dev, drv)
  }

  /** virtio_dev_probe(): DRIVER, features, FEATURES_OK and its check, driver.probe, DRIVER_OK. */
  private async probe (dev: VirtioDevice, drv: VirtioDriver): Promise<ProbeOutcome> {
    dev.failed = false
    dev.broken = false
    try {
      await dev.addStatus(VIRTIO_CONFIG_S_DRIVER)
      const offered = dev.ops.getFeatures()
      checkVersion1(offered)
      dev.features = negotiateFeatures(offered, drv.features)
      await dev.ops.finalizeFeatures(dev.features)
      await dev.addStatus(VIRTIO_CONFIG_S_FEATURES_OK)
      const status = dev.status
      if ((status & VIRTIO_CONFIG_S_FEATURES_OK) === 0) {
        throw new VirtioError('ERR_VIRTIO_FEATURES', `${dev.name} refused features ${hex(dev.features)} (status ${hex(status)}, offered ${hex(offered)})`)
      }
      dev.driver = drv
      await drv.probe(dev)
      if ((dev.status & VIRTIO_CONFIG_S_DRIVER_OK) === 0) await dev.addStatus(VIRTIO_CONFIG_S_DRIVER_OK)
    } catch (err) {
      dev.driver = undefined
      await this.fail(dev, err)
      return 'failed'
    }
    this.emit('bound', dev, drv)
    return 'bound'
  }

  /** FAILED, the queues deleted, the error kept and reported. */
  private async fail (dev: VirtioDevice, err: unknown): Promise<void> {
    const error = asSoclinkError(err, 'ERR_VIRTIO_DRIVER')
    dev.failed = true
    dev.lastError = error
    // Best effort: a transport that cannot take FAILED or delete the queues
    // (its link went away) leaves the device failed here all the same, and
    // the error reported is the driver's, kept above.
    try {
      await dev.addStatus(VIRTIO_CONFIG_S_FAILED)
    } catch {
      // See above: the device is failed on this side whatever the transport says.
    }
    try {
      if (dev.vqs.length > 0) await dev.delVqs()
    } catch {
      // See above: the queues go with the device's reset.
    }
    this.emit('failed', dev, error)
  }

  /** driver.remove, then reset before the rings go (as drivers' remove do: virtio_reset_device, del_vqs). */
  private async unbind (dev: VirtioDevice): Promise<void> {
    const drv = dev.driver!
    await this.attempt(dev, async () => { await drv.remove(dev) })
    await this.attempt(dev, async () => { await dev.reset() })
    if (dev.vqs.length > 0) await this.attempt(dev, async () => { await dev.delVqs() })
    dev.driver = undefined
    this.emit('unbound', dev, drv)
  }

  /** Runs a step; a failure is kept and reported, not thrown. */
  private async attempt (dev: VirtioDevice, step: () => Promise<void>): Promise<boolean> {
    try {
      await step()
      return true
    } catch (err) {
      dev.lastError = asSoclinkError(err, 'ERR_VIRTIO_DRIVER')
      this.emit('failed', dev, dev.lastError)
      return false
    }
  }

  private async serial<R> (dev: VirtioDevice, fn: () => Promise<R>): Promise<R> {
    const run = (this.locks.get(dev) ?? Promise.resolve()).then(fn, fn)
    this.locks.set(dev, run.catch(() => undefined))
    return await run
  }
}
