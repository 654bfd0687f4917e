// A virtqueue that breaks the rules, found by either side. Each rule has its
// stable code.
//   driver side (virtio/):
//     ERR_RING           a buffer the caller may not add (no segments, bad address or length, too long)
//     ERR_RING_FULL      not enough free descriptors for the buffer
//     ERR_RING_USED      the device broke the used ring (an id not outstanding, used->idx too far ahead)
//     ERR_RING_BROKEN    the queue saw a device bug earlier and takes no more work (as vq->broken)
//   device side (vhost/), where the driver may be hostile:
//     ERR_RING_AVAIL     avail->idx more than num ahead of the entries consumed (packed: a list that would overrun slots still held)
//     ERR_RING_INDEX     a head or next index outside its table
//     ERR_RING_LOOP      a chain longer than its table (a loop)
//     ERR_RING_ADDRESS   a ring part, indirect table or buffer the device may not access
//     ERR_RING_LENGTH    a chain whose lengths add up past 2^32 - 1
//     ERR_RING_ORDER     a readable descriptor after a writable one
//     ERR_RING_INDIRECT  an indirect descriptor that is not allowed or not well formed
//     ERR_RING_ID        packed: complete() of a buffer id the device does not hold
//   both:
//     ERR_RING_SIZE      a ring size not a power of two in [1, 32768] (packed: any size in [1, 32768]), or a bad alignment

import { SoclinkError, type RingErrorCode } from '../errors.js'

export type { RingErrorCode } from '../errors.js'

export class RingError extends SoclinkError {
  declare readonly code: RingErrorCode
  constructor (code: RingErrorCode, message: string) {
    super(code, message)
  }
}
