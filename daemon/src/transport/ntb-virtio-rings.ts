// The virtio side's rings (the RFC's ntb_virtio_find_vqs and
// ntb_virtio_find_vq in drivers/ntb/ntb_virtio.c): each queue's size is
// what the vhost side published (peer spad 15+n), each ring is zeroed and
// laid out in MW0 below BUFFER_OFFSET (ntb-spads.ts ringOffsets), and a
// kick rings the queue's doorbell bit; and how this side notices that the
// vhost side changed what decides a kick.
//
// Differences from the RFC, on purpose: rings start on 4 KiB boundaries,
// split or packed as negotiated; the queues must fit in the doorbell bits
// below CONFIG_DB, and all rings below BUFFER_OFFSET, or none is made.

import type { NtbDevice } from '../hw/ntb/ntb.js'
import type { Region } from '../mem/region.js'
import type { VqSpec } from '../virtio/virtio.js'
import { createDriverRing, ringBytes, Virtqueue, type RingLayout } from '../virtio/virtqueue.js'
import { OutOfRangeError } from '../errors.js'
import { BUFFER_OFFSET, configDbBit, MAX_VQS, queueNumBuffers, ringOffsets, VRING_ALIGN } from './ntb-spads.js'

export interface NtbVqsSpec<T> {
  specs: ReadonlyArray<VqSpec<T>>
  layout: RingLayout
  features: bigint
  /** ntb_virtio_notify for queue i. */
  notify: (i: number) => void
}

/** ntb_virtio_find_vqs: the rings laid out in `memory` from MW0's `base`. */
export function findVqs<T> (ntb: NtbDevice, memory: Region, base: number, q: NtbVqsSpec<T>): Array<Virtqueue<T>> {
  const { specs, layout } = q
  const most = Math.min(MAX_VQS, configDbBit(ntb.dbValidMask()))
  if (specs.length > most) throw new OutOfRangeError(`${specs.length} queues: this NTB has doorbell bits for ${Math.max(most, 0)} (valid mask 0x${ntb.dbValidMask().toString(16)})`)
  const nums = specs.map((_, i) => ntb.peerSpadRead(queueNumBuffers(i)))
  const missing = nums.findIndex((n) => n === 0)
  if (missing >= 0) throw new OutOfRangeError(`the vhost side has no queue ${missing}`)
  const { offsets, end } = ringOffsets(layout, nums)
  if (end > BUFFER_OFFSET) throw new OutOfRangeError(`${specs.length} rings of ${nums.join('/')} take 0x${end.toString(16)} bytes, more than BUFFER_OFFSET 0x${BUFFER_OFFSET.toString(16)}`)
  const out: Array<Virtqueue<T>> = []
  for (let i = 0; i < specs.length; i++) {
    const at = base + offsets[i]!
    memory.write(at, new Uint8Array(ringBytes(layout, nums[i]!, VRING_ALIGN)))
    const { ring, addrs } = createDriverRing<T>(memory, { layout, num: nums[i]!, base: at, align: VRING_ALIGN, features: q.features })
    const spec = specs[i]!
    out.push(new Virtqueue<T>(ring, { index: i, name: spec.name, addrs, callback: spec.callback, notify: () => { q.notify(i) } }))
  }
  return out
}

/**
 * The vhost side wrote `length` bytes at `offset` of this host's memory: if
 * that covers a ring's device part (used flags and avail_event, or the
 * packed device area), a kick decided on the old value may be owed now.
 */
export function deviceWrote (queues: ReadonlyArray<Virtqueue<unknown>>, offset: number, length: number): void {
  for (const vq of queues) {
    const a = vq.addrs
    const to = a.layout === 'split' ? a.device + 4 + 8 * a.num + 2 : a.device + 4
    if (offset < to && offset + length > a.device) vq.recheck()
  }
}
