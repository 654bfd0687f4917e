// Packet layout of proto/link.proto: u32 LE header length, the protobuf
// Frame, then the bulk bytes of Write / Update / ReadCompletion in
// depth-first order. Expected bytes are written out by hand from the
// protobuf wire format, and headers are cross-checked with a decoder built
// by protobufjs reflection from the .proto text (not the generated module).

import t from 'tap'
import protobuf from 'protobufjs'
import { fileURLToPath } from 'node:url'
import { decodePacket, encodePacket, type Frame } from '../../daemon/src/link/codec.js'
import { throwsFrameError } from '../support/frame-errors.js'

const protoPath = fileURLToPath(new URL('../../proto/link.proto', import.meta.url))
const FrameType = protobuf.loadSync(protoPath).lookupType('soclink.link.v1.Frame')

/** Decodes a header with the reflection decoder into plain JSON-ish values. */
function reflect (header: Uint8Array): Record<string, unknown> {
  return FrameType.toObject(FrameType.decode(header), { longs: Number, enums: Number, defaults: false }) as Record<string, unknown>
}

/** A packet from its parts: prefix computed here, not by the codec. */
function packet (header: number[], ...bulk: number[][]): Buffer {
  const prefix = Buffer.alloc(4)
  prefix.writeUInt32LE(header.length, 0)
  return Buffer.concat([prefix, Buffer.from(header), ...bulk.map((b) => Buffer.from(b))])
}

/** Reads the named fields (prototype defaults included) of a decoded message. */
function fields (m: object | null | undefined, keys: string[]): Record<string, unknown> {
  const o = (m ?? {}) as Record<string, unknown>
  return Object.fromEntries(keys.map((k) => [k, o[k]]))
}

t.test('a Write with 3 bulk bytes: prefix, protobuf header, bulk at the end', async (t) => {
  const out = encodePacket({ seq: 7, ack: 3, write: { window: 1, offset: 2, length: 3, wseq: 4 } }, [Uint8Array.of(0xaa, 0xbb, 0xcc)])
  // seq (field 1, varint) 08 07; ack (field 2) 10 03;
  // write (field 23, length-delimited): tag (23 << 3 | 2) = 186 = ba 01, length 8,
  //   window 08 01, offset 10 02, length 18 03, wseq 20 04.
  const header = [0x08, 0x07, 0x10, 0x03, 0xba, 0x01, 0x08, 0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x20, 0x04]
  t.same([...out], [header.length, 0, 0, 0, ...header, 0xaa, 0xbb, 0xcc], 'exact bytes')
  t.equal(out.readUInt32LE(0), 15, 'u32 LE header length')
  t.same(reflect(out.subarray(4, 4 + 15)), { seq: 7, ack: 3, write: { window: 1, offset: 2, length: 3, wseq: 4 } }, 'header decodes as a stock protobuf Frame')
  t.same([...out.subarray(out.length - 3)], [0xaa, 0xbb, 0xcc], 'bulk is the tail')

  const back = decodePacket(out)
  t.equal(back.frame.seq, 7)
  t.equal(back.frame.ack, 3)
  t.same(fields(back.frame.write, ['window', 'offset', 'length', 'wseq']), { window: 1, offset: 2, length: 3, wseq: 4 })
  t.same(back.bulk.map((b) => [...b]), [[0xaa, 0xbb, 0xcc]])
})

t.test('a hand-made packet decodes (header length above 127 is a plain u32)', async (t) => {
  // Doorbell (field 30, tag 0xf2 0x01) with a 150-character target: header > 255 bytes.
  const target = 'x'.repeat(150)
  const inner = [0x0a, 0x96, 0x01, ...Buffer.from(target), 0x10, 0x05] // target (len 150), value 5
  const header = [0x08, 0x01, 0xf2, 0x01, inner.length & 0x7f | 0x80, inner.length >> 7, ...inner]
  const buf = packet(header)
  t.equal(buf.readUInt32LE(0), header.length)
  t.ok(header.length > 150)
  const p = decodePacket(buf)
  t.equal(p.frame.seq, 1)
  t.equal(p.frame.doorbell?.target, target)
  t.equal(p.frame.doorbell?.value, 5)
  t.same(p.bulk, [])
})

t.test('a Batch round-trips with its bulk in depth-first order', async (t) => {
  const frames: Frame[] = [
    { seq: 1, write: { window: 2, offset: 16, length: 3, wseq: 1 } },
    { seq: 2, update: { window: 2, offset: 0, length: 2 } },
    { seq: 3, doorbell: { target: 'db0', value: 9 } },
    { seq: 4, readCompletion: { tag: 77, status: 0, length: 4 } },
    { seq: 5, update: { window: 3, offset: 8, length: 0 } }
  ]
  const bulk = [Buffer.from('abc'), Buffer.from('de'), Buffer.from('fghi'), Buffer.alloc(0)]
  const out = encodePacket({ ack: 12, batch: { frames } }, bulk)
  const h = out.readUInt32LE(0)
  t.equal(out.length, 4 + h + 9, 'packet = prefix + header + 9 bulk bytes')
  t.equal(out.subarray(4 + h).toString('latin1'), 'abcdefghi', 'bulk concatenated in frame order')
  const reflected = reflect(out.subarray(4, 4 + h)) as { ack: number, batch: { frames: unknown[] } }
  t.equal(reflected.ack, 12)
  t.same(reflected.batch.frames[2], { seq: 3, doorbell: { target: 'db0', value: 9 } })

  const p = decodePacket(out)
  t.equal(p.frame.ack, 12)
  const got = p.frame.batch?.frames ?? []
  t.equal(got.length, 5)
  t.same(got.map((f) => f.seq), [1, 2, 3, 4, 5])
  t.same(fields(got[0]!.write, ['window', 'offset', 'length', 'wseq']), { window: 2, offset: 16, length: 3, wseq: 1 })
  t.same(fields(got[1]!.update, ['window', 'offset', 'length']), { window: 2, offset: 0, length: 2 })
  t.same(fields(got[2]!.doorbell, ['target', 'value']), { target: 'db0', value: 9 })
  t.same(fields(got[3]!.readCompletion, ['tag', 'status', 'length']), { tag: 77, status: 0, length: 4 })
  t.same(fields(got[4]!.update, ['window', 'offset', 'length']), { window: 3, offset: 8, length: 0 })
  t.same(p.bulk.map((b) => Buffer.from(b).toString('latin1')), ['abc', 'de', 'fghi', ''], 'one bulk entry per bulk-carrying frame')
})

t.test('malformed packets are FrameErrors (ERR_FRAME)', async (t) => {
  const write3 = [0xba, 0x01, 0x06, 0x08, 0x01, 0x18, 0x03, 0x20, 0x01] // write {window 1, length 3, wseq 1}
  t.ok(decodePacket(packet(write3, [1, 2, 3])).frame.write, 'the well-formed base case decodes')

  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['empty packet', new Uint8Array(0), /shorter than its header prefix/],
    ['3 bytes: shorter than the prefix', Uint8Array.of(1, 0, 0), /shorter than its header prefix/],
    ['header length past the end', Buffer.concat([Buffer.from([100, 0, 0, 0]), Buffer.alloc(10)]), /header length 100 exceeds/],
    ['header length 0xffffffff', Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0), /exceeds the packet/],
    ['garbage protobuf (0xff repeated)', packet(new Array(16).fill(0xff)), /undecodable frame/],
    ['truncated length-delimited field', packet([0xba, 0x01, 0x20, 0x08]), /undecodable frame/],
    ['bulk shorter than declared', packet(write3, [1, 2]), /runs past the end/],
    ['no bulk at all for a Write', packet(write3), /runs past the end/],
    ['trailing bytes after bulk', packet(write3, [1, 2, 3, 4]), /1 bytes after the last bulk/],
    ['trailing bytes after a bodyless ack', packet([0x10, 0x01], [9]), /1 bytes after the last bulk/],
    // batch (field 16, tag 0x82 0x01) { frames [ { batch {} } ] }
    ['nested Batch', packet([0x82, 0x01, 0x05, 0x0a, 0x03, 0x82, 0x01, 0x00]), /may not nest/],
    // batch { frames [ { seq 1 } ] }: an inner frame with no body
    ['empty frame inside a Batch', packet([0x82, 0x01, 0x04, 0x0a, 0x02, 0x08, 0x01]), /empty frame inside a Batch/],
    ['sequenced frame without a body ({seq: 5})', packet([0x08, 0x05]), /sequenced frame without a body/]
  ]
  for (const [name, buf, why] of cases) {
    throwsFrameError(t, () => decodePacket(buf), name, why)
  }
})

t.test('a bare acknowledgement (no body, seq 0) is valid', async (t) => {
  const p = decodePacket(packet([0x10, 0x2a]))
  t.equal(p.frame.ack, 42)
  t.equal(p.frame.seq, 0)
  t.equal((p.frame as { body?: string }).body, undefined)
  t.same([...encodePacket({ ack: 42 })], [2, 0, 0, 0, 0x10, 0x2a])
})

/** A u64 protobuf field given as halves: protobufjs's writer takes {low, high} without Long. */
const halves = (high: number, low: number): number => ({ low, high }) as unknown as number

t.test('a u64 at or above 2^53 is refused, not rounded: every field, at any depth', async (t) => {
  const exact = decodePacket(encodePacket({ doorbell: { target: 'kick', value: halves(0x1f_ffff, 0xffff_ffff) } }))
  t.equal(exact.frame.doorbell!.value, 2 ** 53 - 1, '2^53 - 1 arrives exactly')

  const cases: Array<[string, Frame, RegExp]> = [
    ['a doorbell value of 2^53 + 1 (it would arrive as 2^53)', { doorbell: { target: 'kick', value: halves(0x20_0000, 1) } }, /frame\.doorbell\.value is 9007199254740992: a u64 at or above 2\^53/],
    ['sequence number 2^64 - 1', { seq: halves(0xffff_ffff, 0xffff_ffff), doorbell: { target: 'kick', value: 1 } }, /frame\.seq is .*a u64 at or above 2\^53/],
    ['an acknowledgement of 2^53', { ack: halves(0x20_0000, 0) }, /frame\.ack/],
    ['a Read offset inside a Batch', { batch: { frames: [{ seq: 1, read: { window: 1, offset: halves(0x8000_0000, 0), length: 4 } }] } }, /frame\.batch\.frames\[0\]\.read\.offset/]
  ]
  for (const [name, frame, why] of cases) throwsFrameError(t, () => decodePacket(encodePacket(frame)), name, why)
})
