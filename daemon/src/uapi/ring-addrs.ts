// Where a virtqueue's three parts are, in either layout: split desc / avail /
// used (vring_init() of linux/virtio_ring.h) or packed descriptor ring /
// driver area / device area (virtio 1.1 2.7.10.1), in the terms of the
// virtio 1.x common config (queue_desc, queue_driver, queue_device). Both
// sides of a queue compute them from the same base, so they agree.

import { splitLayout } from './virtio-ring.js'
import { packedLayout } from './virtio-packed.js'

export type RingLayout = 'split' | 'packed'

export interface RingAddrs {
  readonly layout: RingLayout
  readonly num: number
  readonly desc: number
  /** Split: the avail ring; packed: the driver event suppression area. */
  readonly driver: number
  /** Split: the used ring; packed: the device event suppression area. */
  readonly device: number
}

/** The parts of a ring of `num` laid out contiguously from `base` (`align`: split only, where used starts). */
export function ringAddrs (layout: RingLayout, base: number, num: number, align: number): RingAddrs {
  if (layout === 'split') {
    const l = splitLayout(base, num, align)
    return { layout, num: l.num, desc: l.desc, driver: l.avail, device: l.used }
  }
  const l = packedLayout(base, num)
  return { layout, num: l.num, desc: l.desc, driver: l.driver, device: l.device }
}
