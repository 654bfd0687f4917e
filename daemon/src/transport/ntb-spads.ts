// What ntb_virtio (HOST2) and ntb_vhost (HOST1) share through an NTB: the
// scratchpad table of the RFC's drivers/ntb/ntb_virtio.h, its constants, the
// place of each ring in memory window 0, and which doorbell bit means what.
//
// Shared state lives in the vhost host's own scratchpads: the vhost side
// uses spad_read/spad_write, the virtio side peer_spad_read/peer_spad_write.
// Spad 0 is the exception: each side writes its TYPE into the other's.
//
// Differences from the RFC, on purpose:
//   - rings start on 4 KiB boundaries: vq n sits at the sum of
//     ALIGN(vring_size(num_k, 4096), 4096) over the queues k < n (for equal
//     sizes, n * ALIGN(vring_size(num, 4096), 4096)). The RFC's
//     n * vring_size(num, 4096) leaves vq 1 and up unaligned, where
//     vring_init() aligns the used ring on the absolute address, so the
//     ring's end depends on the mapping and may run into the next ring;
//   - doorbells are bits: vq k rings bit k (the RFC passes the index as
//     the bit mask, so vq 0 rings nothing on a bitmask NTB), and the
//     highest valid bit, CONFIG_DB, says "look at the scratchpads": the
//     virtio side rings it after writing a command, the vhost side after
//     answering one or setting DEVICE_NEEDS_RESET. The RFC polls instead
//     (kntbvhost every 1 ms, the virtio side every 5-10 us). Both hosts
//     are assumed to have the same valid doorbell bits, as they do on one
//     pci-epf-ntb function (one db_count for both interfaces).

import type { NtbDevice } from '../hw/ntb/ntb.js'
import { joinU64 } from '../mem/access.js'
import { OutOfRangeError } from '../errors.js'
import { ringBytes, type RingLayout } from '../virtio/virtqueue.js'
import { HostCmd, CmdStatus } from './epf-vhost-regs.js'

/** Scratchpad indices (ntb_virtio.h). */
export const Spad = {
  /** TYPE_VIRTIO or TYPE_VHOST, written by each side into the other's spad 0. */
  VIRTIO_TYPE: 0,
  VHOST_VENDORID: 1,
  VHOST_DEVICEID: 2,
  VHOST_FEATURES_UPPER: 3,
  VHOST_FEATURES_LOWER: 4,
  VIRTIO_FEATURES_UPPER: 5,
  VIRTIO_FEATURES_LOWER: 6,
  VHOST_MW0_SIZE_LOWER: 7,
  VHOST_MW0_SIZE_UPPER: 8,
  VIRTIO_MW0_LOWER_ADDR: 9,
  VIRTIO_MW0_UPPER_ADDR: 10,
  VHOST_DEVICE_STATUS: 11,
  VHOST_CONFIG_GENERATION: 12,
  VHOST_COMMAND: 13,
  VHOST_COMMAND_STATUS: 14,
  VHOST_QUEUE_BASE: 15,
  VHOST_DEVICE_CFG_SPACE: 23
} as const

/** VHOST_QUEUE_NUM_BUFFERS(n): the ring size of vq n, 0 for no queue. */
export const queueNumBuffers = (n: number): number => Spad.VHOST_QUEUE_BASE + n

/** enum virtio_type. */
export const TYPE_VIRTIO = 1
export const TYPE_VHOST = 2

/** enum host_cmd and enum host_cmd_status: the same values as pci-epf-vhost's. */
export { HostCmd, CmdStatus }

export const MAX_VQS = 8
/** Rings below, buffers from here to the end of memory window 0. */
export const BUFFER_OFFSET = 0x20000
/** link_work retries this often (ms) until the peer's type appears. */
export const NTB_LINK_DOWN_TIMEOUT_MS = 10
/** How long the virtio side waits for a command's status (ms). */
export const COMMAND_TIMEOUT_MS = 1000
/** mw_get_align of ntb_hw_epf (SZ_4K), and VIRTIO_PCI_VRING_ALIGN: where the used ring starts. */
export const VRING_ALIGN = 4096
/** soclink's fallback for a lost doorbell: scratchpads are looked at this often (ms) anyway. */
export const FALLBACK_POLL_MS = 50

const alignUp = (n: number, align: number): number => Math.ceil(n / align) * align

/** Where each ring starts in memory window 0, and where the last one ends (see the header). */
export function ringOffsets (layout: RingLayout, nums: readonly number[]): { offsets: number[], end: number } {
  const offsets: number[] = []
  let at = 0
  for (const num of nums) {
    offsets.push(at)
    at += alignUp(ringBytes(layout, num, VRING_ALIGN), VRING_ALIGN)
  }
  const last = nums.length - 1
  const end = last < 0 ? 0 : offsets[last]! + ringBytes(layout, nums[last]!, VRING_ALIGN)
  return { offsets, end }
}

/** The doorbell bit that means "look at the scratchpads": the highest valid one, or -1 with none. */
export function configDbBit (validMask: number): number {
  const m = validMask >>> 0
  return m === 0 ? -1 : 31 - Math.clz32(m)
}

/** A u64 from its two scratchpad halves; OutOfRangeError above 2^53 - 1. */
export function joinSpads (lower: number, upper: number, what: string): number {
  return joinU64(lower >>> 0, upper >>> 0, what)
}

/** A u64 as its [lower, upper] scratchpad halves. */
export function splitSpads (value: number | bigint): [number, number] {
  const v = BigInt(value)
  return [Number(v & 0xffff_ffffn), Number((v >> 32n) & 0xffff_ffffn)]
}

/** Features as a u64 from their two scratchpad halves (ntb_vhost_finalize_features, ntb_virtio_get_features). */
export function joinFeatures (lower: number, upper: number): bigint {
  return BigInt(lower >>> 0) | (BigInt(upper >>> 0) << 32n)
}

/**
 * Whether both TYPEs are still in place: `peer` (the other side's) in this
 * host's spad 0 and `own` in the other host's; false where the NTB cannot tell.
 */
export function typesInPlace (ntb: NtbDevice, own: number, peer: number): boolean {
  try {
    return ntb.spadRead(Spad.VIRTIO_TYPE) === peer && ntb.peerSpadRead(Spad.VIRTIO_TYPE) === own
  } catch {
    return false
  }
}

/** Scratchpad access for the device config space: spad_read/write or peer_spad_read/write. */
export interface SpadAccess { count: number, read: (idx: number) => number, write: (idx: number, value: number) => void }

/** This host's scratchpads (spad_read/spad_write): the vhost side's view of the shared state. */
export function ownSpads (ntb: NtbDevice): SpadAccess {
  return { count: ntb.spadCount(), read: (i) => ntb.spadRead(i), write: (i, v) => { ntb.spadWrite(i, v) } }
}

/** The other host's (peer_spad_read/peer_spad_write), counted as this host's: the virtio side's view. */
export function peerSpads (ntb: NtbDevice): SpadAccess {
  return { count: ntb.spadCount(), read: (i) => ntb.peerSpadRead(i), write: (i, v) => { ntb.peerSpadWrite(i, v) } }
}

/**
 * Device config bytes [offset, offset + length) from the scratchpads at
 * VHOST_DEVICE_CFG_SPACE on, four little-endian bytes per scratchpad (the
 * RFC's ntb_virtio_get/set use the virtio host's own scratchpads, which the
 * vhost side never sees; here they are the vhost host's, as all shared state).
 */
export function readConfigSpads (spads: SpadAccess, offset: number, length: number): Uint8Array {
  checkConfigRange(spads, offset, length)
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) {
    const o = offset + i
    out[i] = (spads.read(Spad.VHOST_DEVICE_CFG_SPACE + (o >> 2)) >>> (8 * (o & 3))) & 0xff
  }
  return out
}

export function writeConfigSpads (spads: SpadAccess, offset: number, bytes: Uint8Array): void {
  checkConfigRange(spads, offset, bytes.length)
  for (let i = 0; i < bytes.length; i++) {
    const o = offset + i
    const idx = Spad.VHOST_DEVICE_CFG_SPACE + (o >> 2)
    const shift = 8 * (o & 3)
    spads.write(idx, ((spads.read(idx) & ~(0xff << shift)) | (bytes[i]! << shift)) >>> 0)
  }
}

function checkConfigRange (spads: SpadAccess, offset: number, length: number): void {
  const room = Math.max(0, spads.count - Spad.VHOST_DEVICE_CFG_SPACE) * 4
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > room) {
    throw new OutOfRangeError(`device config: ${length} bytes at ${offset} are outside the ${room} bytes of scratchpads from ${Spad.VHOST_DEVICE_CFG_SPACE} on`)
  }
}
