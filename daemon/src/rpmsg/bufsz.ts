// Buffer sizes larger than 512 bytes, when both sides are configured for
// them. Linux's virtio_rpmsg_bus fixes MAX_RPMSG_BUF_SIZE at 512; the
// negotiation here follows the one proposed for it and for OpenAMP (Xiang
// Xiao et al., "rpmsg: virtio_rpmsg_bus: get buffer size from config space",
// 2019, not merged): a device feature bit VIRTIO_RPMSG_F_BUFSZ and the
// buffer sizes at the start of the device's config space:
//
//   struct virtio_rpmsg_config {
//     __le32 txbuf_size;  offset 0: buffers the device sends in (the driver's rx)
//     __le32 rxbuf_size;  offset 4: buffers the device receives (the driver's tx)
//   };
//
// soclink's rule: the device (vhost side) writes its configured size in both
// fields and offers the bit; the driver (virtio side) takes the smaller of
// its own size and each field, and writes what it took back into both
// fields before DRIVER_OK; the device reads them at DRIVER_OK. Either side
// left at 512, or a side that does not know the bit, gives 512. Sizes are
// symmetric (one size both ways), so a side's largest payload is size - 16.

import { RPMSG_BUF_SIZE, RPMSG_HDR_SIZE, RpmsgError } from './wire.js'

export const VIRTIO_RPMSG_F_BUFSZ = 2
export const VIRTIO_RPMSG_CONFIG_SIZE = 8
/** rpmsg_hdr.len is a u16: no payload past 65535 bytes. */
export const RPMSG_MAX_BUF_SIZE = 0xffff + RPMSG_HDR_SIZE

export interface RpmsgBufSizes { txbufSize: number, rxbufSize: number }

/** A configured size: RPMSG_BUF_SIZE (512) to RPMSG_MAX_BUF_SIZE; ERR_RPMSG_SIZE otherwise. */
export function checkBufSize (size: number): number {
  if (!Number.isSafeInteger(size) || size < RPMSG_BUF_SIZE || size > RPMSG_MAX_BUF_SIZE) {
    throw new RpmsgError('ERR_RPMSG_SIZE', `an rpmsg buffer size must be ${RPMSG_BUF_SIZE}..${RPMSG_MAX_BUF_SIZE} bytes, not ${size}`)
  }
  return size
}

export function encodeBufSizes (sizes: RpmsgBufSizes): Uint8Array {
  const out = Buffer.alloc(VIRTIO_RPMSG_CONFIG_SIZE)
  out.writeUInt32LE(sizes.txbufSize, 0)
  out.writeUInt32LE(sizes.rxbufSize, 4)
  return out
}

export function decodeBufSizes (bytes: Uint8Array): RpmsgBufSizes {
  if (bytes.length < VIRTIO_RPMSG_CONFIG_SIZE) throw new RpmsgError('ERR_RPMSG_FORMAT', `rpmsg config of ${bytes.length} bytes, not ${VIRTIO_RPMSG_CONFIG_SIZE}`)
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  return { txbufSize: b.readUInt32LE(0), rxbufSize: b.readUInt32LE(4) }
}

/** The driver's choice: the smallest of its own size and the device's two, never below 512. */
export function chooseBufSize (own: number, device: RpmsgBufSizes): number {
  return Math.max(RPMSG_BUF_SIZE, Math.min(own, device.txbufSize, device.rxbufSize))
}

/** The device's reading of what the driver wrote back: ERR_RPMSG_SIZE unless both agree and fit 512..own. */
export function acceptedBufSize (own: number, written: RpmsgBufSizes): number {
  const { txbufSize, rxbufSize } = written
  if (txbufSize !== rxbufSize || txbufSize < RPMSG_BUF_SIZE || txbufSize > own) {
    throw new RpmsgError('ERR_RPMSG_SIZE', `the virtio side chose buffers of ${txbufSize}/${rxbufSize} bytes; this side takes one size, ${RPMSG_BUF_SIZE}..${own}`)
  }
  return txbufSize
}
