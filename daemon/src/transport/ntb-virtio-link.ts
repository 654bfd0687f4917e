// The scratchpad and memory window side of ntb_virtio_link_work in the RFC's
// drivers/ntb/ntb_virtio.c, once the vhost side's TYPE_VHOST is in this
// host's spad 0: MW0 takes the size the vhost side offers (its spads 7/8);
// once inbound MW 0 is translated onto it (ntb_mw_set_trans, done by
// ntb-virtio.ts with the timers, states and device around all this), its
// address goes into the vhost host's spads 9/10 and TYPE_VIRTIO into its
// spad 0, and the ids the vhost side published (1/2) are read.
//
// Differences from the RFC, on purpose: MW0 is carved out of given memory
// at `base` (not dma_alloc_coherent) and clamped to what it may take and to
// the window's largest size; a MW0 with no room for buffers above
// BUFFER_OFFSET, or a base off the window's alignment, is refused.

import type { NtbDevice } from '../hw/ntb/ntb.js'
import type { DeviceId } from '../uapi/soclink-ids.js'
import { OutOfRangeError } from '../errors.js'
import { BUFFER_OFFSET, joinSpads, Spad, splitSpads, TYPE_VIRTIO } from './ntb-spads.js'

/**
 * MW0's size: what the vhost side offers clamped to `most` and to the
 * window's largest; refused without room for buffers or at a `base` off the
 * window's alignment. The caller translates it (ntb_mw_set_trans).
 */
export function mw0Size (ntb: NtbDevice, base: number, most: number): number {
  const offered = joinSpads(ntb.peerSpadRead(Spad.VHOST_MW0_SIZE_LOWER), ntb.peerSpadRead(Spad.VHOST_MW0_SIZE_UPPER), 'vhost MW0 size')
  const align = ntb.mwGetAlign(0)
  const size = Math.min(offered, most, align.sizeMax)
  if (size <= BUFFER_OFFSET) throw new OutOfRangeError(`MW0 of ${size} bytes (offered ${offered}) leaves no room for buffers above BUFFER_OFFSET 0x${BUFFER_OFFSET.toString(16)}`)
  if (base % align.addrAlign !== 0) throw new OutOfRangeError(`MW0 base 0x${base.toString(16)} is not a multiple of ${align.addrAlign}`)
  return size
}

/** MW0's address into the vhost host's spads 9/10, TYPE_VIRTIO into its spad 0; the device's ids. */
export function announce (ntb: NtbDevice, base: number): DeviceId {
  const [lower, upper] = splitSpads(base)
  ntb.peerSpadWrite(Spad.VIRTIO_MW0_LOWER_ADDR, lower)
  ntb.peerSpadWrite(Spad.VIRTIO_MW0_UPPER_ADDR, upper)
  ntb.peerSpadWrite(Spad.VIRTIO_TYPE, TYPE_VIRTIO)
  return { device: ntb.peerSpadRead(Spad.VHOST_DEVICEID), vendor: ntb.peerSpadRead(Spad.VHOST_VENDORID) }
}
