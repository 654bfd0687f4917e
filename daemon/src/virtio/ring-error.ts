// Errors of the driver side of a virtqueue. Each carries a stable code:
//   ERR_RING_SIZE    a ring size or alignment the layout does not allow
//   ERR_RING         a buffer the caller may not add (no segments, bad address or length, too long)
//   ERR_RING_FULL    not enough free descriptors for the buffer
//   ERR_RING_USED    the device broke the used ring (an id not outstanding, used->idx too far ahead)
//   ERR_RING_BROKEN  the queue saw a device bug earlier and takes no more work (as vq->broken)
// The device side (vhost/vring-abi.ts) has its own RingError: virtio/ and
// vhost/ sit beside each other and may not import each other.

import { SoclinkError } from '../errors.js'

export type RingErrorCode = 'ERR_RING_SIZE' | 'ERR_RING' | 'ERR_RING_FULL' | 'ERR_RING_USED' | 'ERR_RING_BROKEN'

export class RingError extends SoclinkError {
  declare readonly code: RingErrorCode
  constructor (code: RingErrorCode, message: string) {
    super(code, message)
  }
}
