// Byte layout of a split virtqueue, as include/uapi/linux/virtio_ring.h lays
// it out (struct vring_desc / vring_avail / vring_used, vring_init(),
// vring_size(), vring_used_event(), vring_avail_event()). All fields are
// little-endian (virtio 1.x). Offsets are addresses in the ring's memory.

import { RingError } from './ring-error.js'

/** sizeof(struct vring_desc): addr u64, len u32, flags u16, next u16. */
export const VRING_DESC_SIZE = 16
/** sizeof(struct vring_used_elem): id u32, len u32. */
export const VRING_USED_ELEM_SIZE = 8
/** The largest queue size the split ring allows (virtio 1.x, 2.7). */
export const VRING_MAX_NUM = 32768

/** Where each field of a split ring lies, for desc, avail and used parts anywhere in memory. */
export interface RingFields {
  readonly num: number
  /** desc[0]; desc[i] is at desc + 16 * i. */
  readonly desc: number
  /** avail->flags. */
  readonly avail: number
  readonly availIdx: number
  /** avail->ring[0]; avail->ring[i] is at availRing + 2 * i. */
  readonly availRing: number
  /** vring_used_event(): avail->ring[num]. */
  readonly usedEvent: number
  /** used->flags. */
  readonly used: number
  readonly usedIdx: number
  /** used->ring[0]; used->ring[i] is at usedRing + 8 * i (id, then len at + 4). */
  readonly usedRing: number
  /** vring_avail_event(): *(u16 *)&used->ring[num]. */
  readonly availEvent: number
}

/** The legacy contiguous layout of vring_init(): one block from `base`. */
export interface SplitLayout extends RingFields {
  readonly base: number
  readonly align: number
  /** vring_size(num, align): bytes from base to the end of avail_event. */
  readonly size: number
}

const isPowerOfTwo = (n: number): boolean => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0

/** Throws RingError ERR_RING_SIZE unless num is a power of two in [1, 32768]. */
export function checkNum (num: number): void {
  if (!isPowerOfTwo(num) || num > VRING_MAX_NUM) {
    throw new RingError('ERR_RING_SIZE', `ring size ${num} is not a power of two in [1, ${VRING_MAX_NUM}]`)
  }
}

// used is 4-byte aligned (VRING_USED_ALIGN_SIZE), so align is at least 4.
function checkAlign (align: number): void {
  if (!isPowerOfTwo(align) || align < 4 || align > 0x4000_0000) {
    throw new RingError('ERR_RING_SIZE', `ring alignment ${align} is not a power of two in [4, 2^30]`)
  }
}

const alignUp = (n: number, align: number): number => Math.ceil(n / align) * align

/** vring_size(): ALIGN(16 * num + 2 * (3 + num), align) + 2 * 3 + 8 * num. */
export function vringSize (num: number, align: number): number {
  checkNum(num)
  checkAlign(align)
  return alignUp(VRING_DESC_SIZE * num + 2 * (3 + num), align) + 2 * 3 + VRING_USED_ELEM_SIZE * num
}

/** Field offsets for desc, avail and used parts at the given addresses (virtio 1.x allows them apart). */
export function ringFields (num: number, desc: number, avail: number, used: number): RingFields {
  checkNum(num)
  for (const [name, at, alignment] of [['desc', desc, 16], ['avail', avail, 2], ['used', used, 4]] as const) {
    if (!Number.isSafeInteger(at) || at < 0 || at % alignment !== 0) {
      throw new RingError('ERR_RING_SIZE', `${name} address ${at} is not a non-negative multiple of ${alignment}`)
    }
  }
  return {
    num,
    desc,
    avail,
    availIdx: avail + 2,
    availRing: avail + 4,
    usedEvent: avail + 4 + 2 * num,
    used,
    usedIdx: used + 2,
    usedRing: used + 4,
    availEvent: used + 4 + VRING_USED_ELEM_SIZE * num
  }
}

/** vring_init(): desc at base, avail right after it, used at the next `align` boundary after used_event. */
export function splitLayout (base: number, num: number, align: number): SplitLayout {
  const size = vringSize(num, align)
  if (!Number.isSafeInteger(base) || base < 0 || base % align !== 0) {
    throw new RingError('ERR_RING_SIZE', `ring base ${base} is not a non-negative multiple of ${align}`)
  }
  const avail = base + VRING_DESC_SIZE * num
  const used = alignUp(avail + 4 + 2 * num + 2, align)
  return { ...ringFields(num, base, avail, used), base, align, size }
}

/** vring_need_event(): (u16)(new - event - 1) < (u16)(new - old). */
export function vringNeedEvent (eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff)
}
