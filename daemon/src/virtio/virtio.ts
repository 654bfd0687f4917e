// The virtio driver core's objects: a device as a transport presents it and
// a driver as the bus binds it (include/linux/virtio.h struct virtio_device,
// struct virtio_driver; include/linux/virtio_config.h struct
// virtio_config_ops; drivers/virtio/virtio.c). The bus that ties them is in
// bus.ts.

import { EventEmitter } from 'node:events'
import { SoclinkError, type ErrorCode, type VirtioErrorCode } from '../errors.js'
import { VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1, featureBit, hasFeature } from '../uapi/virtio-config.js'
import type { DeviceId } from '../uapi/soclink-ids.js'
import type { BufferPool } from './buffer-pool.js'
import type { DriverQueue, QueueCallback, RingLayout } from './virtqueue.js'

/** One queue a driver asks findVqs() for: vq i gets specs[i]. */
export interface VqSpec<T = unknown> { readonly name: string, readonly callback: QueueCallback<T> | null }

export interface FindVqsOptions { readonly layout: RingLayout }

/** What a transport implements (struct virtio_config_ops). Promises settle once the other side has seen the change. */
export interface VirtioConfigOps {
  /** Memory for buffers, by bus address ([P 12] alloc_buffer/free_buffer); null if the transport has none. */
  readonly buffers: BufferPool | null
  /** The features the device offers. */
  getFeatures (): bigint
  /** Writes the driver's features (virtio 1.x 3.1.1 step 5); FEATURES_OK comes after. */
  finalizeFeatures (features: bigint): Promise<void>
  getStatus (): number
  setStatus (status: number): Promise<void>
  /** Writes status 0 and waits until the device reads back 0 (virtio 1.x 2.1.2, 4.1.4.3.2). */
  reset (): Promise<void>
  /** Sets up queue i for specs[i] with the given layout; rings live in the driver's memory. */
  findVqs<T = unknown> (specs: ReadonlyArray<VqSpec<T>>, opts: FindVqsOptions): Promise<Array<DriverQueue<T>>>
  delVqs (): Promise<void>
  /** Device-specific configuration space (virtio 1.x 2.5). */
  getConfig (offset: number, length: number): Uint8Array
  setConfig (offset: number, bytes: Uint8Array): void
}

/** struct virtio_driver: what it drives, the features it understands, probe and remove. */
export interface VirtioDriver {
  readonly name: string
  /** Read up to the first entry with device 0. */
  readonly idTable: readonly DeviceId[]
  /** Device and ring feature bits it accepts; VIRTIO_F_VERSION_1 is implied (see negotiateFeatures). */
  readonly features: bigint
  /** Sets the device up (findVqs, buffers); the bus sets DRIVER_OK after it unless it did. */
  probe (dev: VirtioDevice): Promise<void>
  /** Stops using the device; the bus resets it and deletes its queues after. */
  remove (dev: VirtioDevice): Promise<void>
}

/**
 * ERR_VIRTIO_FEATURES   the device cleared FEATURES_OK: it refused the features
 * ERR_VIRTIO_LEGACY     the device does not offer VIRTIO_F_VERSION_1
 * ERR_VIRTIO_NEEDS_RESET the device set DEVICE_NEEDS_RESET
 * ERR_VIRTIO_QUEUE      a queue callback threw
 * ERR_VIRTIO_DRIVER     a driver's probe or remove threw something without a code
 * ERR_VIRTIO_REMOVED    work a driver could not finish because it was removed
 */
export class VirtioError extends SoclinkError {
  declare readonly code: VirtioErrorCode
  constructor (code: VirtioErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options)
  }
}

/** An error of any kind as a SoclinkError, keeping its code if it has one. */
export function asSoclinkError (err: unknown, code: ErrorCode): SoclinkError {
  if (err instanceof SoclinkError) return err
  return new SoclinkError(code, err instanceof Error ? err.message : String(err), { cause: err })
}

/**
 * The features both sides have (virtio_dev_probe: driver_features &
 * device_features). Every driver here accepts VIRTIO_F_VERSION_1: the rings
 * are virtio 1.x (little-endian) only. Transport bits (RING_PACKED,
 * EVENT_IDX, INDIRECT_DESC) pass only if the driver lists them too, unlike
 * Linux, which keeps any the device offers and the ring supports: here the
 * driver chooses its layout.
 */
export function negotiateFeatures (device: bigint, driver: bigint): bigint {
  return device & (driver | featureBit(VIRTIO_F_VERSION_1))
}

export interface VirtioDeviceEvents {
  /** The status the transport reads back after every change. */
  status: [status: number]
  /** A queue callback threw; the device takes no more work until reset. */
  broken: [error: SoclinkError]
}

export class VirtioDevice extends EventEmitter<VirtioDeviceEvents> {
  /** Set by the bus: `virtio${index}`. */
  index = -1
  /** The negotiated features (dev->features). */
  features = 0n
  driver: VirtioDriver | undefined = undefined
  /** The queues findVqs() set up, until delVqs(). */
  vqs: DriverQueue[] = []
  /** The last probe failed and the device shows FAILED. */
  failed = false
  /** A queue broke (virtio_break_device); cleared by the next probe. */
  broken = false
  lastError: SoclinkError | null = null
  /** The last probe timed out and its transport's owner will probe it again (VirtioBus.reprobe). */
  retrying = false

  constructor (readonly id: DeviceId, readonly ops: VirtioConfigOps) {
    super()
  }

  get name (): string { return `virtio${this.index}` }

  get status (): number { return this.ops.getStatus() }

  hasFeature (bit: number): boolean { return hasFeature(this.features, bit) }

  /** The layout the negotiated features call for. */
  get layout (): RingLayout { return this.hasFeature(VIRTIO_F_RING_PACKED) ? 'packed' : 'split' }

  /** Adds bits to the status (virtio_add_status). */
  async addStatus (bits: number): Promise<void> {
    await this.ops.setStatus(this.ops.getStatus() | bits)
    this.emit('status', this.status)
  }

  /** virtio_reset_device(). */
  async reset (): Promise<void> {
    await this.ops.reset()
    this.emit('status', this.status)
  }

  /** Sets up the queues in the negotiated layout; a callback that throws breaks the device instead of reaching the transport. */
  async findVqs<T = unknown> (specs: ReadonlyArray<VqSpec<T>>, opts: Partial<FindVqsOptions> = {}): Promise<Array<DriverQueue<T>>> {
    const guarded = specs.map((s) => ({ name: s.name, callback: s.callback === null ? null : this.guard(s.callback) }))
    const vqs = await this.ops.findVqs<T>(guarded, { layout: opts.layout ?? this.layout })
    this.vqs = vqs as DriverQueue[]
    return vqs
  }

  async delVqs (): Promise<void> {
    this.vqs = []
    await this.ops.delVqs()
  }

  /** Marks the device broken and says why (virtio_break_device). */
  breakDevice (error: SoclinkError): void {
    this.broken = true
    this.lastError = error
    this.emit('broken', error)
  }

  private guard<T> (callback: QueueCallback<T>): QueueCallback<T> {
    return (vq) => {
      if (this.broken) return
      try {
        callback(vq)
      } catch (err) {
        this.breakDevice(asSoclinkError(err, 'ERR_VIRTIO_QUEUE'))
      }
    }
  }
}

/** Whether the device offers what every ring here needs (virtio_pci_modern finalize_features). */
export function checkVersion1 (deviceFeatures: bigint): void {
  if (!hasFeature(deviceFeatures, VIRTIO_F_VERSION_1)) {
    throw new VirtioError('ERR_VIRTIO_LEGACY', `device features 0x${deviceFeatures.toString(16)} lack VIRTIO_F_VERSION_1; legacy devices are not supported`)
  }
}
