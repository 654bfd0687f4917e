// Compact packets (proto/link.proto, "Compact packets"). Expected bytes are
// written out by hand from the layout in the .proto comments, not from the
// codec's constants; hostile packets must fail with ERR_FRAME and say why.

import t from 'tap'
import { compactHeadroom, decodeCompact, encodeCompact, isCompact, recordSize, type CompactItem } from '../../daemon/src/link/compact.js'
import { bulkWithHeadroom } from '../../daemon/src/mem/frame-sender.js'
import { LinkSession } from '../../daemon/src/link/session.js'
import { wire, type Frame } from '../../daemon/src/link/codec.js'
import { throwsFrameError } from '../support/frame-errors.js'

const u32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]
const u64 = (v: number): number[] => [...u32(v % 2 ** 32), ...u32(Math.floor(v / 2 ** 32))]
const u16 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff]

function encode (items: CompactItem[], ack: number): Buffer {
  return encodeCompact(items, 0, items.length, items.map(recordSize), ack)
}

t.test('a WRITE of two ranges, an UPDATE, an ORDERED and a DOORBELL: every byte as the spec lays it out', async (t) => {
  const items: CompactItem[] = [
    { frame: { seq: 9, write: { window: 3, wseq: 5, ranges: [{ offset: 0x100, length: 2 }, { offset: 2 ** 40, length: 1 }] } }, bulk: Uint8Array.of(0xa1, 0xa2, 0xa3) },
    { frame: { seq: 10, update: { window: 7, offset: 16, length: 2 } }, bulk: Uint8Array.of(0xb1, 0xb2) },
    { frame: { seq: 11, ordered: { window: 7, wseq: 2 ** 33 + 1 } }, bulk: undefined },
    { frame: { seq: 12, doorbell: { target: 'msi', value: 4 } }, bulk: undefined }
  ]
  const out = encode(items, 0x1234)
  const want = [
    ...u32(0x80000001), ...u32(4), ...u64(0x1234), ...u64(9),
    // WRITE: kind 1, 0, R=2, window 3, wseq 5, ranges
    1, 0, ...u16(2), ...u32(3), ...u64(5), ...u64(0x100), ...u32(2), ...u64(2 ** 40), ...u32(1),
    // UPDATE: kind 2, 0, R=1, window 7, one range
    2, 0, ...u16(1), ...u32(7), ...u64(16), ...u32(2),
    // ORDERED: kind 3, 0, 0, window 7, wseq
    3, 0, ...u16(0), ...u32(7), ...u64(2 ** 33 + 1),
    // DOORBELL: kind 4, 0, T=3, value 4, "msi"
    4, 0, ...u16(3), ...u64(4), 0x6d, 0x73, 0x69,
    // bulk in record order
    0xa1, 0xa2, 0xa3, 0xb1, 0xb2
  ]
  t.same([...out], want, 'exact bytes')
  t.ok(isCompact(out), 'the top bit of the first u32 marks it compact')

  const p = decodeCompact(out)
  t.equal(p.frame.ack, 0x1234, 'ack')
  const frames = p.frame.batch!.frames!
  t.same(frames.map((f) => f.seq), [9, 10, 11, 12], 'sequenced records take first_seq, first_seq + 1, ...')
  t.same(frames[0]!.write, { window: 3, wseq: 5, ranges: [{ offset: 0x100, length: 2 }, { offset: 2 ** 40, length: 1 }] })
  t.same(frames[1]!.update, { window: 7, ranges: [{ offset: 16, length: 2 }] })
  t.same(frames[2]!.ordered, { window: 7, wseq: 2 ** 33 + 1 })
  t.same(frames[3]!.doorbell, { target: 'msi', value: 4 })
  t.same(p.bulk.map((b) => [...b]), [[0xa1, 0xa2, 0xa3], [0xb1, 0xb2]], 'one bulk per Write/Update, in order')
})

t.test('other frames ride as embedded protobuf, sequenced or not, a ReadCompletion\'s bulk in the bulk area', async (t) => {
  const items: CompactItem[] = [
    { frame: { pong: { nonce: 7 } }, bulk: undefined },
    { frame: { seq: 4, readCompletion: { tag: 2, status: 0, length: 2 } }, bulk: Uint8Array.of(0xc1, 0xc2) },
    { frame: { seq: 5, subscribe: { window: 1, regionName: 'mem', offset: 0, size: 4096, replica: true } }, bulk: undefined }
  ]
  const out = encode(items, 0)
  t.same([...out.subarray(0, 24)], [...u32(0x80000001), ...u32(3), ...u64(0), ...u64(4)], 'header: first_seq is the first sequenced record\'s')
  t.equal(out[24], 5, 'kind 5 FRAME')
  const len = out.readUInt32LE(28)
  t.same([...out.subarray(32, 32 + len)], [0x7a, 0x02, 0x08, 0x07], 'a Pong: field 15, length 2, nonce 7; no seq, no ack')
  const p = decodeCompact(out)
  const frames = p.frame.batch!.frames!
  t.equal(frames[0]!.seq, 0, 'Pong is not sequenced')
  t.same([frames[1]!.seq, frames[2]!.seq], [4, 5])
  t.equal(frames[1]!.readCompletion!.tag, 2)
  t.same(p.bulk.map((b) => [...b]), [[0xc1, 0xc2]])
  t.equal(frames[2]!.subscribe!.regionName, 'mem')
})

t.test('a session in compact mode round-trips through the codec, batching and all', async (t) => {
  const a = new LinkSession(Uint8Array.of(1), Uint8Array.of(2))
  const b = new LinkSession(Uint8Array.of(2), Uint8Array.of(1))
  a.compact = true
  for (let i = 0; i < 100; i++) a.send({ write: { window: 1, wseq: i + 1, ranges: [{ offset: i * 8, length: 8 }] } }, Buffer.alloc(8, i))
  a.send({ doorbell: { target: 'kick', value: 1 } })
  const packets = a.drain()
  t.equal(packets.length, 1, 'one packet for one turn')
  const got = b.receive(decodeCompact(packets[0]!))
  t.equal(got.length, 101)
  t.same([...got[42]!.bulk!], new Array(8).fill(42), 'bulk follows its frame')
  t.equal(got[100]!.frame.doorbell!.target, 'kick')
  t.equal(b.nextExpected, 102)
})

t.test('a big Write with headroom goes in a packet of its own, encoded in front of its bulk, byte for byte as a copied one', async (t) => {
  t.equal(compactHeadroom(2), 24 + 16 + 2 * 12, 'packet header, WRITE record, two ranges')
  const a = new LinkSession(Uint8Array.of(1), Uint8Array.of(2))
  const b = new LinkSession(Uint8Array.of(2), Uint8Array.of(1))
  a.compact = true
  const ranges = [{ offset: 0, length: 10_000 }, { offset: 20_000, length: 10_000 }]
  const { bulk, headroom } = bulkWithHeadroom(20_000, 2)
  for (let i = 0; i < bulk.length; i++) bulk[i] = i % 251
  a.send({ doorbell: { target: 'before', value: 1 } })
  a.send({ write: { window: 3, wseq: 9, ranges } }, bulk, headroom)
  a.send({ doorbell: { target: 'after', value: 2 } })
  const packets = a.drain()
  t.equal(packets.length, 3, 'before, the Write alone, after')
  t.equal(a.inPlacePackets, 1)
  const big = packets[1]!
  t.equal(big.buffer, bulk.buffer, 'the packet is the bulk\'s own memory')
  t.equal(big.byteOffset + headroom, bulk.byteOffset, 'starting where the headroom starts')
  const copied = encode([{ frame: { seq: 2, write: { window: 3, wseq: 9, ranges } }, bulk: Buffer.from(bulk) }], 0)
  t.same(Buffer.from(big), copied, 'the same bytes encodeCompact makes (ack 0, first_seq 2)')
  const got = packets.flatMap((p) => b.receive(decodeCompact(p)))
  t.same(got.map((d) => d.frame.seq), [1, 2, 3], 'in order')
  t.same(Buffer.from(got[1]!.bulk!), bulk)

  const small = bulkWithHeadroom(100, 1)
  a.send({ write: { window: 3, wseq: 10, offset: 0, length: 100 } }, small.bulk, small.headroom)
  a.send({ doorbell: { target: 'x', value: 3 } })
  t.equal(a.drain().length, 1, 'a small Write is batched (copied) with what follows')
  t.equal(a.inPlacePackets, 1)

  const plain = Buffer.alloc(20_000)
  a.send({ write: { window: 3, wseq: 11, offset: 0, length: plain.length } }, plain)
  const [p] = a.drain()
  t.not(p!.buffer, plain.buffer, 'bulk given without headroom is copied, its neighbours untouched')
})

t.test('hostile compact packets fail with ERR_FRAME and say why', async (t) => {
  const good = encode([{ frame: { seq: 1, update: { window: 1, offset: 0, length: 2 } }, bulk: Uint8Array.of(1, 2) }], 0)
  t.ok(decodeCompact(good), 'the well-formed base case decodes')
  const header = (count: number, seq = 1): number[] => [...u32(0x80000001), ...u32(count), ...u64(0), ...u64(seq)]
  const cases: Array<[string, number[], RegExp]> = [
    ['shorter than its header', [...u32(0x80000001), 0, 0], /shorter than its header/],
    ['an unknown layout', [...u32(0x80000002), ...u32(0), ...u64(0), ...u64(0)], /unknown compact packet layout/],
    ['a record count that cannot fit', header(1000), /cannot fit/],
    ['an unknown record kind', [...header(1), 9, 0, 0, 0, 0, 0, 0, 0], /unknown kind 9/],
    ['a WRITE with no range', [...header(1), 1, 0, ...u16(0), ...u32(1), ...u64(1)], /no range/],
    ['ranges past the end', [...header(1), 2, 0, ...u16(5), ...u32(1), ...u64(0), ...u32(1)], /ranges run past/],
    ['bulk shorter than the ranges', [...header(1), 2, 0, ...u16(1), ...u32(1), ...u64(0), ...u32(4), 1, 2], /bulk of 4 bytes runs past/],
    ['bytes after the bulk', [...header(1), 2, 0, ...u16(1), ...u32(1), ...u64(0), ...u32(1), 1, 2], /1 bytes after the last bulk/],
    ['an offset above 2^53', [...header(1), 2, 0, ...u16(1), ...u32(1), ...u32(0), ...u32(0x200000), ...u32(1), 1], /above 2\^53/],
    ['a doorbell target past the end', [...header(1), 4, 0, ...u16(50), ...u64(1)], /runs past the end/],
    ['sequenced records with first_seq 0', [...header(1, 0), 3, 0, 0, 0, ...u32(1), ...u64(1)], /first_seq is 0/],
    ['an embedded frame that does not decode', [...header(1), 5, 0, 0, 0, ...u32(2), 0xff, 0xff], /undecodable frame/],
    ['an embedded Batch', [...header(1), 5, 0, 0, 0, ...u32(3), 0x82, 0x01, 0x00], /Batch may not be embedded/]
  ]
  for (const [name, bytes, why] of cases) throwsFrameError(t, () => decodeCompact(Buffer.from(bytes)), name, why)
  t.throws(() => encode([{ frame: { batch: { frames: [] } }, bulk: undefined }], 0), { code: 'ERR_FRAME' }, 'a Batch is never encoded as a record')
})

t.test('a frame the receiver would refuse in protobuf is refused in compact form too', async (t) => {
  const b = new LinkSession(Uint8Array.of(2), Uint8Array.of(1))
  const gap: Frame = { seq: 5, ordered: { window: 1, wseq: 1 } }
  t.throws(() => b.receive(decodeCompact(encode([{ frame: gap, bulk: undefined }], 0))), { code: 'ERR_FRAME', message: /sequence gap/ })
})

t.test('a u64 at or above 2^53 is refused in compact packets too: records, embedded frames, sequence numbers', async (t) => {
  const header = (count: number, seq = 1): number[] => [...u32(0x80000001), ...u32(count), ...u64(0), ...u32(seq % 2 ** 32), ...u32(Math.floor(seq / 2 ** 32))]
  // A Read at offset 2^53 + 1: protobufjs's writer takes a u64 as {low, high} halves.
  const read = [...wire.Frame.encode({ read: { window: 1, offset: { low: 1, high: 0x20_0000 } as unknown as number, length: 4 } }).finish()]
  const cases: Array<[string, number[], RegExp]> = [
    ['a doorbell value of 2^53 + 1', [...header(1), 4, 0, ...u16(1), ...u32(1), ...u32(0x200000), 0x6b], /above 2\^53/],
    ['an embedded Read at offset 2^53 + 1', [...header(1), 5, 0, 0, 0, ...u32(read.length), ...read], /record 0\.read\.offset is 9007199254740992: a u64 at or above 2\^53/],
    ['a second record past seq 2^53 - 1', [...header(2, 2 ** 53 - 1), 3, 0, 0, 0, ...u32(1), ...u64(1), 3, 0, 0, 0, ...u32(1), ...u64(2)], /record 1: seq 9007199254740992 is at or above 2\^53/]
  ]
  for (const [name, bytes, why] of cases) throwsFrameError(t, () => decodeCompact(Buffer.from(bytes)), name, why)
})
