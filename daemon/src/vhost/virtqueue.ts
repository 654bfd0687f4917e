// A device-side virtqueue as vhost drivers see it (the RFC's struct
// vhost_virtqueue and its MMIO helpers, [P 05]: get_inbuf/get_outbuf,
// put_buf, enable_cb/disable_cb, kick = notify if vringh_need_notify).
//
// Hostile-ring policy (VhostVirtqueue): the driver on the other side may
// break the ring. Any error from ring access, from the ring's setup or from
// the callback stops the queue (ready = false), is kept in lastError,
// counted, and reported through onFailure, which VhostDevice turns into a
// 'needs-reset' event so the transport can set DEVICE_NEEDS_RESET
// (virtio 1.x 2.1.1). Nothing is thrown back to the transport or the event
// loop. The queue works again once the transport activates it after reset.

import type { MemoryAccess } from '../mem/access.js'
import type { RingAddrs } from '../uapi/ring-addrs.js'
import { SoclinkError } from '../errors.js'
import { Vringh, type AccessCheck, type Segment } from './vringh.js'
import { VringhPacked } from './vringh-packed.js'

export type { Segment } from './vringh.js'

/** One available buffer; `head` is what complete() takes (packed: the buffer id). */
export interface VhostDesc {
  readonly head: number
  readonly readable: Segment[]
  readonly writable: Segment[]
  readonly readableBytes: number
  readonly writableBytes: number
}

/** The device-ring API of Vringh, and of VringhPacked through packedDeviceRing(). */
export interface DeviceRing {
  readonly num: number
  getDesc (): VhostDesc | null
  complete (head: number, len: number): void
  needNotify (): boolean
  /** needNotify() again over all buffers since the last real notification, once the driver's suppression fields changed. */
  recheckNotify (): boolean
  notifyEnable (): boolean
  notifyDisable (): void
}

/** VringhPacked as a DeviceRing: buffers are named by id. */
export function packedDeviceRing (v: VringhPacked): DeviceRing {
  return {
    num: v.num,
    getDesc: () => {
      const d = v.getDesc()
      return d === null ? null : { head: d.id, readable: d.readable, writable: d.writable, readableBytes: d.readableBytes, writableBytes: d.writableBytes }
    },
    complete: (id, len) => { v.complete(id, len) },
    needNotify: () => v.needNotify(),
    recheckNotify: () => v.recheckNotify(),
    notifyEnable: () => v.notifyEnable(),
    notifyDisable: () => { v.notifyDisable() }
  }
}

/** A Vringh or VringhPacked over `mem` (the transport's view of the virtio side's memory). */
export function createDeviceRing (mem: MemoryAccess, addrs: RingAddrs, features: bigint, canAccess?: AccessCheck): DeviceRing {
  const opts = canAccess === undefined ? { features } : { features, canAccess }
  if (addrs.layout === 'split') return new Vringh(mem, { num: addrs.num, desc: addrs.desc, avail: addrs.driver, used: addrs.device }, opts)
  return packedDeviceRing(new VringhPacked(mem, { num: addrs.num, desc: addrs.desc, driver: addrs.driver, device: addrs.device }, opts))
}

/** kicks: available-buffer notifications from the virtio side; interrupts: used-buffer notifications sent to it. */
export interface VhostQueueCounters { buffers: number, kicks: number, interrupts: number, errors: number }

export type VhostCallback = (vq: VhostQueue) => void | Promise<void>

export interface VhostQueue {
  readonly index: number
  readonly name: string
  /** The number of buffers (ring size) the transport publishes. */
  readonly num: number
  /** Activated by the virtio side and not stopped since. */
  readonly ready: boolean
  readonly counters: VhostQueueCounters
  readonly lastError: SoclinkError | null
  /** Told when the queue stops on an error; VhostDevice sets it. */
  onFailure: ((vq: VhostQueue, error: SoclinkError) => void) | null
  /** The next available buffer, or null (also when not ready). */
  getDesc (): VhostDesc | null
  complete (head: number, len: number): void
  needNotify (): boolean
  /** Re-enables kicks; false if buffers arrived meanwhile. */
  notifyEnable (): boolean
  notifyDisable (): void
  /** Raises the used-buffer notification (MSI, INTx, doorbell). */
  notify (): void
  /** notify() if needNotify() (vhost_virtqueue_kick). */
  kick (): void
  /** Stops the queue with `err` under the policy above (for errors its user finds). */
  fail (err: unknown): void
}

export interface VhostVirtqueueOptions {
  index: number
  name: string
  num: number
  callback: VhostCallback | null
  /** The transport's used-buffer notification. */
  notify: (vq: VhostVirtqueue) => void
}

export class VhostVirtqueue implements VhostQueue {
  readonly index: number
  readonly name: string
  readonly num: number
  readonly counters: VhostQueueCounters = { buffers: 0, kicks: 0, interrupts: 0, errors: 0 }
  lastError: SoclinkError | null = null
  onFailure: ((vq: VhostQueue, error: SoclinkError) => void) | null = null
  private ring: DeviceRing | null = null
  /** Failed since the last activate(): later errors are counted, not reported again. */
  private stopped = false
  private readonly callback: VhostCallback | null
  private readonly notifyHook: (vq: VhostVirtqueue) => void

  constructor (options: VhostVirtqueueOptions) {
    this.index = options.index
    this.name = options.name
    this.num = options.num
    this.callback = options.callback
    this.notifyHook = options.notify
  }

  get ready (): boolean { return this.ring !== null }

  /** Starts the queue on the ring `make` builds (at DRIVER_OK); false, and the queue failed, if it throws. */
  activate (make: () => DeviceRing): boolean {
    this.stopped = false
    try {
      this.ring = make()
      this.lastError = null
      return true
    } catch (err) {
      this.fail(err)
      return false
    }
  }

  /** Stops the queue (reset); lastError stays for inspection. */
  deactivate (): void { this.ring = null }

  /** The transport's entry for an available-buffer notification: runs the callback under the policy. */
  trigger (): void {
    this.counters.kicks++
    this.wake()
  }

  /**
   * Runs the callback under the policy without a kick: the transport saw the
   * avail index move in its view of the driver's memory, and a kick decided
   * on a suppression field it had not seen yet may never come.
   */
  wake (): void {
    if (this.callback === null) return
    try {
      const done = this.callback(this)
      if (done instanceof Promise) done.catch((err: unknown) => { this.fail(err) })
    } catch (err) {
      this.fail(err)
    }
  }

  getDesc (): VhostDesc | null { return this.guard(null, (r) => r.getDesc()) }

  complete (head: number, len: number): void {
    if (this.guard(false, (r) => { r.complete(head, len); return true })) this.counters.buffers++
  }

  needNotify (): boolean { return this.guard(false, (r) => r.needNotify()) }
  notifyEnable (): boolean { return this.guard(true, (r) => r.notifyEnable()) }
  notifyDisable (): void { this.guard(undefined, (r) => { r.notifyDisable() }) }

  notify (): void {
    if (this.ring === null) return
    this.counters.interrupts++
    this.notifyHook(this)
  }

  kick (): void {
    if (this.needNotify()) this.notify()
  }

  /** The transport saw the driver change its notification fields: interrupt if one is now owed. */
  recheck (): void {
    if (this.guard(false, (r) => r.recheckNotify())) this.notify()
  }

  /** Stops the queue with `err`; reported once until the next activate(). */
  fail (err: unknown): void {
    this.counters.errors++
    if (this.stopped) return
    this.stopped = true
    this.ring = null
    this.lastError = err instanceof SoclinkError
      ? err
      : new SoclinkError('ERR_VHOST_QUEUE', err instanceof Error ? err.message : String(err), { cause: err })
    this.onFailure?.(this, this.lastError)
  }

  private guard<R> (fallback: R, fn: (ring: DeviceRing) => R): R {
    if (this.ring === null) return fallback
    try {
      return fn(this.ring)
    } catch (err) {
      this.fail(err)
      return fallback
    }
  }
}
