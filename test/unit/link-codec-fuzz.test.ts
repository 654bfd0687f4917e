// Property-based fuzzing of the link codecs (daemon/src/link/codec.ts,
// compact.ts) with fast-check: any bytes, and valid packets mutated, fail
// with FrameError and nothing else; every valid frame (protobuf) and every
// run of hot records (compact) survives encode and decode unchanged. Runs are
// bounded and seeded: a failure prints the seed and the counterexample's
// path, and SOCLINK_FUZZ_SEED=N replays it.

import t from 'tap'
import fc from 'fast-check'
import { deepStrictEqual } from 'node:assert/strict'
import { decodePacket, encodePacket, type Frame } from '../../daemon/src/link/codec.js'
import { COMPACT_HEADER, COMPACT_MARKER, decodeCompact, encodeCompact, recordSize, type CompactItem } from '../../daemon/src/link/compact.js'
import { FrameError } from '../../daemon/src/errors.js'

const SEED = Number(process.env.SOCLINK_FUZZ_SEED ?? 20_110)
const params = (numRuns: number): fc.Parameters<unknown> => ({ seed: SEED, numRuns, endOnFailure: true })
t.comment(`fast-check seed ${SEED} (SOCLINK_FUZZ_SEED replays it)`)

/** Runs `decode`; true when it returns or throws FrameError, the error otherwise (the property fails with it). */
function onlyFrameErrors (decode: () => unknown): boolean {
  try {
    decode()
  } catch (err) {
    if (err instanceof FrameError) return true
    throw err
  }
  return true
}

const u32 = fc.integer({ min: 0, max: 0xffff_ffff })
// uint64 fields above 2^53 lose precision in JavaScript numbers (issue 11, item 12): the round trips stay below.
const u53 = fc.maxSafeNat()
const bytes = (maxLength: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength })
const text = fc.string({ maxLength: 24, unit: 'grapheme' })

/** A frame that takes no bulk, for protobuf and as an embedded compact record. */
const plainFrame: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({ read: fc.record({ tag: u32, window: u32, offset: u53, length: u32 }) }),
  fc.record({ subscribe: fc.record({ window: u32, regionName: text, regionId: u32, offset: u53, size: u53, replica: fc.boolean() }) }),
  fc.record({ unsubscribe: fc.record({ window: u32 }) }),
  fc.record({ linkEvent: fc.record({ link: text, up: fc.boolean(), reason: text }) }),
  fc.record({ ping: fc.record({ nonce: u53 }) }),
  fc.record({ pong: fc.record({ nonce: u53 }) })
)

/** A frame with its bulk bytes (none for a frame that takes none). */
const frameWithBulk: fc.Arbitrary<{ frame: Frame, bulk: Uint8Array | undefined }> = fc.oneof(
  plainFrame.map((frame) => ({ frame, bulk: undefined })),
  fc.record({ window: u32, offset: u53, wseq: u53, bulk: bytes(64) }).map(({ bulk, ...w }) => ({ frame: { write: { ...w, length: bulk.length } }, bulk })),
  fc.record({ window: u32, offset: u53, bulk: bytes(64) }).map(({ bulk, ...u }) => ({ frame: { update: { ...u, length: bulk.length } }, bulk })),
  fc.record({ tag: u32, status: fc.constantFrom(0, 1, 2), bulk: bytes(64) }).map(({ bulk, ...c }) => ({ frame: { readCompletion: { ...c, length: bulk.length } }, bulk })),
  fc.record({ window: u32, wseq: u53 }).map((ordered) => ({ frame: { ordered }, bulk: undefined })),
  fc.record({ target: text, value: u53 }).map((doorbell) => ({ frame: { doorbell }, bulk: undefined }))
)

/**
 * A frame as a plain object with proto3's defaults (0, false, '', []) left
 * out, as they are on the wire; sub-messages stay, empty or not (presence).
 */
function canonical (v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical)
  if (v instanceof Uint8Array) return Array.from(v)
  if (v !== null && typeof v === 'object') {
    if ('toNumber' in v && typeof v.toNumber === 'function') return (v as { toNumber: () => number }).toNumber()
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) {
      if (k === 'body' || x === undefined || x === null || x === 0 || x === false || x === '' || (Array.isArray(x) && x.length === 0)) continue
      out[k] = canonical(x)
    }
    return out
  }
  return v
}

t.test('protobuf packets: encode then decode gives back every frame and its bulk', async (t) => {
  const packet = fc.oneof(
    fc.tuple(frameWithBulk, u53, u53).map(([fb, seq, ack]) => ({ frame: { ...fb.frame, seq, ack }, bulk: fb.bulk === undefined ? [] : [fb.bulk] })),
    fc.tuple(fc.array(frameWithBulk, { minLength: 1, maxLength: 6 }), u53).map(([fbs, ack]) => ({
      frame: { ack, batch: { frames: fbs.map((fb, i) => ({ ...fb.frame, seq: i + 1 })) } },
      bulk: fbs.flatMap((fb) => fb.bulk === undefined ? [] : [fb.bulk])
    }))
  )
  fc.assert(fc.property(packet, ({ frame, bulk }) => {
    const got = decodePacket(encodePacket(frame, bulk))
    deepStrictEqual(canonical(got.frame), canonical(frame))
    return got.bulk.length === bulk.length && got.bulk.every((b, i) => Buffer.from(b).equals(Buffer.from(bulk[i]!)))
  }), params(400))
  t.pass('400 packets round-tripped')
})

/** A hot record or an embedded frame, as a session hands it to encodeCompact (ranges on every Write and Update). */
const compactItem: fc.Arbitrary<CompactItem> = fc.oneof(
  fc.record({ window: u32, wseq: u53, ranges: fc.array(fc.record({ offset: fc.nat({ max: 2 ** 48 }), length: fc.nat({ max: 48 }) }), { minLength: 1, maxLength: 4 }) })
    .map((w) => ({ frame: { write: w }, bulk: patternFor(w.ranges) })),
  fc.record({ window: u32, ranges: fc.array(fc.record({ offset: fc.nat({ max: 2 ** 48 }), length: fc.nat({ max: 48 }) }), { minLength: 1, maxLength: 4 }) })
    .map((u) => ({ frame: { update: u }, bulk: patternFor(u.ranges) })),
  fc.record({ window: u32, wseq: u53 }).map((ordered) => ({ frame: { ordered }, bulk: undefined })),
  fc.record({ target: fc.string({ maxLength: 24 }), value: u53 }).map((doorbell) => ({ frame: { doorbell }, bulk: undefined })),
  plainFrame.map((frame) => ({ frame, bulk: undefined })),
  fc.record({ tag: u32, bulk: bytes(48) }).map(({ tag, bulk }) => ({ frame: { readCompletion: { tag, length: bulk.length } }, bulk }))
)

function patternFor (ranges: Array<{ length: number }>): Uint8Array {
  const n = ranges.reduce((a, r) => a + r.length, 0)
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff)
}

/** Numbers sequenced frames from `first`, as the session does. */
function sequence (items: CompactItem[], first: number): CompactItem[] {
  let seq = first
  return items.map((it) => {
    const control = it.frame.ping != null || it.frame.pong != null
    return { frame: { ...it.frame, seq: control ? 0 : seq++ }, bulk: it.bulk }
  })
}

function encodeAll (items: CompactItem[], ack: number): Buffer {
  return encodeCompact(items, 0, items.length, items.map(recordSize), ack)
}

t.test('compact packets: encode then decode gives back every record, its seq and its bulk', async (t) => {
  fc.assert(fc.property(fc.array(compactItem, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 2 ** 40 }), u53, (raw, first, ack) => {
    const items = sequence(raw, first)
    const got = decodeCompact(encodeAll(items, ack))
    deepStrictEqual(got.frame.ack, ack)
    deepStrictEqual(got.frame.batch!.frames!.map(canonical), items.map((it) => canonical(it.frame)))
    const want = items.flatMap((it) => it.bulk === undefined ? [] : [it.bulk])
    return got.bulk.length === want.length && got.bulk.every((b, i) => Buffer.from(b).equals(Buffer.from(want[i]!)))
  }), params(400))
  t.pass('400 compact packets round-tripped')
})

t.test('any bytes: decodePacket and decodeCompact return or throw FrameError, nothing else', async (t) => {
  fc.assert(fc.property(bytes(600), (b) => onlyFrameErrors(() => decodePacket(b)) && onlyFrameErrors(() => decodeCompact(b))), params(3000))
  // Bytes behind a plausible header get past the first checks.
  const compactLike = fc.tuple(fc.integer({ min: 0, max: 12 }), u53, fc.integer({ min: 0, max: 2 ** 40 }), bytes(400)).map(([count, ack, seq, rest]) => {
    const head = Buffer.alloc(COMPACT_HEADER)
    head.writeUInt32LE(COMPACT_MARKER, 0)
    head.writeUInt32LE(count, 4)
    head.writeUInt32LE(ack % 2 ** 32, 8)
    head.writeUInt32LE(Math.floor(ack / 2 ** 32), 12)
    head.writeUInt32LE(seq % 2 ** 32, 16)
    head.writeUInt32LE(Math.floor(seq / 2 ** 32), 20)
    return Buffer.concat([head, rest])
  })
  fc.assert(fc.property(compactLike, (b) => onlyFrameErrors(() => decodeCompact(b))), params(3000))
  const protobufLike = fc.tuple(fc.nat({ max: 64 }), bytes(200)).map(([n, rest]) => { const h = Buffer.alloc(4); h.writeUInt32LE(Math.min(n, rest.length)); return Buffer.concat([h, rest]) })
  fc.assert(fc.property(protobufLike, (b) => onlyFrameErrors(() => decodePacket(b))), params(3000))
  t.pass('9000 byte strings')
})

/** Changes to a valid packet: flipped bytes, a cut, bytes added, a run overwritten. */
const mutation = fc.oneof(
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }).map((flips) => (b: Buffer): Buffer => {
    const out = Buffer.from(b)
    for (const [at, x] of flips) out[at % out.length] ^= x
    return out
  }),
  fc.nat().map((cut) => (b: Buffer): Buffer => b.subarray(0, cut % b.length)),
  bytes(16).map((extra) => (b: Buffer): Buffer => Buffer.concat([b, extra])),
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([at, run]) => (b: Buffer): Buffer => {
    const out = Buffer.from(b)
    out.set(run.subarray(0, Math.max(0, out.length - at % out.length)), at % out.length)
    return out
  })
)

t.test('valid packets mutated: FrameError or a packet, never another error', async (t) => {
  fc.assert(fc.property(fc.array(compactItem, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 1000 }), mutation, (raw, first, mutate) => {
    const packet = mutate(encodeAll(sequence(raw, first), first))
    return packet.length === 0 || onlyFrameErrors(() => decodeCompact(packet))
  }), params(3000))
  fc.assert(fc.property(fc.array(frameWithBulk, { minLength: 1, maxLength: 6 }), mutation, (fbs, mutate) => {
    const packet = mutate(encodePacket({ batch: { frames: fbs.map((fb, i) => ({ ...fb.frame, seq: i + 1 })) } }, fbs.flatMap((fb) => fb.bulk === undefined ? [] : [fb.bulk])))
    return onlyFrameErrors(() => decodePacket(packet))
  }), params(3000))
  t.pass('6000 mutated packets')
})
