// Virtio constants, named and valued as in Linux's UAPI headers
// (include/uapi/linux/virtio_config.h, virtio_ring.h, virtio_ids.h).
//
// Feature bits are bit numbers (plain numbers, as in the headers); a set of
// features (what a device offers, what was negotiated) is a bigint, since
// VIRTIO_F_VERSION_1 and above lie past bit 31. featureBit() and hasFeature()
// convert between the two.

// Device status bits: virtio_config.h.
export const VIRTIO_CONFIG_S_ACKNOWLEDGE = 1
export const VIRTIO_CONFIG_S_DRIVER = 2
export const VIRTIO_CONFIG_S_DRIVER_OK = 4
export const VIRTIO_CONFIG_S_FEATURES_OK = 8
export const VIRTIO_CONFIG_S_NEEDS_RESET = 0x40
export const VIRTIO_CONFIG_S_FAILED = 0x80

// Transport feature bit numbers: virtio_config.h.
export const VIRTIO_F_NOTIFY_ON_EMPTY = 24
export const VIRTIO_F_ANY_LAYOUT = 27
export const VIRTIO_F_VERSION_1 = 32
export const VIRTIO_F_ACCESS_PLATFORM = 33
export const VIRTIO_F_RING_PACKED = 34

// Ring feature bit numbers: virtio_ring.h.
export const VIRTIO_RING_F_INDIRECT_DESC = 28
export const VIRTIO_RING_F_EVENT_IDX = 29

// vring_desc.flags: virtio_ring.h.
export const VRING_DESC_F_NEXT = 1
export const VRING_DESC_F_WRITE = 2
export const VRING_DESC_F_INDIRECT = 4

// vring_used.flags (device to driver: "don't kick me"): virtio_ring.h.
export const VRING_USED_F_NO_NOTIFY = 1
// vring_avail.flags (driver to device: "don't interrupt me"): virtio_ring.h.
export const VRING_AVAIL_F_NO_INTERRUPT = 1

// Device ids: virtio_ids.h.
export const VIRTIO_ID_RPMSG = 7

/** The feature set holding only bit `bit`. */
export function featureBit (bit: number): bigint {
  if (!Number.isInteger(bit) || bit < 0 || bit > 63) throw new RangeError(`feature bit ${bit} is not in [0, 63]`)
  return 1n << BigInt(bit)
}

/** The feature set holding exactly `bits`. */
export function features (...bits: number[]): bigint {
  return bits.reduce((set, bit) => set | featureBit(bit), 0n)
}

/** Whether feature set `set` holds bit `bit` (like __virtio_test_bit()). */
export function hasFeature (set: bigint, bit: number): boolean {
  return (set & featureBit(bit)) !== 0n
}
