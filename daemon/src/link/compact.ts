// Compact packets (proto/link.proto, "Compact packets"): the hot frames in a
// fixed little-endian layout beside their bulk bytes, any other frame
// embedded as protobuf. Pure: frames in, one Buffer out; bytes in, frames out.
// A decoded compact packet has the shape decodePacket() gives a Batch, so the
// session above handles both encodings alike.

import { wire, checkU64, isSequenced, type Frame, type Packet } from './codec.js'
import { FrameError } from '../errors.js'

export const COMPACT_MARKER = 0x8000_0001
export const COMPACT_HEADER = 24
const KIND_WRITE = 1
const KIND_UPDATE = 2
const KIND_ORDERED = 3
const KIND_DOORBELL = 4
const KIND_FRAME = 5
const RANGE_BYTES = 12
const MAX_RANGES = 0xffff
const TWO_32 = 0x1_0000_0000

/** A window-relative byte range, as Write.ranges and Update.ranges carry it. */
export interface Range { offset: number, length: number }

/** One frame to encode, with its bulk bytes (a Write/Update's ranges' bytes, a ReadCompletion's data). */
export interface CompactItem {
  frame: Frame
  bulk: Uint8Array | undefined
  /** Set for an embedded FRAME record: the frame's protobuf bytes, made by recordSize(). */
  encoded?: Uint8Array
}

/** True when a packet's first u32 marks it compact. */
export function isCompact (buf: Uint8Array): boolean {
  return buf.length >= 4 && (buf[3]! & 0x80) !== 0
}

/** What Write and Update have in common: one range, or several. */
interface Ranged { offset?: number | null, length?: number | null, ranges?: Array<{ offset?: number | null, length?: number | null }> | null }

function rangesOf (m: Ranged): number {
  const n = m.ranges != null && m.ranges.length > 0 ? m.ranges.length : 1
  if (n > MAX_RANGES) throw new FrameError(`${n} ranges in one frame; at most ${MAX_RANGES}`)
  return n
}

/** Bytes the record for `item` takes (before its bulk). Encodes embedded frames once, here. */
export function recordSize (item: CompactItem): number {
  const f = item.frame
  if (f.write != null) return 16 + RANGE_BYTES * rangesOf(f.write)
  if (f.update != null) return 8 + RANGE_BYTES * rangesOf(f.update)
  if (f.ordered != null) return 16
  if (f.doorbell != null) return 12 + Buffer.byteLength(f.doorbell.target ?? '')
  if (item.encoded === undefined) {
    if (f.batch != null) throw new FrameError('a Batch cannot be a compact record')
    item.encoded = wire.Frame.encode({ ...f, seq: 0, ack: 0 }).finish()
  }
  return 8 + item.encoded.length
}

function putU64 (out: Buffer, at: number, v: number): void {
  out.writeUInt32LE(v % TWO_32, at)
  out.writeUInt32LE(Math.floor(v / TWO_32), at + 4)
}

function getU64 (buf: Buffer, at: number): number {
  const high = buf.readUInt32LE(at + 4)
  if (high > 0x1f_ffff) throw new FrameError(`u64 at byte ${at} is above 2^53`)
  return high * TWO_32 + buf.readUInt32LE(at)
}

function putRanges (out: Buffer, at: number, m: Ranged): number {
  const rs = m.ranges
  if (rs != null && rs.length > 0) {
    for (const r of rs) {
      putU64(out, at, r.offset ?? 0)
      out.writeUInt32LE(r.length ?? 0, at + 8)
      at += RANGE_BYTES
    }
    return at
  }
  putU64(out, at, m.offset ?? 0)
  out.writeUInt32LE(m.length ?? 0, at + 8)
  return at + RANGE_BYTES
}

/**
 * Encodes items[from, to) as one compact packet. Sequenced frames must carry
 * consecutive seqs (the session assigns them so); `sizes[k]` is recordSize()
 * of items[k].
 */
export function encodeCompact (items: readonly CompactItem[], from: number, to: number, sizes: readonly number[], ack: number): Buffer {
  let total = COMPACT_HEADER
  let firstSeq = 0
  for (let k = from; k < to; k++) {
    total += sizes[k]! + (items[k]!.bulk?.length ?? 0)
    if (firstSeq === 0 && (items[k]!.frame.seq ?? 0) !== 0) firstSeq = items[k]!.frame.seq!
  }
  const out = Buffer.allocUnsafe(total)
  putPacketHeader(out, to - from, ack, firstSeq)
  let at = COMPACT_HEADER
  for (let k = from; k < to; k++) at = putRecord(out, at, items[k]!)
  for (let k = from; k < to; k++) {
    const b = items[k]!.bulk
    if (b !== undefined) { out.set(b, at); at += b.length }
  }
  return out
}

/**
 * Bytes a producer reserves in front of the bulk of a Write or Update of
 * `ranges` ranges so that the frame, alone in a packet, is encoded in place:
 * header and record go into that room and the packet is the bulk's own
 * memory, not a copy of it (as skb_reserve() leaves room in front of a
 * socket buffer's data for skb_push() to fill with headers).
 */
export function compactHeadroom (ranges: number): number {
  return COMPACT_HEADER + 16 + RANGE_BYTES * ranges
}

/**
 * Encodes `item` as a packet of its own in the `headroom` bytes in front of
 * its bulk (which the caller owns); null when they are too few. `size` is
 * recordSize(item).
 */
export function encodeCompactInPlace (item: CompactItem, size: number, headroom: number, ack: number): Buffer | null {
  const bulk = item.bulk
  const head = COMPACT_HEADER + size
  if (bulk === undefined || headroom < head) return null
  const out = Buffer.from(bulk.buffer, bulk.byteOffset - head, head + bulk.length)
  putPacketHeader(out, 1, ack, item.frame.seq ?? 0)
  putRecord(out, COMPACT_HEADER, item)
  return out
}

function putPacketHeader (out: Buffer, records: number, ack: number, firstSeq: number): void {
  out.writeUInt32LE(COMPACT_MARKER, 0)
  out.writeUInt32LE(records, 4)
  putU64(out, 8, ack)
  putU64(out, 16, firstSeq)
}

/** Writes the record of `item` at `at`; returns where the next one starts. */
function putRecord (out: Buffer, at: number, item: CompactItem): number {
  const f = item.frame
  out[at + 1] = 0
  if (f.write != null) {
    out[at] = KIND_WRITE
    out.writeUInt16LE(rangesOf(f.write), at + 2)
    out.writeUInt32LE(f.write.window ?? 0, at + 4)
    putU64(out, at + 8, f.write.wseq ?? 0)
    return putRanges(out, at + 16, f.write)
  }
  if (f.update != null) {
    out[at] = KIND_UPDATE
    out.writeUInt16LE(rangesOf(f.update), at + 2)
    out.writeUInt32LE(f.update.window ?? 0, at + 4)
    return putRanges(out, at + 8, f.update)
  }
  if (f.ordered != null) {
    out[at] = KIND_ORDERED
    out.writeUInt16LE(0, at + 2)
    out.writeUInt32LE(f.ordered.window ?? 0, at + 4)
    putU64(out, at + 8, f.ordered.wseq ?? 0)
    return at + 16
  }
  if (f.doorbell != null) {
    out[at] = KIND_DOORBELL
    const n = out.write(f.doorbell.target ?? '', at + 12, 'utf8')
    out.writeUInt16LE(n, at + 2)
    putU64(out, at + 4, f.doorbell.value ?? 0)
    return at + 12 + n
  }
  const e = item.encoded!
  out[at] = KIND_FRAME
  out.writeUInt16LE(0, at + 2)
  out.writeUInt32LE(e.length, at + 4)
  out.set(e, at + 8)
  return at + 8 + e.length
}

function readRanges (buf: Buffer, at: number, count: number, end: number): { ranges: Range[], bytes: number } {
  if (count === 0) throw new FrameError('a compact Write or Update with no range')
  if (at + count * RANGE_BYTES > end) throw new FrameError('ranges run past the end of the packet')
  const ranges: Range[] = new Array(count)
  let bytes = 0
  for (let i = 0; i < count; i++) {
    const offset = getU64(buf, at)
    const length = buf.readUInt32LE(at + 8)
    if (offset + length > Number.MAX_SAFE_INTEGER) throw new FrameError(`range [${offset}, +${length}) is past 2^53`)
    ranges[i] = { offset, length }
    bytes += length
    at += RANGE_BYTES
  }
  return { ranges, bytes }
}

/**
 * Decodes a compact packet into the shape of a decoded Batch: each record a
 * Frame with its seq, the bulk payloads in record order. Throws FrameError
 * on anything malformed.
 */
export function decodeCompact (data: Uint8Array): Packet {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  if (buf.length < COMPACT_HEADER) throw new FrameError(`compact packet of ${buf.length} bytes is shorter than its header`)
  const marker = buf.readUInt32LE(0)
  if (marker !== COMPACT_MARKER) throw new FrameError(`unknown compact packet layout 0x${marker.toString(16)}`)
  const count = buf.readUInt32LE(4)
  const ack = getU64(buf, 8)
  let seq = getU64(buf, 16)
  const end = buf.length
  // Each record takes at least 8 bytes: a count past that cannot be honest.
  if (count > (end - COMPACT_HEADER) / 8) throw new FrameError(`${count} records cannot fit a ${end}-byte packet`)
  const frames: Frame[] = new Array(count)
  const bulkSizes: number[] = []
  let at = COMPACT_HEADER
  for (let i = 0; i < count; i++) {
    if (at + 8 > end) throw new FrameError(`record ${i} runs past the end of the packet`)
    const kind = buf[at]!
    let f: Frame
    switch (kind) {
      case KIND_WRITE: {
        if (at + 16 > end) throw new FrameError(`record ${i} runs past the end of the packet`)
        const r = readRanges(buf, at + 16, buf.readUInt16LE(at + 2), end)
        f = { write: { window: buf.readUInt32LE(at + 4), wseq: getU64(buf, at + 8), ranges: r.ranges } }
        bulkSizes.push(r.bytes)
        at += 16 + RANGE_BYTES * r.ranges.length
        break
      }
      case KIND_UPDATE: {
        const r = readRanges(buf, at + 8, buf.readUInt16LE(at + 2), end)
        f = { update: { window: buf.readUInt32LE(at + 4), ranges: r.ranges } }
        bulkSizes.push(r.bytes)
        at += 8 + RANGE_BYTES * r.ranges.length
        break
      }
      case KIND_ORDERED:
        if (at + 16 > end) throw new FrameError(`record ${i} runs past the end of the packet`)
        f = { ordered: { window: buf.readUInt32LE(at + 4), wseq: getU64(buf, at + 8) } }
        at += 16
        break
      case KIND_DOORBELL: {
        const n = buf.readUInt16LE(at + 2)
        if (at + 12 + n > end) throw new FrameError(`record ${i} runs past the end of the packet`)
        f = { doorbell: { value: getU64(buf, at + 4), target: buf.toString('utf8', at + 12, at + 12 + n) } }
        at += 12 + n
        break
      }
      case KIND_FRAME: {
        const n = buf.readUInt32LE(at + 4)
        if (n > end - at - 8) throw new FrameError(`record ${i} runs past the end of the packet`)
        let inner: Frame
        try {
          inner = wire.Frame.decode(buf.subarray(at + 8, at + 8 + n))
        } catch (err) {
          throw new FrameError(`record ${i}: undecodable frame: ${(err as Error).message}`, { cause: err })
        }
        checkU64(inner, `record ${i}`)
        if (inner.batch != null) throw new FrameError(`record ${i}: a Batch may not be embedded`)
        if ((inner as { body?: string }).body == null) throw new FrameError(`record ${i}: embedded frame without a body`)
        if (inner.write != null || inner.update != null) throw new FrameError(`record ${i}: Write and Update have records of their own`)
        inner.seq = 0
        inner.ack = 0
        if (inner.readCompletion != null) bulkSizes.push(inner.readCompletion.length ?? 0)
        f = inner
        at += 8 + n
        break
      }
      default:
        throw new FrameError(`record ${i} has unknown kind ${kind}`)
    }
    if (isSequenced(f)) {
      if (seq === 0) throw new FrameError('sequenced records in a packet whose first_seq is 0')
      if (seq > Number.MAX_SAFE_INTEGER) throw new FrameError(`record ${i}: seq ${seq} is at or above 2^53`)
      f.seq = seq++
    }
    frames[i] = f
  }
  const bulk: Uint8Array[] = new Array(bulkSizes.length)
  for (let i = 0; i < bulkSizes.length; i++) {
    const n = bulkSizes[i]!
    if (n > end - at) throw new FrameError(`bulk of ${n} bytes runs past the end of the packet`)
    bulk[i] = buf.subarray(at, at + n)
    at += n
  }
  if (at !== end) throw new FrameError(`${end - at} bytes after the last bulk payload`)
  return { frame: { ack, batch: { frames } }, bulk }
}
