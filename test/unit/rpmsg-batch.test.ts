// Version 2 of the gateway protocol without sockets (proto/rpmsg-batch.ts):
// batches written and read back, the byte layout proto/rpmsg.proto
// specifies, and hostile batches refused whole with their code.

import t from 'tap'
import {
  BatchError, BatchReader, BatchWriter, BATCH_HEADER_BYTES, checkBatch, MAX_BATCH_BYTES, RecordKind, SEND_HEADER_BYTES
} from '../../proto/rpmsg-batch.js'

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff)

function batchesOf (w: BatchWriter): Buffer[] {
  const out: Buffer[] = []
  // Copies: the writer hands out views of its chunk.
  w.take((b) => { out.push(Buffer.from(b)) })
  return out
}

t.test('a batch of SEND and CONTROL records reads back as written, in the documented layout', async (t) => {
  const w = new BatchWriter()
  w.send(1024, 0xffffffff, 15000, bytes(5, 1))
  w.control('client', Uint8Array.of(9, 8, 7))
  w.send(1025, 53, 0, new Uint8Array(0))
  const [b, more] = batchesOf(w)
  t.equal(more, undefined, 'one batch')
  t.same([...b!.subarray(0, 8)], [2, 0, 0, 0, 3, 0, 0, 0], 'header: version 2, count 3')
  t.same([...b!.subarray(8, 28)], [1, 0, 0, 0, 0, 4, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x98, 0x3a, 0, 0, 5, 0, 0, 0], 'SEND: kind, src, dst, timeout_ms, length (little-endian)')
  t.equal(b!.length, BATCH_HEADER_BYTES + SEND_HEADER_BYTES + 5 + 8 + 3 + SEND_HEADER_BYTES)
  const r = new BatchReader('client')
  r.reset(b!)
  const got: unknown[] = []
  while (r.next()) got.push(r.kind === RecordKind.SEND ? ['send', r.src, r.dst, r.timeoutMs, [...r.body()]] : ['control', [...r.body()]])
  t.same(got, [['send', 1024, 0xffffffff, 15000, [...bytes(5, 1)]], ['control', [9, 8, 7]], ['send', 1025, 53, 0, []]])
  t.ok(w.empty, 'nothing left after take()')
})

t.test('RECEIVED, SENT and CONTROL from the daemon; SENT wraps modulo 2^32', async (t) => {
  const w = new BatchWriter()
  w.received(1024, 1025, bytes(496, 3))
  w.sent(2 ** 32 + 5)
  w.control('server', Uint8Array.of(1))
  const [b] = batchesOf(w)
  const r = new BatchReader('server')
  r.reset(b!)
  t.ok(r.next()); t.same([r.kind, r.dst, r.src, r.body().length], [RecordKind.RECEIVED, 1024, 1025, 496])
  t.same([...r.body()], [...bytes(496, 3)])
  t.ok(r.next()); t.same([r.kind, r.seq], [RecordKind.SENT, 5])
  t.ok(r.next()); t.same([r.kind, [...r.body()]], [RecordKind.SERVER_CONTROL, [1]])
  t.notOk(r.next(), 'three records')
})

t.test('a batch that would grow over its limit is sealed and another opened; batches handed out stay intact', async (t) => {
  const w = new BatchWriter(4096)
  const handed: Buffer[] = []
  const copies: Buffer[] = []
  for (let i = 0; i < 1000; i++) {
    w.send(1024, 1025, 0, bytes(496, i))
    // Taken now and then, as a socket would, while more is written after.
    if (i % 7 === 0) w.take((b) => { handed.push(b); copies.push(Buffer.from(b)) })
  }
  w.take((b) => { handed.push(b); copies.push(Buffer.from(b)) })
  t.ok(handed.every((b) => b.length <= 4096), 'no batch over the limit')
  t.ok(handed.every((b, i) => b.equals(copies[i]!)), 'no batch handed out was written again')
  const r = new BatchReader('client')
  let n = 0
  for (const b of handed) {
    r.reset(b)
    while (r.next()) { t.equal(Buffer.compare(r.body(), bytes(496, n)), 0); n++ }
  }
  t.equal(n, 1000, 'every record, in order')
})

t.test('the largest record fits; chunks grow for it', async (t) => {
  const w = new BatchWriter()
  w.send(1, 2, 3, bytes(0xffff, 0))
  w.received(1, 2, bytes(0xffff, 1))
  const r = new BatchReader('client')
  const [b] = batchesOf(new BatchWriter())
  t.equal(b, undefined, 'an empty writer hands out nothing')
  const all = batchesOf(w)
  t.equal(all.length, 1)
  t.throws(() => { r.reset(all[0]!) }, { code: 'ERR_RPMSG_FORMAT' }, 'a RECEIVED is not the client\'s to send')
})

/** A valid client batch to damage. */
function sample (): Buffer {
  const w = new BatchWriter()
  w.send(1024, 1025, 0, bytes(40, 0))
  w.control('client', Uint8Array.of(0x1a, 0))
  w.send(1024, 1025, 10, bytes(3, 0))
  return batchesOf(w)[0]!
}

t.test('hostile batches are refused whole with a stable code', async (t) => {
  const good = sample()
  t.doesNotThrow(() => { checkBatch(good, 'client') })
  for (let cut = 0; cut < good.length; cut++) {
    t.throws(() => { checkBatch(good.subarray(0, cut), 'client') }, { code: 'ERR_RPMSG_FORMAT' }, `truncated to ${cut} bytes`)
  }
  const extra = Buffer.concat([good, Buffer.of(0)])
  t.throws(() => { checkBatch(extra, 'client') }, { code: 'ERR_RPMSG_FORMAT', message: /after the last of 3 records/ }, 'bytes after the last record')
  const v3 = Buffer.from(good); v3[0] = 3
  t.throws(() => { checkBatch(v3, 'client') }, { code: 'ERR_RPMSG_VERSION' }, 'unknown version')
  const reserved = Buffer.from(good); reserved[2] = 1
  t.throws(() => { checkBatch(reserved, 'client') }, { code: 'ERR_RPMSG_FORMAT' }, 'reserved header bytes')
  const kind = Buffer.from(good); kind[8] = 0x7f
  t.throws(() => { checkBatch(kind, 'client') }, { code: 'ERR_RPMSG_FORMAT', message: /kind 0x7f/ }, 'unknown kind')
  const count = Buffer.from(good); count.writeUInt32LE(4, 4)
  t.throws(() => { checkBatch(count, 'client') }, { code: 'ERR_RPMSG_FORMAT', message: /record 4 of 4/ }, 'a count above the records')
  const huge = Buffer.from(good); huge.writeUInt32LE(0x10000, 8 + 16)
  t.throws(() => { checkBatch(huge, 'client') }, { code: 'ERR_RPMSG_FORMAT', message: /over 65535/ }, 'a payload length over the largest rpmsg payload')
  const big = Buffer.alloc(MAX_BATCH_BYTES + 1)
  t.throws(() => { checkBatch(big, 'client') }, { code: 'ERR_RPMSG_BATCH_SIZE' }, 'oversized')
  const err = (() => { try { checkBatch(v3, 'client') } catch (e) { return e } })()
  t.ok(err instanceof BatchError, 'a BatchError')
  t.throws(() => { new BatchReader('client').reset(kind) }, { code: 'ERR_RPMSG_FORMAT' }, 'the reader checks before reading')
})
