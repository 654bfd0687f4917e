// The scratchpad side of ntb_vhost_link_work and its neighbours in the RFC's
// drivers/ntb/ntb_vhost.c: what the vhost side publishes in its own
// scratchpads (ids, ntb_vhost_set_features' features, the probe's MW0 size,
// create_vq's ring sizes), the TYPE handshake in spad 0, the virtio host's
// MW0 address (spads 9/10), and what a session leaves to be forgotten.
// The timers and states around them are ntb-vhost.ts's.

import type { NtbDevice } from '../hw/ntb/ntb.js'
import type { DeviceId } from '../uapi/soclink-ids.js'
import { OutOfRangeError } from '../errors.js'
import { configDbBit, joinSpads, MAX_VQS, queueNumBuffers, Spad, splitSpads, TYPE_VHOST, TYPE_VIRTIO } from './ntb-spads.js'

/**
 * Everything the virtio side reads from this host's scratchpads; `nums`:
 * each queue's ring size. The queues and CONFIG_DB need a doorbell bit each.
 */
export function publish (ntb: NtbDevice, id: DeviceId, features: bigint, nums: readonly number[]): void {
  const bit = configDbBit(ntb.dbValidMask())
  if (nums.length > bit) {
    throw new OutOfRangeError(`${nums.length} queues need ${nums.length + 1} doorbell bits; the NTB has valid mask 0x${ntb.dbValidMask().toString(16)}`)
  }
  ntb.spadWrite(Spad.VHOST_VENDORID, id.vendor)
  ntb.spadWrite(Spad.VHOST_DEVICEID, id.device)
  publishFeatures(ntb, features)
  const [lower, upper] = splitSpads(ntb.peerMwGetAddr(0).size)
  ntb.spadWrite(Spad.VHOST_MW0_SIZE_LOWER, lower)
  ntb.spadWrite(Spad.VHOST_MW0_SIZE_UPPER, upper)
  publishQueues(ntb, nums)
}

/** ntb_vhost_set_features. */
export function publishFeatures (ntb: NtbDevice, features: bigint): void {
  const [lower, upper] = splitSpads(features)
  ntb.spadWrite(Spad.VHOST_FEATURES_LOWER, lower)
  ntb.spadWrite(Spad.VHOST_FEATURES_UPPER, upper)
}

/** VHOST_QUEUE_NUM_BUFFERS(n) for every n < MAX_VQS, 0 where there is no queue. */
export function publishQueues (ntb: NtbDevice, nums: readonly number[]): void {
  for (let n = 0; n < MAX_VQS; n++) ntb.spadWrite(queueNumBuffers(n), nums[n] ?? 0)
}

/** TYPE_VHOST into the virtio host's spad 0; whether TYPE_VIRTIO is in ours. */
export function announce (ntb: NtbDevice): boolean {
  ntb.peerSpadWrite(Spad.VIRTIO_TYPE, TYPE_VHOST)
  return ntb.spadRead(Spad.VIRTIO_TYPE) === TYPE_VIRTIO
}

/** This side's TYPE out of the virtio host's spad 0 (the vhost device was unregistered). */
export function withdraw (ntb: NtbDevice): void {
  ntb.peerSpadWrite(Spad.VIRTIO_TYPE, 0)
}

/** Where the virtio host's MW0 starts, by its addresses (spads 9/10). */
export function virtioMw0Addr (ntb: NtbDevice): number {
  return joinSpads(ntb.spadRead(Spad.VIRTIO_MW0_LOWER_ADDR), ntb.spadRead(Spad.VIRTIO_MW0_UPPER_ADDR), 'virtio MW0 address')
}

/** The session's spads cleared: the next session waits for a fresh TYPE from the virtio side. */
export function forget (ntb: NtbDevice): void {
  for (const idx of [Spad.VIRTIO_TYPE, Spad.VHOST_DEVICE_STATUS, Spad.VHOST_COMMAND, Spad.VHOST_COMMAND_STATUS]) ntb.spadWrite(idx, 0)
}
