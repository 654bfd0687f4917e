// Byte layout of a packed virtqueue (VIRTIO_F_RING_PACKED), virtio 1.1 2.7
// and include/uapi/linux/virtio_ring.h (struct vring_packed_desc, struct
// vring_packed_desc_event). All fields are little-endian. Offsets are
// addresses in the ring's memory.

import { RingError } from './ring-error.js'
import { vringNeedEvent } from './virtio-ring.js'

/** sizeof(struct vring_packed_desc): addr u64, len u32, id u16, flags u16. */
export const VRING_PACKED_DESC_SIZE = 16
/** sizeof(struct vring_packed_desc_event): off_wrap u16, flags u16. */
export const VRING_PACKED_EVENT_SIZE = 4
/** "Packed virtqueues support up to 2^15 entries each" (virtio 1.1 2.7). */
export const VRING_PACKED_MAX_NUM = 32768

// Field offsets inside struct vring_packed_desc and struct vring_packed_desc_event.
export const PACKED_DESC_ADDR = 0
export const PACKED_DESC_LEN = 8
export const PACKED_DESC_ID = 12
export const PACKED_DESC_FLAGS = 14
export const PACKED_EVENT_OFF_WRAP = 0
export const PACKED_EVENT_FLAGS = 2

// Bit numbers (shifts, not masks), as virtio_ring.h defines them.
export const VRING_PACKED_DESC_F_AVAIL = 7
export const VRING_PACKED_DESC_F_USED = 15
export const VRING_PACKED_EVENT_F_WRAP_CTR = 15

// vring_packed_desc_event.flags values: virtio_ring.h (RING_EVENT_FLAGS_* in virtio 1.1 2.7.10).
export const VRING_PACKED_EVENT_FLAG_ENABLE = 0
export const VRING_PACKED_EVENT_FLAG_DISABLE = 1
export const VRING_PACKED_EVENT_FLAG_DESC = 2

const AVAIL = 1 << VRING_PACKED_DESC_F_AVAIL
const USED = 1 << VRING_PACKED_DESC_F_USED

/** Where the three parts of a packed ring are: descriptor ring, driver area, device area. */
export interface PackedRing {
  readonly num: number
  /** desc[0]; desc[i] is at desc + 16 * i. */
  readonly desc: number
  /** Driver Event Suppression: written by the driver, controls used buffer notifications. */
  readonly driver: number
  /** Device Event Suppression: written by the device, controls available buffer notifications. */
  readonly device: number
}

/** The three parts placed one after another from `base`. */
export interface PackedLayout extends PackedRing {
  readonly base: number
  /** Bytes from base to the end of the device area. */
  readonly size: number
}

/** Throws RingError ERR_RING_SIZE unless num is in [1, 32768]; it need not be a power of two (virtio 1.1 2.7.10.1). */
export function checkPackedNum (num: number): void {
  if (!Number.isSafeInteger(num) || num < 1 || num > VRING_PACKED_MAX_NUM) {
    throw new RingError('ERR_RING_SIZE', `packed ring size ${num} is not in [1, ${VRING_PACKED_MAX_NUM}]`)
  }
}

/** 16 * num + 4 + 4: the bytes of the three parts (virtio 1.1 2.7.10.1). */
export function packedSize (num: number): number {
  checkPackedNum(num)
  return VRING_PACKED_DESC_SIZE * num + 2 * VRING_PACKED_EVENT_SIZE
}

/** The parts at the given addresses, which must be aligned as virtio 1.1 2.7.10.1 asks (16, 4, 4). */
export function packedRing (num: number, desc: number, driver: number, device: number): PackedRing {
  checkPackedNum(num)
  for (const [name, at, alignment] of [['desc', desc, 16], ['driver', driver, 4], ['device', device, 4]] as const) {
    if (!Number.isSafeInteger(at) || at < 0 || at % alignment !== 0) {
      throw new RingError('ERR_RING_SIZE', `${name} address ${at} is not a non-negative multiple of ${alignment}`)
    }
  }
  return { num, desc, driver, device }
}

/** Descriptor ring at base, the driver area right after desc[num - 1], the device area after that. */
export function packedLayout (base: number, num: number): PackedLayout {
  const size = packedSize(num)
  const driver = base + VRING_PACKED_DESC_SIZE * num
  return { ...packedRing(num, base, driver, driver + VRING_PACKED_EVENT_SIZE), base, size }
}

/** The flags that make a descriptor available in lap `wrap`: AVAIL = wrap, USED = !wrap (virtio 1.1 2.7.1). */
export function packedAvailFlags (wrap: number): number {
  return wrap !== 0 ? AVAIL : USED
}

/** The flags that mark a descriptor used in lap `wrap`: AVAIL = USED = wrap (virtio 1.1 2.7.1). */
export function packedUsedFlags (wrap: number): number {
  return wrap !== 0 ? AVAIL | USED : 0
}

/** Whether `flags` make a descriptor available in lap `wrap`. */
export function isPackedAvail (flags: number, wrap: number): boolean {
  return ((flags & AVAIL) !== 0) === (wrap !== 0) && ((flags & USED) !== 0) !== (wrap !== 0)
}

/** Whether `flags` mark a descriptor used in lap `wrap` (is_used_desc_packed). */
export function isPackedUsed (flags: number, wrap: number): boolean {
  return ((flags & AVAIL) !== 0) === (wrap !== 0) && ((flags & USED) !== 0) === (wrap !== 0)
}

/** vring_packed_desc_event.off_wrap for ring position `off` in lap `wrap`. */
export function packedOffWrap (off: number, wrap: number): number {
  return (off | (wrap !== 0 ? 1 << VRING_PACKED_EVENT_F_WRAP_CTR : 0)) & 0xffff
}

/**
 * Whether a side that moved `moved` descriptors forward to position `next` in
 * lap `wrap` passed the event `offWrap` the other side asked for
 * (VRING_PACKED_EVENT_FLAG_DESC, virtio 1.1 2.7.10). As
 * virtqueue_kick_prepare_packed: an event in the other lap lies num behind.
 * With `moved` >= num the laps cannot be told apart, so the answer is yes.
 */
export function packedNeedEvent (offWrap: number, num: number, next: number, wrap: number, moved: number): boolean {
  if (moved >= num) return true
  const off = offWrap & ~(1 << VRING_PACKED_EVENT_F_WRAP_CTR)
  const event = (offWrap >> VRING_PACKED_EVENT_F_WRAP_CTR) === wrap ? off : off - num
  return vringNeedEvent(event & 0xffff, next, (next - moved) & 0xffff)
}
