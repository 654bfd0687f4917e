// rpmsg on the wire: the message header (drivers/rpmsg/rpmsg_internal.h
// struct rpmsg_hdr), the name service message (include/linux/rpmsg/ns.h
// struct rpmsg_ns_msg) and the RFC's address service message ([P 10]
// struct rpmsg_as_msg), all packed and little-endian (virtio 1.x), plus the
// constants both buses use. Pure encoding: no I/O, no state.
//
//   rpmsg_hdr     { u32 src @0; u32 dst @4; u32 reserved @8; u16 len @12; u16 flags @14; u8 data[] @16 }  16 B
//   rpmsg_ns_msg  { char name[32] @0; u32 addr @32; u32 flags @36 }                                   40 B
//   rpmsg_as_msg  { char name[32] @0; u32 dst @32; u32 src @36; u32 flags @40 }                       44 B
//
// Names are NUL-padded to 32 bytes: at most 31 bytes of UTF-8, no NUL
// inside, every byte after the terminating NUL zero.

import { SoclinkError, type RpmsgErrorCode } from '../errors.js'

export const RPMSG_ADDR_ANY = 0xffff_ffff
/** Addresses below this are reserved for the buses' own endpoints. */
export const RPMSG_RESERVED_ADDRESSES = 1024
/** The name service endpoint. */
export const RPMSG_NS_ADDR = 53
/** The RFC's address service endpoint. */
export const RPMSG_AS_ADDR = 54

/** enum rpmsg_ns_flags. */
export const RPMSG_NS_CREATE = 0
export const RPMSG_NS_DESTROY = 1
/** The RFC: the announcing side wants an address service message back. */
export const RPMSG_AS_ANNOUNCE = 2

/** enum rpmsg_as_flags ([P 10]). */
export const RPMSG_AS_ASSIGN = 1
export const RPMSG_AS_FREE = 2

/** Device feature bit numbers (virtio_rpmsg_bus.c, [P 10]). */
export const VIRTIO_RPMSG_F_NS = 0
export const VIRTIO_RPMSG_F_AS = 1

export const RPMSG_NAME_SIZE = 32
export const RPMSG_HDR_SIZE = 16
export const RPMSG_NS_MSG_SIZE = 40
export const RPMSG_AS_MSG_SIZE = 44
/** MAX_RPMSG_BUF_SIZE: one buffer, header included. */
export const RPMSG_BUF_SIZE = 512
/** The largest payload one buffer carries. */
export const RPMSG_MAX_PAYLOAD = RPMSG_BUF_SIZE - RPMSG_HDR_SIZE
/** MAX_RPMSG_NUM_BUFS, both directions together. */
export const RPMSG_NUM_BUFS = 512
export const RPMSG_BUFS_PER_DIRECTION = RPMSG_NUM_BUFS / 2

/**
 * ERR_RPMSG_SIZE       a message larger than a buffer carries
 * ERR_RPMSG_ADDR       a reserved address, one in use, or no address to send to
 * ERR_RPMSG_FORMAT     a malformed header, name, NS or AS message
 * ERR_RPMSG_TIMEOUT    send() waited longer than its timeout for a buffer
 * ERR_RPMSG_NO_BUFFER  trySend() found no free buffer
 */
export class RpmsgError extends SoclinkError {
  declare readonly code: RpmsgErrorCode
  constructor (code: RpmsgErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options)
  }
}

export interface RpmsgHeader {
  readonly src: number
  readonly dst: number
  readonly reserved: number
  readonly len: number
  readonly flags: number
}

/** A received message: the header's addresses and flags and a copy of its payload. */
export interface RpmsgMessage {
  readonly src: number
  readonly dst: number
  readonly flags: number
  readonly payload: Uint8Array
}

export interface RpmsgNsMsg { readonly name: string, readonly addr: number, readonly flags: number }
export interface RpmsgAsMsg { readonly name: string, readonly dst: number, readonly src: number, readonly flags: number }

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength)

function checkUint (what: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RpmsgError('ERR_RPMSG_FORMAT', `${what} ${value} is not an integer in [0, ${max}]`)
  }
}

/** Throws ERR_RPMSG_FORMAT unless `addr` is a u32. */
export function checkAddr (what: string, addr: number): void { checkUint(what, addr, 0xffff_ffff) }

/** The header's 16 bytes. */
export function encodeHeader (h: RpmsgHeader): Uint8Array {
  checkAddr('rpmsg src', h.src)
  checkAddr('rpmsg dst', h.dst)
  checkAddr('rpmsg reserved', h.reserved)
  checkUint('rpmsg len', h.len, 0xffff)
  checkUint('rpmsg flags', h.flags, 0xffff)
  const out = Buffer.allocUnsafe(RPMSG_HDR_SIZE)
  putHeader(out, h.src, h.dst, h.reserved, h.len, h.flags)
  return out
}

/** struct rpmsg_hdr at the start of `out`, values already checked. */
function putHeader (out: Buffer, src: number, dst: number, reserved: number, len: number, flags: number): void {
  out.writeUInt32LE(src, 0)
  out.writeUInt32LE(dst, 4)
  out.writeUInt32LE(reserved, 8)
  out.writeUInt16LE(len, 12)
  out.writeUInt16LE(flags, 14)
}

/** The header at the start of `bytes`; ERR_RPMSG_FORMAT if there are fewer than 16 bytes. */
export function decodeHeader (bytes: Uint8Array): RpmsgHeader {
  if (bytes.length < RPMSG_HDR_SIZE) throw new RpmsgError('ERR_RPMSG_FORMAT', `an rpmsg header needs ${RPMSG_HDR_SIZE} bytes, got ${bytes.length}`)
  const v = view(bytes)
  return { src: v.getUint32(0, true), dst: v.getUint32(4, true), reserved: v.getUint32(8, true), len: v.getUint16(12, true), flags: v.getUint16(14, true) }
}

/** ERR_RPMSG_SIZE unless a `length`-byte payload fits a buffer of bufSize; ERR_RPMSG_FORMAT unless both addresses are u32. */
export function checkMessage (src: number, dst: number, length: number, bufSize = RPMSG_BUF_SIZE): void {
  if (length > bufSize - RPMSG_HDR_SIZE) {
    throw new RpmsgError('ERR_RPMSG_SIZE', `a ${length}-byte message is more than the ${bufSize - RPMSG_HDR_SIZE} bytes a buffer carries`)
  }
  checkAddr('rpmsg src', src)
  checkAddr('rpmsg dst', dst)
}

/**
 * The header of a message as rpmsg_send_offchannel_raw writes it (reserved
 * 0, flags 0) into the first 16 bytes of `out`, which the buses keep and
 * reuse: the payload goes into buffer memory after it, never joined to it.
 * The caller has checked the values (checkMessage).
 */
export function putMessageHeader (out: Buffer, src: number, dst: number, length: number): Buffer {
  putHeader(out, src, dst, 0, length, 0)
  return out
}

/** Header and payload in one new buffer; ERR_RPMSG_SIZE if it does not fit a buffer of bufSize. */
export function encodeMessage (src: number, dst: number, payload: Uint8Array, bufSize = RPMSG_BUF_SIZE): Uint8Array {
  checkMessage(src, dst, payload.length, bufSize)
  const out = Buffer.allocUnsafe(RPMSG_HDR_SIZE + payload.length)
  putHeader(out, src, dst, 0, payload.length, 0)
  out.set(payload, RPMSG_HDR_SIZE)
  return out
}

/**
 * A buffer's used bytes as a message (rpmsg_recv_single): ERR_RPMSG_SIZE if
 * there are more than bufSize of them, ERR_RPMSG_FORMAT if they are shorter
 * than a header or than the header's len says.
 */
export function decodeMessage (bytes: Uint8Array, bufSize = RPMSG_BUF_SIZE): RpmsgMessage {
  if (bytes.length > bufSize) throw new RpmsgError('ERR_RPMSG_SIZE', `${bytes.length} bytes are more than a ${bufSize}-byte buffer`)
  const h = decodeHeader(bytes)
  if (h.len > bytes.length - RPMSG_HDR_SIZE) {
    throw new RpmsgError('ERR_RPMSG_FORMAT', `header len ${h.len} is more than the ${bytes.length - RPMSG_HDR_SIZE} payload bytes received`)
  }
  // A view, not a copy: every caller hands over bytes it read out of a buffer for this message alone.
  return { src: h.src, dst: h.dst, flags: h.flags, payload: bytes.subarray(RPMSG_HDR_SIZE, RPMSG_HDR_SIZE + h.len) }
}

/** A name as 32 NUL-padded bytes; ERR_RPMSG_FORMAT if empty, holding a NUL, or over 31 bytes of UTF-8. */
export function encodeName (name: string): Uint8Array {
  const bytes = new TextEncoder().encode(name)
  if (bytes.length === 0) throw new RpmsgError('ERR_RPMSG_FORMAT', 'an rpmsg name may not be empty')
  if (bytes.includes(0)) throw new RpmsgError('ERR_RPMSG_FORMAT', `rpmsg name ${JSON.stringify(name)} holds a NUL`)
  if (bytes.length > RPMSG_NAME_SIZE - 1) {
    throw new RpmsgError('ERR_RPMSG_FORMAT', `rpmsg name ${JSON.stringify(name)} is ${bytes.length} bytes; at most ${RPMSG_NAME_SIZE - 1} fit`)
  }
  const out = new Uint8Array(RPMSG_NAME_SIZE)
  out.set(bytes)
  return out
}

/** Throws ERR_RPMSG_FORMAT unless encodeName(name) would succeed. */
export function checkName (name: string): void { encodeName(name) }

/** The name in the first 32 bytes; ERR_RPMSG_FORMAT unless NUL-terminated, NUL-padded, non-empty UTF-8. */
export function decodeName (bytes: Uint8Array): string {
  if (bytes.length < RPMSG_NAME_SIZE) throw new RpmsgError('ERR_RPMSG_FORMAT', `an rpmsg name needs ${RPMSG_NAME_SIZE} bytes, got ${bytes.length}`)
  const field = bytes.subarray(0, RPMSG_NAME_SIZE)
  const end = field.indexOf(0)
  if (end < 0) throw new RpmsgError('ERR_RPMSG_FORMAT', 'rpmsg name is not NUL-terminated within 32 bytes')
  if (end === 0) throw new RpmsgError('ERR_RPMSG_FORMAT', 'rpmsg name is empty')
  if (field.subarray(end).some((b) => b !== 0)) throw new RpmsgError('ERR_RPMSG_FORMAT', 'rpmsg name is not NUL-padded')
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(field.subarray(0, end))
  } catch (err) {
    throw new RpmsgError('ERR_RPMSG_FORMAT', 'rpmsg name is not UTF-8', { cause: err })
  }
}

export function encodeNsMsg (m: RpmsgNsMsg): Uint8Array {
  checkAddr('ns addr', m.addr)
  checkAddr('ns flags', m.flags)
  const out = new Uint8Array(RPMSG_NS_MSG_SIZE)
  out.set(encodeName(m.name))
  const v = view(out)
  v.setUint32(32, m.addr, true)
  v.setUint32(36, m.flags, true)
  return out
}

/** Exactly 40 bytes, as rpmsg_ns_cb requires. */
export function decodeNsMsg (bytes: Uint8Array): RpmsgNsMsg {
  if (bytes.length !== RPMSG_NS_MSG_SIZE) throw new RpmsgError('ERR_RPMSG_FORMAT', `a name service message is ${RPMSG_NS_MSG_SIZE} bytes, got ${bytes.length}`)
  const v = view(bytes)
  return { name: decodeName(bytes), addr: v.getUint32(32, true), flags: v.getUint32(36, true) }
}

export function encodeAsMsg (m: RpmsgAsMsg): Uint8Array {
  checkAddr('as dst', m.dst)
  checkAddr('as src', m.src)
  checkAddr('as flags', m.flags)
  const out = new Uint8Array(RPMSG_AS_MSG_SIZE)
  out.set(encodeName(m.name))
  const v = view(out)
  v.setUint32(32, m.dst, true)
  v.setUint32(36, m.src, true)
  v.setUint32(40, m.flags, true)
  return out
}

/** Exactly 44 bytes, as the RFC's vhost_rpmsg_as_cb requires. */
export function decodeAsMsg (bytes: Uint8Array): RpmsgAsMsg {
  if (bytes.length !== RPMSG_AS_MSG_SIZE) throw new RpmsgError('ERR_RPMSG_FORMAT', `an address service message is ${RPMSG_AS_MSG_SIZE} bytes, got ${bytes.length}`)
  const v = view(bytes)
  return { name: decodeName(bytes), dst: v.getUint32(32, true), src: v.getUint32(36, true), flags: v.getUint32(40, true) }
}
