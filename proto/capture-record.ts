// The records of GET /v1/capture (soclink capture): each link packet a
// daemon sent or received, as it crossed the WebSocket, with when and which
// way. Pure: bytes in, bytes out; the daemon's capture route writes them and
// the client reads them into pcapng (client/src/pcapng.ts).
//
// A binary WebSocket message holds one or more records back to back. All
// integers are little-endian; a u64 is two u32 (low, then high). A record:
//
//   offset 0   u32  L = length of this record, header included
//   offset 4   u8   direction: 1 inbound (received), 2 outbound (sent): the
//                   values of pcapng's epb_flags direction bits
//   offset 5   u8   0
//   offset 6   u16  N = length of the peer name (UTF-8)
//   offset 8   u32  the packet's length on the wire (more than what follows
//                   when the packet was cut at the capture's snap length)
//   offset 12  u64  when, in microseconds since the Unix epoch
//   offset 20  u32  packets dropped for this capture (the reader was too
//                   slow) since the record before this one
//   offset 24  N bytes: the peer name, then L - 24 - N bytes: the packet
//
// A text message holds one JSON object for people and tools (status).

export const CAPTURE_RECORD_HEADER_BYTES = 24

/** pcapng epb_flags bits 0-1 (draft-ietf-opsawg-pcapng §4.3.1): 01 inbound, 10 outbound. */
export const CaptureDirection = { IN: 1, OUT: 2 } as const
export type CaptureDirection = typeof CaptureDirection[keyof typeof CaptureDirection]

export interface CaptureRecord {
  /** The peer link's name. */
  peer: string
  direction: CaptureDirection
  /** Microseconds since the Unix epoch (below 2^53). */
  timeUs: number
  /** The packet's length on the wire. */
  length: number
  /** Its bytes, up to the snap length. */
  data: Uint8Array
  /** Packets dropped for this capture since the record before this one. */
  dropsBefore: number
}

const TWO_32 = 0x1_0000_0000

/** The bytes of one record (its peer name encoded by the caller, as the same name repeats). */
export function encodeCaptureRecord (r: CaptureRecord, peerName: Uint8Array = Buffer.from(r.peer)): Buffer {
  const total = CAPTURE_RECORD_HEADER_BYTES + peerName.length + r.data.length
  const out = Buffer.allocUnsafe(total)
  out.writeUInt32LE(total, 0)
  out.writeUInt8(r.direction, 4)
  out.writeUInt8(0, 5)
  out.writeUInt16LE(peerName.length, 6)
  out.writeUInt32LE(r.length, 8)
  out.writeUInt32LE(r.timeUs % TWO_32, 12)
  out.writeUInt32LE(Math.floor(r.timeUs / TWO_32), 16)
  out.writeUInt32LE(Math.min(r.dropsBefore, 0xffff_ffff), 20)
  out.set(peerName, CAPTURE_RECORD_HEADER_BYTES)
  out.set(r.data, CAPTURE_RECORD_HEADER_BYTES + peerName.length)
  return out
}

/** A message that is not a run of whole records (the client reports it as its own error). */
export class CaptureFormatError extends Error {
  override readonly name = 'CaptureFormatError'
}

/** The records of one binary message; throws CaptureFormatError on anything malformed. */
export function decodeCaptureRecords (msg: Uint8Array): CaptureRecord[] {
  const buf = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength)
  const records: CaptureRecord[] = []
  let at = 0
  while (at < buf.length) {
    if (buf.length - at < CAPTURE_RECORD_HEADER_BYTES) throw new CaptureFormatError(`${buf.length - at} bytes left at ${at}: less than a record header`)
    const total = buf.readUInt32LE(at)
    const nameLength = buf.readUInt16LE(at + 6)
    if (total < CAPTURE_RECORD_HEADER_BYTES + nameLength || total > buf.length - at) {
      throw new CaptureFormatError(`record at ${at} says ${total} bytes (name ${nameLength}); ${buf.length - at} are left`)
    }
    const direction = buf.readUInt8(at + 4)
    if (direction !== CaptureDirection.IN && direction !== CaptureDirection.OUT) throw new CaptureFormatError(`record at ${at} has direction ${direction}`)
    const start = at + CAPTURE_RECORD_HEADER_BYTES
    records.push({
      peer: buf.toString('utf8', start, start + nameLength),
      direction,
      length: buf.readUInt32LE(at + 8),
      timeUs: buf.readUInt32LE(at + 12) + buf.readUInt32LE(at + 16) * TWO_32,
      dropsBefore: buf.readUInt32LE(at + 20),
      data: buf.subarray(start + nameLength, at + total)
    })
    at += total
  }
  return records
}
