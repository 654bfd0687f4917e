// What the device side needs of include/uapi/linux/virtio_ring.h. virtio/
// and vhost/ sit beside each other in the stack and may not import each
// other (test/unit/layers.test.ts), so the few constants both use are
// declared here too; test/unit/vring-layout.test.ts checks both copies
// against the header's numbers.

import { SoclinkError } from '../errors.js'

// vring_desc.flags.
export const VRING_DESC_F_NEXT = 1
export const VRING_DESC_F_WRITE = 2
export const VRING_DESC_F_INDIRECT = 4
// used->flags: "don't kick me".
export const VRING_USED_F_NO_NOTIFY = 1
// avail->flags: "don't interrupt me".
export const VRING_AVAIL_F_NO_INTERRUPT = 1
// Feature bit numbers.
export const VIRTIO_RING_F_INDIRECT_DESC = 28
export const VIRTIO_RING_F_EVENT_IDX = 29

/** sizeof(struct vring_desc). */
export const VRING_DESC_SIZE = 16
/** sizeof(struct vring_used_elem). */
export const VRING_USED_ELEM_SIZE = 8
/** The largest split queue size (virtio 1.x, 2.7). */
export const VRING_MAX_NUM = 32768

/** vring_need_event(): (u16)(new - event - 1) < (u16)(new - old). */
export function vringNeedEvent (eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff)
}

/**
 * A ring the driver wrote that breaks the rules; each rule has its code:
 *   ERR_RING_SIZE      ring size not a power of two in [1, 32768]
 *   ERR_RING_IDX       avail->idx more than num ahead of the entries consumed
 *   ERR_RING_INDEX     a head or next index outside its table
 *   ERR_RING_LOOP      a chain longer than its table (a loop)
 *   ERR_RING_ADDRESS   a ring part, indirect table or buffer the device may not access
 *   ERR_RING_LENGTH    a chain whose lengths add up past 2^32 - 1
 *   ERR_RING_ORDER     a readable descriptor after a writable one
 *   ERR_RING_INDIRECT  an indirect descriptor that is not allowed or not well formed
 */
export type RingErrorCode = 'ERR_RING_SIZE' | 'ERR_RING_IDX' | 'ERR_RING_INDEX' | 'ERR_RING_LOOP' |
  'ERR_RING_ADDRESS' | 'ERR_RING_LENGTH' | 'ERR_RING_ORDER' | 'ERR_RING_INDIRECT'

export class RingError extends SoclinkError {
  declare readonly code: RingErrorCode
  constructor (code: RingErrorCode, message: string) {
    super(code, message)
  }
}
