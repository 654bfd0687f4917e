// Device ids soclink adds to Linux's (include/uapi/linux/virtio_ids.h), the
// id-table rule both buses share, the id each vhostDriver name stands for,
// and the payload format of the test device.
//
// SOCLINK_TEST_DEVICE_ID is a soclink test device (virtio/virtio-soclink-test.ts,
// vhost/vhost-soclink-test.ts): two queues, vq0 "tx" (driver to device) and vq1 "rx"
// (device to driver), each buffer holding testPayload(seq) for the next
// sequence number of its queue. 0xffe0 lies far above the ids OASIS assigns.

import { VIRTIO_ID_RPMSG } from './virtio-config.js'

/** A device's id, or one entry of a driver's id table (struct virtio_device_id / vhost_device_id). */
export interface DeviceId { readonly device: number, readonly vendor: number }

/** Matches any device or vendor: include/linux/mod_devicetable.h. */
export const VIRTIO_DEV_ANY_ID = 0xffff_ffff

export const SOCLINK_TEST_DEVICE_ID = 0xffe0

/**
 * The device id a vhost-client driver's id table gives, by the driver's
 * name in the vhostDriver setting: an ep copies it into the function's
 * subsystem id when it starts (the RFC's configfs link does the same with
 * the header), ntb-vhost links that driver's item. null ('none': no client
 * linked) keeps the configured id.
 */
export function vhostDriverDeviceId (driver: string): number | null {
  return driver === 'rpmsg' ? VIRTIO_ID_RPMSG : driver === 'soclink-test' ? SOCLINK_TEST_DEVICE_ID : null
}

/**
 * Whether an id table names `id`: over the entries up to the first with
 * device 0, device equal or ANY and vendor ANY or equal
 * (drivers/virtio/virtio.c virtio_dev_match; the RFC's vhost_dev_match).
 */
export function idTableMatch (table: readonly DeviceId[], id: DeviceId): boolean {
  for (const e of table) {
    if (e.device === 0) return false
    if ((e.device === id.device || e.device === VIRTIO_DEV_ANY_ID) && (e.vendor === VIRTIO_DEV_ANY_ID || e.vendor === id.vendor)) return true
  }
  return false
}

/** The largest test payload, and the size of every buffer the driver posts on rx. */
export const TEST_MAX_PAYLOAD = 4096

const mix = (x: number): number => {
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b)
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b)
  return (x ^ (x >>> 16)) >>> 0
}

/** The payload length for `seq`, in [1, TEST_MAX_PAYLOAD]. */
export function testPayloadSize (seq: number): number {
  return 1 + (mix((seq >>> 0) ^ 0x5bd1e995) % TEST_MAX_PAYLOAD)
}

/** Byte i of the payload for `seq`: seq as a little-endian u64, then a function of (seq, i). */
function payloadByte (seq: number, h: number, i: number): number {
  if (i < 4) return (seq >>> (8 * i)) & 0xff
  if (i < 8) return (Math.floor(seq / 0x1_0000_0000) >>> (8 * (i - 4))) & 0xff
  return (h + Math.imul(i, 0x9b) + (i >>> 8)) & 0xff
}

/** Fills `into` (its whole length) with the first bytes of the payload for `seq`. */
export function fillTestPayload (seq: number, into: Uint8Array): void {
  const h = mix(seq >>> 0)
  for (let i = 0; i < into.length; i++) into[i] = payloadByte(seq, h, i)
}

/** Whether `bytes` are the first bytes of the payload for `seq`. */
export function checkTestPayload (seq: number, bytes: Uint8Array): boolean {
  const h = mix(seq >>> 0)
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== payloadByte(seq, h, i)) return false
  return true
}
