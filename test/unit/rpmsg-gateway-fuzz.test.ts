// Property-based fuzzing of the rpmsg gateway protocol with fast-check:
// version 2 batches (proto/rpmsg-batch.ts) round-trip every record a client
// or a daemon writes, and checkBatch() refuses anything else with BatchError
// only; the gateway's decode path (daemon/src/api/gateway-connection.ts,
// version 1 and 2) takes arbitrary and mutated client messages on the
// in-memory rpmsg pair without throwing: it acts on them or refuses them with
// an ERR_RPMSG_* error and a close, and every message it writes is well
// formed. Seeded and bounded; SOCLINK_FUZZ_SEED=N replays a failure.

import t from 'tap'
import fc from 'fast-check'
import { deepStrictEqual } from 'node:assert/strict'
import { BatchError, BatchReader, BatchWriter, RecordKind, checkBatch, type BatchSide } from '../../proto/rpmsg-batch.js'
import { RpmsgGatewayConnection, rpmsgWire as wire, type GatewaySocket } from '../../daemon/src/api/gateway-connection.js'
import { RPMSG_ADDR_ANY } from '../../daemon/src/rpmsg/wire.js'
import { rpmsgPair } from '../support/rpmsg-pair.js'

const SEED = Number(process.env.SOCLINK_FUZZ_SEED ?? 20_111)
const params = (numRuns: number): fc.Parameters<unknown> => ({ seed: SEED, numRuns, endOnFailure: true })
t.comment(`fast-check seed ${SEED} (SOCLINK_FUZZ_SEED replays it)`)

const u32 = fc.integer({ min: 0, max: 0xffff_ffff })
type Rec = { kind: 'send', src: number, dst: number, timeoutMs: number, payload: Uint8Array } | { kind: 'received', dst: number, src: number, payload: Uint8Array } |
{ kind: 'sent', seq: number } | { kind: 'control', message: Uint8Array }
const payload = fc.uint8Array({ maxLength: 300 })
const control = fc.uint8Array({ maxLength: 64 }).map((message): Rec => ({ kind: 'control', message }))
const clientRec: fc.Arbitrary<Rec> = fc.oneof(fc.record({ src: u32, dst: u32, timeoutMs: u32, payload }).map((r): Rec => ({ kind: 'send', ...r })), control)
const serverRec: fc.Arbitrary<Rec> = fc.oneof(
  fc.record({ dst: u32, src: u32, payload }).map((r): Rec => ({ kind: 'received', ...r })),
  u32.map((seq): Rec => ({ kind: 'sent', seq })),
  control
)

function write (w: BatchWriter, side: BatchSide, r: Rec): void {
  if (r.kind === 'send') w.send(r.src, r.dst, r.timeoutMs, r.payload)
  else if (r.kind === 'received') w.received(r.dst, r.src, r.payload)
  else if (r.kind === 'sent') w.sent(r.seq)
  else w.control(side, r.message)
}

function read (side: BatchSide, batches: Buffer[]): Rec[] {
  const reader = new BatchReader(side)
  const out: Rec[] = []
  for (const b of batches) {
    reader.reset(b)
    while (reader.next()) {
      const body = Uint8Array.from(reader.body())
      if (reader.kind === RecordKind.SEND) out.push({ kind: 'send', src: reader.src, dst: reader.dst, timeoutMs: reader.timeoutMs, payload: body })
      else if (reader.kind === RecordKind.RECEIVED) out.push({ kind: 'received', dst: reader.dst, src: reader.src, payload: body })
      else if (reader.kind === RecordKind.SENT) out.push({ kind: 'sent', seq: reader.seq })
      else out.push({ kind: 'control', message: body })
    }
  }
  return out
}

t.test('batches: what a BatchWriter writes, a BatchReader reads back, record for record', async (t) => {
  for (const [side, rec] of [['client', clientRec], ['server', serverRec]] as const) {
    fc.assert(fc.property(fc.array(rec, { maxLength: 40 }), fc.integer({ min: 512, max: 4096 }), (recs, maxBatchBytes) => {
      const w = new BatchWriter(maxBatchBytes)
      for (const r of recs) write(w, side, r)
      const batches: Buffer[] = []
      w.take((b) => batches.push(Buffer.from(b)))
      deepStrictEqual(read(side, batches), recs)
      return w.empty
    }), params(500))
  }
  t.pass('500 runs per side')
})

/** Runs `f`; true when it returns or throws BatchError, the error otherwise. */
function onlyBatchErrors (f: () => void): boolean {
  try { f() } catch (err) {
    if (err instanceof BatchError) return true
    throw err
  }
  return true
}

/** A valid batch with bytes changed: flipped, cut, added or overwritten. */
function mutated (rec: fc.Arbitrary<Rec>, side: BatchSide): fc.Arbitrary<Buffer> {
  return fc.tuple(fc.array(rec, { minLength: 1, maxLength: 8 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }), fc.nat(), fc.uint8Array({ maxLength: 8 }))
    .map(([recs, flips, cut, extra]) => {
      const w = new BatchWriter()
      for (const r of recs) write(w, side, r)
      let out = Buffer.alloc(0)
      w.take((b) => { out = Buffer.from(b) })
      for (const [at, x] of flips) out[at % out.length] ^= x
      if (cut % 3 === 0) out = out.subarray(0, cut % (out.length + 1))
      if (cut % 3 === 1) out = Buffer.concat([out, extra])
      return out
    })
}

t.test('any bytes: checkBatch() passes a batch or throws BatchError; a batch it passes reads within its bounds', async (t) => {
  for (const side of ['client', 'server'] as const) {
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), mutated(side === 'client' ? clientRec : serverRec, side))
    fc.assert(fc.property(bytes, (b) => onlyBatchErrors(() => {
      checkBatch(b, side)
      read(side, [b])
    })), params(3000))
  }
  t.pass('3000 runs per side')
})

/** A WebSocket stand-in that keeps what the gateway writes. */
class Sink implements GatewaySocket {
  readyState = 1
  bufferedAmount = 0
  closeCode: number | null = null
  readonly sent: Buffer[] = []
  send (data: Uint8Array, _options: { binary: boolean }, cb?: (err?: Error) => void): void { this.sent.push(Buffer.from(data)); cb?.() }
  close (code?: number): void { this.closeCode = code ?? 1005; this.readyState = 3 }
  pause (): void {}
  resume (): void {}
}

const pair = await rpmsgPair()

/** Client messages of version 1: valid ones (some with wild fields), raw bytes, and valid ones mutated. */
const v1Message = fc.oneof(
  fc.record({ requestId: u32, name: fc.string({ maxLength: 40 }), addr: fc.oneof(fc.constant(RPMSG_ADDR_ANY), u32), announce: fc.boolean() })
    .map((createEndpoint) => Buffer.from(wire.ClientMessage.encode({ createEndpoint }).finish())),
  fc.record({ src: u32, dst: u32, payload: fc.uint8Array({ maxLength: 600 }), requestId: u32, timeoutMs: fc.nat({ max: 50 }) })
    .map((send) => Buffer.from(wire.ClientMessage.encode({ send }).finish())),
  fc.record({ addr: u32 }).map((destroyEndpoint) => Buffer.from(wire.ClientMessage.encode({ destroyEndpoint }).finish())),
  fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b))
)
const v1Mutated = fc.tuple(v1Message, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 3 }))
  .map(([b, flips]) => { const out = Buffer.from(b); for (const [at, x] of flips) if (out.length > 0) out[at % out.length] ^= x; return out })

/** Client batches of version 2: records whose CONTROL records hold client messages or noise, mutated or not. */
const v2Batch = fc.tuple(
  fc.array(fc.oneof(
    fc.record({ src: u32, dst: u32, timeoutMs: fc.nat({ max: 50 }), payload: fc.uint8Array({ maxLength: 600 }) }).map((r): Rec => ({ kind: 'send', ...r })),
    v1Message.map((message): Rec => ({ kind: 'control', message }))
  ), { maxLength: 10 }),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 2 })
).map(([recs, flips]) => {
  const w = new BatchWriter()
  for (const r of recs) write(w, 'client', r)
  let out = Buffer.alloc(0)
  w.take((b) => { out = Buffer.concat([out, b]) })
  if (out.length === 0) out = Buffer.from([2, 0, 0, 0, 0, 0, 0, 0])
  for (const [at, x] of flips) out[at % out.length] ^= x
  return out
})

/** Every message the gateway wrote decodes (version 1: ServerMessage; version 2: a server batch whose CONTROL records decode). */
function wellFormed (version: 1 | 2, sent: Buffer[]): void {
  for (const m of sent) {
    if (version === 1) { wire.ServerMessage.decode(m); continue }
    checkBatch(m, 'server')
    const reader = new BatchReader('server')
    reader.reset(m)
    while (reader.next()) if (reader.kind === RecordKind.SERVER_CONTROL) wire.ServerMessage.decode(reader.body())
  }
}

let nextId = 1
for (const version of [1, 2] as const) {
  t.test(`the gateway's decode path, version ${version}: no throw, a refusal is an ERR_RPMSG_* error and a close, every answer well formed`, async (t) => {
    const messages = fc.array(version === 1 ? fc.oneof(v1Message, v1Mutated) : v2Batch, { minLength: 1, maxLength: 6 })
    fc.assert(fc.property(messages, fc.boolean(), (msgs, text) => {
      const sink = new Sink()
      const conn = new RpmsgGatewayConnection(nextId++, `fuzz:${nextId}`, sink, () => pair.vhost, version)
      try {
        for (const m of msgs) conn.onMessage(m, !text)
        wellFormed(version, sink.sent)
        if (sink.closeCode !== null) {
          const codes = errorsOf(version, sink.sent)
          if (!codes.some((c) => c.startsWith('ERR_RPMSG_'))) throw new Error(`closed with ${sink.closeCode} but no ERR_RPMSG_ error: ${codes.join(', ')}`)
        }
      } finally {
        conn.close()
      }
      return true
    }), params(1500))
    t.pass('1500 connections fuzzed')
  })
}

function errorsOf (version: 1 | 2, sent: Buffer[]): string[] {
  const codes: string[] = []
  for (const m of sent) {
    if (version === 1) { const e = wire.ServerMessage.decode(m).error; if (e != null) codes.push(e.code ?? ''); continue }
    const reader = new BatchReader('server')
    reader.reset(m)
    while (reader.next()) {
      if (reader.kind !== RecordKind.SERVER_CONTROL) continue
      const e = wire.ServerMessage.decode(reader.body()).error
      if (e != null) codes.push(e.code ?? '')
    }
  }
  return codes
}
