// A driver-side virtqueue as drivers see it (include/linux/virtio.h struct
// virtqueue, drivers/virtio/virtio_ring.c virtqueue_kick(),
// vring_interrupt()): a ring of either layout, its index and name, the
// transport's notify hook and the driver's callback.

import type { MemoryAccess } from '../mem/access.js'
import { splitLayout, vringSize } from '../uapi/virtio-ring.js'
import { packedLayout, packedSize } from '../uapi/virtio-packed.js'
import { SplitVirtqueue, type IndirectAllocator, type Segment, type UsedBuf, type VirtqueueCounters } from './split-virtqueue.js'
import { PackedVirtqueue } from './packed-virtqueue.js'
import type { RingAddrs, RingLayout } from '../uapi/ring-addrs.js'

export type { Segment, UsedBuf, VirtqueueCounters } from './split-virtqueue.js'

export type { RingLayout } from '../uapi/ring-addrs.js'

/** The ring API SplitVirtqueue and PackedVirtqueue share. */
export interface DriverRing<T = unknown> {
  readonly num: number
  readonly counters: VirtqueueCounters
  /** Set on a device bug; add() and getBuf() throw ERR_RING_BROKEN from then on. */
  readonly broken: boolean
  readonly numFree: number
  readonly inFlight: number
  readonly full: boolean
  add (out: readonly Segment[], inn: readonly Segment[], token: T): void
  kickPrepare (): boolean
  /** kickPrepare() again over all buffers since the last real kick, once the device's suppression fields changed. */
  recheckKick (): boolean
  getBuf (): UsedBuf<T> | null
  disableCb (): void
  enableCbPrepare (): number
  poll (last: number): boolean
  enableCb (): boolean
  enableCbDelayed (): boolean
  detachUnused (): T[]
}

/** Where a ring's three parts are: split desc/avail/used, packed desc/driver area/device area (virtio 1.x 4.1.4.3 queue_desc, queue_driver, queue_device). */
export type { RingAddrs } from '../uapi/ring-addrs.js'

/** What a driver holds: the ring, plus kick() (virtqueue_kick), its index and name. */
export interface DriverQueue<T = unknown> extends DriverRing<T> {
  readonly index: number
  readonly name: string
  readonly addrs: RingAddrs
  /** Notifies the device if kickPrepare() says it wants it; returns whether it did. */
  kick (): boolean
}

export type QueueCallback<T = unknown> = (vq: DriverQueue<T>) => void

export interface VirtqueueOptions<T> {
  index: number
  name: string
  addrs: RingAddrs
  /** Sends the available-buffer notification (the transport's doorbell). */
  notify: (vq: Virtqueue<T>) => void
  /** Runs on each used-buffer notification; null for a queue the driver polls. */
  callback: QueueCallback<T> | null
}

export class Virtqueue<T = unknown> implements DriverQueue<T> {
  readonly index: number
  readonly name: string
  readonly addrs: RingAddrs
  /** Used-buffer notifications the transport delivered. */
  interrupts = 0
  private readonly notifyHook: (vq: Virtqueue<T>) => void
  private readonly callback: QueueCallback<T> | null

  constructor (readonly ring: DriverRing<T>, options: VirtqueueOptions<T>) {
    this.index = options.index
    this.name = options.name
    this.addrs = options.addrs
    this.notifyHook = options.notify
    this.callback = options.callback
  }

  get num (): number { return this.ring.num }
  get counters (): VirtqueueCounters { return this.ring.counters }
  get broken (): boolean { return this.ring.broken }
  get numFree (): number { return this.ring.numFree }
  get inFlight (): number { return this.ring.inFlight }
  get full (): boolean { return this.ring.full }
  add (out: readonly Segment[], inn: readonly Segment[], token: T): void { this.ring.add(out, inn, token) }
  kickPrepare (): boolean { return this.ring.kickPrepare() }
  recheckKick (): boolean { return this.ring.recheckKick() }
  getBuf (): UsedBuf<T> | null { return this.ring.getBuf() }
  disableCb (): void { this.ring.disableCb() }
  enableCbPrepare (): number { return this.ring.enableCbPrepare() }
  poll (last: number): boolean { return this.ring.poll(last) }
  enableCb (): boolean { return this.ring.enableCb() }
  enableCbDelayed (): boolean { return this.ring.enableCbDelayed() }
  detachUnused (): T[] { return this.ring.detachUnused() }

  kick (): boolean {
    if (!this.ring.kickPrepare()) return false
    this.notifyHook(this)
    return true
  }

  /** The transport saw the device change its notification fields: kick if a kick is now owed. */
  recheck (): void {
    if (!this.ring.broken && this.ring.recheckKick()) this.notifyHook(this)
  }

  /** The transport's entry for a used-buffer notification (vring_interrupt). */
  interrupt (): void {
    this.interrupts++
    if (this.callback !== null && !this.ring.broken) this.callback(this)
  }
}

/** Bytes a ring of `num` takes: vring_size(num, align) split, 16 * num + 8 packed. */
export function ringBytes (layout: RingLayout, num: number, align = 16): number {
  return layout === 'split' ? vringSize(num, align) : packedSize(num)
}

export interface DriverRingSpec {
  layout: RingLayout
  num: number
  /** Where the ring starts; a multiple of `align` (split) or of 16 (packed). */
  base: number
  /** Split only: where used starts, as vring_init()'s align (4096 for legacy virtio-pci). Default 16. */
  align?: number
  /** The negotiated features: EVENT_IDX and INDIRECT_DESC matter to the ring. */
  features: bigint
  indirect?: IndirectAllocator
}

/** A zeroed ring of either layout laid out contiguously from base (vring_init(), virtio 1.1 2.7.10.1). */
export function createDriverRing<T> (mem: MemoryAccess, spec: DriverRingSpec): { ring: DriverRing<T>, addrs: RingAddrs } {
  const opts = spec.indirect === undefined ? { features: spec.features } : { features: spec.features, indirect: spec.indirect }
  if (spec.layout === 'split') {
    const l = splitLayout(spec.base, spec.num, spec.align ?? 16)
    return { ring: new SplitVirtqueue<T>(mem, l, opts), addrs: { layout: 'split', num: l.num, desc: l.desc, driver: l.avail, device: l.used } }
  }
  const l = packedLayout(spec.base, spec.num)
  return { ring: new PackedVirtqueue<T>(mem, l, opts), addrs: { layout: 'packed', num: l.num, desc: l.desc, driver: l.driver, device: l.device } }
}
