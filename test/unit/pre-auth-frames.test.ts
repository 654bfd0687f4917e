// What a link connection may send before authenticating (link/pre-auth.ts):
// one whole frame of at most maxPreAuthBytes, judged from raw bytes as they
// come, in any split.

import t from 'tap'
import { PreAuthFrames } from '../../daemon/src/link/pre-auth.js'

/** A masked client frame (RFC 6455 §5.2), the key all zero; only the header when `body` is false. */
function frame (opcode: number, length: number, fin = true, body = true): Buffer {
  const ext = length < 126 ? 0 : length < 65536 ? 2 : 8
  const h = Buffer.alloc(2 + ext + 4)
  h[0] = (fin ? 0x80 : 0) | opcode
  h[1] = 0x80 | (ext === 0 ? length : ext === 2 ? 126 : 127)
  if (ext === 2) h.writeUInt16BE(length, 2)
  if (ext === 8) h.writeBigUInt64BE(BigInt(length), 2)
  return body ? Buffer.concat([h, Buffer.alloc(length, 0x5a)]) : h
}

/** Feeds `bytes` in pieces of `step`; the first refusal, or null. */
function feed (gate: PreAuthFrames, bytes: Buffer, step: number): string | null {
  for (let at = 0; at < bytes.length; at += step) {
    const why = gate.feed(bytes.subarray(at, at + step))
    if (why !== null) return why
  }
  return null
}

t.test('one Hello-sized binary frame passes, however it is split', async (t) => {
  for (const length of [0, 125, 126, 300, 4096]) {
    for (const step of [1, 3, 7, 1000]) {
      t.equal(feed(new PreAuthFrames(4096), frame(2, length), step), null, `${length} bytes in pieces of ${step}`)
    }
  }
  t.equal(feed(new PreAuthFrames(4096), Buffer.concat([frame(2, 300), frame(8, 2)]), 5), null, 'a close frame after it too')
})

t.test('a frame over the limit is refused from its header, before its bytes', async (t) => {
  t.match(new PreAuthFrames(4096).feed(frame(2, 4097, true, false)), /a frame of 4097 bytes before authenticating: at most 4096/)
  t.match(new PreAuthFrames(4096).feed(frame(2, 8 * 1024 * 1024, true, false)), /a frame of 8388608 bytes/)
  t.match(new PreAuthFrames(4096).feed(Buffer.concat([frame(2, 8 * 1024 * 1024, true, false), Buffer.alloc(65536)])), /a frame of 8388608 bytes/,
    'the header and many of its bytes in one chunk: the frame is named, not only the byte count')
})

t.test('a second frame, a fragment or a control frame is refused', async (t) => {
  t.match(feed(new PreAuthFrames(4096), Buffer.concat([frame(2, 10), frame(2, 10)]), 4), /a second frame before authenticating/)
  t.match(new PreAuthFrames(4096).feed(frame(2, 10, false)), /a fragmented message/)
  t.match(new PreAuthFrames(4096).feed(frame(0, 10)), /a second frame/)
  t.match(new PreAuthFrames(4096).feed(frame(9, 4)), /a control frame \(opcode 9\)/, 'a ping')
  t.match(new PreAuthFrames(4096).feed(frame(10, 4)), /a control frame \(opcode 10\)/, 'a pong')
})

t.test('bytes past the limit and its slack are refused whatever they claim to be', async (t) => {
  const gate = new PreAuthFrames(1024)
  // A close frame claiming a huge body: the byte count stops it.
  t.equal(gate.feed(frame(8, 100000, true, false)), null)
  t.match(feed(gate, Buffer.alloc(4096), 512), /sent over 1024 bytes before authenticating/)
})
