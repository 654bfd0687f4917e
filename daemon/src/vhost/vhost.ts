// The vhost core's objects, after the RFC's include/linux/vhost.h and
// drivers/vhost/vhost.c ([P 01-03]): a vhost device a transport registers
// (struct vhost_dev), the ops it implements (struct vhost_config_ops), and
// the drivers the vhost bus binds to it (struct vhost_driver). The bus is in
// bus.ts.
//
// The transport tells the device what the virtio side did through
// notifySetStatus / notifyFinalizeFeatures / notifyReset, which the driver
// hears on `notifier` (NOTIFY_SET_STATUS, NOTIFY_FINALIZE_FEATURES,
// NOTIFY_RESET; vhost_register_notifier()). The device tells the transport
// it needs a reset with 'needs-reset'.

import { EventEmitter } from 'node:events'
import { SoclinkError, type ErrorCode, type VhostErrorCode } from '../errors.js'
import type { DeviceId } from '../uapi/soclink-ids.js'
import type { VhostCallback, VhostQueue } from './virtqueue.js'

/** What a transport implements (struct vhost_config_ops). */
export interface VhostConfigOps {
  /**
   * Creates nvqs queues of numBufs buffers (VhostVirtqueue, with callbacks[i]
   * and names[i]) and publishes their number and size to the virtio side.
   * They are ready once the virtio side sets DRIVER_OK and the transport
   * activates them; on reset the transport deactivates them, then calls
   * notifyReset().
   */
  createVqs (nvqs: number, numBufs: number, callbacks: ReadonlyArray<VhostCallback | null>, names: readonly string[]): VhostQueue[]
  delVqs (): void
  /** Copies from the virtio side's memory at a bus address (vhost_read). */
  read (addr: number, length: number): Uint8Array
  /** Copies to the virtio side's memory at a bus address (vhost_write). */
  write (addr: number, bytes: Uint8Array): void
  /** Publishes the features the device offers. */
  setFeatures (features: bigint): void
  setStatus (status: number): void
  getStatus (): number
  /**
   * Device-specific config space (virtio 1.x 2.5), as the virtio side reads
   * and writes it. Not in the RFC's vhost_config_ops, which has no way for
   * a vhost driver to publish config; optional: a driver that needs it
   * (rpmsg's buffer sizes) goes without when the transport has none.
   */
  writeConfig? (offset: number, bytes: Uint8Array): void
  readConfig? (offset: number, length: number): Uint8Array
}

/** struct vhost_driver. */
export interface VhostDriver {
  readonly name: string
  /** Read up to the first entry with device 0. */
  readonly idTable: readonly DeviceId[]
  probe (dev: VhostDevice): Promise<void> | void
  remove (dev: VhostDevice): Promise<void> | void
}

/**
 * ERR_VHOST_FEATURES  the virtio side finalized features the device does not offer
 * ERR_VHOST_NOTIFIER  a notifier listener threw
 * ERR_VHOST_DRIVER    a driver's probe or remove threw something without a code
 * ERR_VHOST_QUEUE     a queue callback threw something without a code
 */
export class VhostError extends SoclinkError {
  declare readonly code: VhostErrorCode
  constructor (code: VhostErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options)
  }
}

export function asSoclinkError (err: unknown, code: ErrorCode): SoclinkError {
  if (err instanceof SoclinkError) return err
  return new SoclinkError(code, err instanceof Error ? err.message : String(err), { cause: err })
}

export interface VhostNotifierEvents {
  'set-status': [status: number]
  'finalize-features': [features: bigint]
  reset: []
}

export interface VhostDeviceEvents {
  /** The device asks the transport to set DEVICE_NEEDS_RESET: a queue (or null: a listener) failed with `error`. */
  'needs-reset': [vq: VhostQueue | null, error: SoclinkError]
}

export class VhostDevice extends EventEmitter<VhostDeviceEvents> {
  /** Set by the bus from a counter (the RFC's IDA): `vhost${index}`. */
  index = -1
  /** Negotiated: what the virtio side finalized (vhost_dev->features, [P 01]). */
  features = 0n
  /** What the device offers (setFeatures). */
  offered = 0n
  driver: VhostDriver | undefined = undefined
  vqs: VhostQueue[] = []
  readonly notifier = new EventEmitter<VhostNotifierEvents>()
  lastError: SoclinkError | null = null
  /** Why the device asked for a reset, until the virtio side resets it. */
  needsReset: SoclinkError | null = null

  /** `id` may change until the device is registered (configfs sets it). */
  constructor (public id: DeviceId, readonly ops: VhostConfigOps) {
    super()
  }

  get name (): string { return `vhost${this.index}` }

  /** vhost_create_vqs(): queues whose failures become 'needs-reset'. */
  createVqs (nvqs: number, numBufs: number, callbacks: ReadonlyArray<VhostCallback | null>, names: readonly string[]): VhostQueue[] {
    const vqs = this.ops.createVqs(nvqs, numBufs, callbacks, names)
    for (const vq of vqs) vq.onFailure = (q, error) => { this.requestReset(q, error) }
    this.vqs = vqs
    return vqs
  }

  delVqs (): void {
    for (const vq of this.vqs) vq.onFailure = null
    this.vqs = []
    this.ops.delVqs()
  }

  read (addr: number, length: number): Uint8Array { return this.ops.read(addr, length) }
  write (addr: number, bytes: Uint8Array): void { this.ops.write(addr, bytes) }

  setFeatures (features: bigint): void {
    this.offered = features
    this.ops.setFeatures(features)
  }

  setStatus (status: number): void { this.ops.setStatus(status) }
  getStatus (): number { return this.ops.getStatus() }

  /** Transport: the virtio side wrote the status (NOTIFY_SET_STATUS). */
  notifySetStatus (status: number): void {
    this.tell('set-status', status)
  }

  /**
   * Transport: the virtio side set FEATURES_OK with `features`. False if it
   * asked for a feature not offered: the transport then leaves FEATURES_OK
   * clear, which the virtio side reads as refusal (virtio 1.x 3.1.1 step 6).
   */
  notifyFinalizeFeatures (features: bigint): boolean {
    const extra = features & ~this.offered
    if (extra !== 0n) {
      this.lastError = new VhostError('ERR_VHOST_FEATURES', `${this.name}: features 0x${extra.toString(16)} were not offered (offered 0x${this.offered.toString(16)})`)
      return false
    }
    this.features = features
    this.tell('finalize-features', features)
    return true
  }

  /** Transport: the virtio side reset the device (NOTIFY_RESET); queues were deactivated first. */
  notifyReset (): void {
    this.features = 0n
    this.needsReset = null
    this.tell('reset')
  }

  /** Asks the transport to set DEVICE_NEEDS_RESET. */
  requestReset (vq: VhostQueue | null, error: SoclinkError): void {
    this.lastError = error
    this.needsReset ??= error
    try {
      this.emit('needs-reset', vq, error)
    } catch {
      // A transport that cannot set DEVICE_NEEDS_RESET now must not throw into the ring code that asked;
      // the error is kept above (lastError, needsReset) for the state views and the next look.
    }
  }

  private tell<K extends keyof VhostNotifierEvents> (event: K, ...args: VhostNotifierEvents[K]): void {
    try {
      (this.notifier.emit as (e: K, ...a: VhostNotifierEvents[K]) => boolean)(event, ...args)
    } catch (err) {
      this.requestReset(null, asSoclinkError(err, 'ERR_VHOST_NOTIFIER'))
    }
  }
}
