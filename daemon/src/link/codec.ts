// Packet codec for proto/link.proto: a u32 LE header length, the protobuf
// Frame, then the bulk bytes of every Write, Update and ReadCompletion in
// depth-first order. Pure: bytes in, objects out.

import { soclink } from '../../../proto/gen/link.js'
import { FrameError } from '../errors.js'

export const wire = soclink.link.v1
export type Frame = soclink.link.v1.IFrame

export const PROTOCOL_VERSION = wire.Version.VERSION_1
const HEADER_PREFIX = 4

/** A decoded packet: its frame and the bulk payloads in depth-first order. */
export interface Packet {
  frame: Frame
  bulk: Uint8Array[]
}

/** The bulk length a frame declares, or -1 if it carries no bulk. */
export function bulkLength (f: Frame): number {
  if (f.write != null) return rangedLength(f.write)
  if (f.update != null) return rangedLength(f.update)
  if (f.readCompletion != null) return f.readCompletion.length ?? 0
  return -1
}

/** A Write's or Update's bulk: its ranges' lengths added up, or its one length. */
function rangedLength (m: { length?: number | null, ranges?: Array<{ length?: number | null }> | null }): number {
  const rs = m.ranges
  if (rs == null || rs.length === 0) return m.length ?? 0
  let n = 0
  for (const r of rs) n += r.length ?? 0
  return n
}

/** The frames of a packet in depth-first order (a Batch's contents, or itself). */
export function framesOf (frame: Frame): Frame[] {
  return frame.batch != null ? (frame.batch.frames ?? []) : [frame]
}

/**
 * Encodes a frame and its bulk payloads (one per bulk-carrying frame, in
 * depth-first order) into one packet.
 */
export function encodePacket (frame: Frame, bulk: readonly Uint8Array[] = []): Buffer {
  const header = wire.Frame.encode(frame).finish()
  let total = HEADER_PREFIX + header.length
  for (const b of bulk) total += b.length
  const out = Buffer.allocUnsafe(total)
  out.writeUInt32LE(header.length, 0)
  out.set(header, HEADER_PREFIX)
  let at = HEADER_PREFIX + header.length
  for (const b of bulk) {
    out.set(b, at)
    at += b.length
  }
  return out
}

/** Decodes one packet; throws FrameError on anything malformed. */
export function decodePacket (buf: Uint8Array): Packet {
  if (buf.length < HEADER_PREFIX) throw new FrameError(`packet of ${buf.length} bytes is shorter than its header prefix`)
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const headerLength = view.getUint32(0, true)
  if (headerLength > buf.length - HEADER_PREFIX) {
    throw new FrameError(`header length ${headerLength} exceeds the packet (${buf.length} bytes)`)
  }
  let frame: soclink.link.v1.Frame
  try {
    frame = wire.Frame.decode(buf.subarray(HEADER_PREFIX, HEADER_PREFIX + headerLength))
  } catch (err) {
    throw new FrameError(`undecodable frame: ${(err as Error).message}`, { cause: err })
  }
  checkU64(frame, 'frame')
  if (frame.body == null && frame.seq !== 0) throw new FrameError('sequenced frame without a body')
  const frames = framesOf(frame)
  const bulk: Uint8Array[] = []
  let at = HEADER_PREFIX + headerLength
  for (const f of frames) {
    if (f !== frame && f.batch != null) throw new FrameError('a Batch may not nest')
    if (f !== frame && f.body == null) throw new FrameError('empty frame inside a Batch')
    const n = bulkLength(f)
    if (n < 0) continue
    if (n > buf.length - at) throw new FrameError(`bulk of ${n} bytes runs past the end of the packet`)
    bulk.push(buf.subarray(at, at + n))
    at += n
  }
  if (at !== buf.length) throw new FrameError(`${buf.length - at} bytes after the last bulk payload`)
  return { frame, bulk }
}

/**
 * Refuses a decoded frame with a uint64 field at or above 2^53. The
 * generated code reads 64-bit fields as plain numbers (scripts/build-proto.mjs
 * switches Long off), which silently rounds past 2^53: 2^53 + 1 arrives as
 * 2^53. Every other field of a link frame is 32-bit, so a number that is not
 * a safe integer can only be such a u64.
 */
export function checkU64 (message: object, path: string): void {
  for (const key of Object.keys(message)) {
    const v = (message as Record<string, unknown>)[key]
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new FrameError(`${path}.${key} is ${v}: a u64 at or above 2^53, which soclink does not carry`)
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (typeof v[i] === 'object' && v[i] !== null) checkU64(v[i] as object, `${path}.${key}[${i}]`)
    } else if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) {
      checkU64(v, `${path}.${key}`)
    }
  }
}

/**
 * WebSocket close reasons are at most 123 bytes (RFC 6455 §5.5: a control
 * frame's payload is 125, 2 of them the code); a Goodbye's reason is the same
 * text, so both are cut to this many bytes.
 */
export const GOODBYE_REASON_BYTES = 120

/** `reason` cut to GOODBYE_REASON_BYTES of UTF-8, at a character boundary (never mid-character). */
export function goodbyeReason (reason: string): string {
  const bytes = Buffer.from(reason)
  if (bytes.length <= GOODBYE_REASON_BYTES) return reason
  let end = GOODBYE_REASON_BYTES
  // Back over continuation bytes (10xxxxxx) to the start of the character cut through.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--
  return bytes.toString('utf8', 0, end)
}

/** True for frames that take a sequence number (see proto/link.proto). */
export function isSequenced (f: Frame): boolean {
  return !(f.challenge != null || f.hello != null || f.welcome != null || f.goodbye != null ||
    f.ping != null || f.pong != null || f.batch != null)
}

/**
 * The name of the frame's body, for logs and counters. Frames decoded from
 * protobuf know it; frames built in memory (compact records) are asked.
 */
export function bodyName (f: Frame): string {
  const known = (f as soclink.link.v1.Frame).body
  if (known !== undefined) return known
  for (const k of BODIES) if (f[k] != null) return k
  return 'ack'
}

const BODIES = ['write', 'update', 'ordered', 'doorbell', 'read', 'readCompletion', 'subscribe', 'subscribed', 'unsubscribe',
  'errorReport', 'linkEvent', 'ping', 'pong', 'batch', 'challenge', 'hello', 'welcome', 'goodbye'] as const
