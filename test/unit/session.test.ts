// LinkSession: sequence numbers, cumulative acks, batching, in-order
// exactly-once delivery, the replay buffer and resume after a lost
// connection. Packets go through the real codec between two sessions; no
// sockets.

import t from 'tap'
import { decodePacket, encodePacket, type Frame } from '../../daemon/src/link/codec.js'
import { LinkSession, ReplayOverflowError, DEFAULT_SESSION_LIMITS, type Delivery, type SessionLimits } from '../../daemon/src/link/session.js'
import { FrameError } from '../../daemon/src/errors.js'

const incA = new Uint8Array(16).fill(0xa)
const incB = new Uint8Array(16).fill(0xb)

function pair (limits: Partial<SessionLimits> = {}): { a: LinkSession, b: LinkSession } {
  const l = { ...DEFAULT_SESSION_LIMITS, ...limits }
  return { a: new LinkSession(incA, incB, l), b: new LinkSession(incB, incA, l) }
}

const doorbell = (value: number): Frame => ({ doorbell: { target: 'db', value } })

/** Decodes packets and hands them to `to`; returns what it delivered. */
function deliver (to: LinkSession, packets: Buffer[]): Delivery[] {
  return packets.flatMap((p) => to.receive(decodePacket(p)))
}

/** The values of the delivered doorbells, in delivery order. */
const values = (ds: Delivery[]): number[] => ds.filter((d) => d.frame.doorbell != null).map((d) => Number(d.frame.doorbell?.value))

t.test('seqs start at 1 and grow by one per sequenced frame', async (t) => {
  const { a } = pair()
  const frames = [doorbell(10), doorbell(11), doorbell(12)]
  for (const f of frames) a.send(f)
  t.same(frames.map((f) => f.seq), [1, 2, 3])
  t.equal(a.lastSent, 3)
  t.equal(a.unacked, 3)
  t.equal(a.pending, true)
  const packets = a.drain()
  t.equal(a.pending, false)
  t.equal(packets.length, 1)
  const p = decodePacket(packets[0]!)
  t.same(p.frame.batch?.frames?.map((f) => [f.seq, f.doorbell?.value]), [[1, 10], [2, 11], [3, 12]])
  a.send(doorbell(13))
  t.equal(decodePacket(a.drain()[0]!).frame.seq, 4, 'a lone frame goes unbatched with its own seq')
})

t.test('drain batches queued frames into one packet carrying the cumulative ack', async (t) => {
  const { a, b } = pair()
  b.send(doorbell(1))
  b.send(doorbell(2))
  t.same(values(deliver(a, b.drain())), [1, 2])
  t.equal(a.owedAcks, 2)

  a.send(doorbell(100))
  a.send({ write: { window: 1, offset: 0, length: 2, wseq: 1 } }, Uint8Array.of(7, 8))
  a.send(doorbell(101))
  const packets = a.drain()
  t.equal(packets.length, 1, 'one packet')
  const p = decodePacket(packets[0]!)
  t.equal(p.frame.ack, 2, 'carries ack = last seq received')
  t.equal(p.frame.seq, 0, 'the Batch itself is unsequenced')
  t.same(p.frame.batch?.frames?.map((f) => f.seq), [1, 2, 3])
  t.same(p.bulk.map((x) => [...x]), [[7, 8]])
  t.equal(a.owesAck, false)

  const got = b.receive(p)
  t.equal(got.length, 3)
  t.same([...got[1]!.bulk!], [7, 8], 'bulk rides with its Write')
  t.equal(got[0]!.bulk, undefined)
  t.equal(b.unacked, 0, 'the ack trimmed b\'s replay buffer')
})

t.test('batches respect maxBatchFrames', async (t) => {
  const { a, b } = pair({ maxBatchFrames: 4 })
  for (let i = 0; i < 10; i++) a.send(doorbell(i))
  const packets = a.drain()
  t.same(packets.map((p) => decodePacket(p).frame.batch?.frames?.length ?? 1), [4, 4, 2])
  t.same(values(deliver(b, packets)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
})

t.test('receive delivers in order and drops duplicates', async (t) => {
  const { a, b } = pair()
  a.send(doorbell(1))
  const first = a.drain()[0]!
  a.send(doorbell(2))
  a.send(doorbell(3))
  const second = a.drain()[0]!
  t.same(values(deliver(b, [first])), [1])
  t.same(values(deliver(b, [first])), [], 'the same packet again delivers nothing')
  t.same(values(deliver(b, [second, first, second])), [2, 3], 'older and repeated packets are dropped')
  t.equal(b.nextExpected, 4)
})

t.test('a gap in the sequence is a FrameError', async (t) => {
  const { a, b } = pair()
  a.send(doorbell(1))
  a.drain() // lost
  a.send(doorbell(2))
  const second = a.drain()
  t.throws(() => deliver(b, second), { name: 'FrameError', code: 'ERR_FRAME', message: /expected 1, got 2/ })
  t.equal(b.nextExpected, 1, 'nothing delivered')
})

t.test('an ack for a frame never sent is a FrameError', async (t) => {
  const { a } = pair()
  a.send(doorbell(1))
  a.drain()
  t.throws(() => a.receive({ frame: { ack: 2 }, bulk: [] }), FrameError)
  t.throws(() => a.receive({ frame: { ack: 2 }, bulk: [] }), { code: 'ERR_FRAME' })
})

t.test('acks trim the replay buffer', async (t) => {
  const { a, b } = pair()
  for (let i = 0; i < 5; i++) a.send(doorbell(i))
  t.equal(a.unacked, 5)
  const bytesBefore = a.unackedBytes
  t.ok(bytesBefore > 0)
  const packets = a.drain()
  deliver(b, [packets[0]!])
  t.equal(a.unacked, 5, 'delivery alone does not trim')
  a.receive({ frame: { ack: 3 }, bulk: [] })
  t.equal(a.unacked, 2)
  t.equal(a.unackedBytes, bytesBefore * 2 / 5, 'bytes released with the frames')
  deliver(a, b.drain())
  t.equal(a.unacked, 0, 'b\'s bare ack (5) trims the rest')
  t.equal(a.unackedBytes, 0)
})

t.test('a bare ack: nothing to send but an ack owed', async (t) => {
  const { a, b } = pair()
  for (let i = 0; i < 3; i++) a.send(doorbell(i))
  deliver(b, a.drain())
  t.equal(b.owesAck, true)
  const packets = b.drain()
  t.equal(packets.length, 1)
  const p = decodePacket(packets[0]!)
  t.equal((p.frame as { body?: string }).body, undefined, 'no body')
  t.equal(p.frame.ack, 3)
  t.equal(p.frame.seq, 0)
  t.same(b.drain(), [], 'nothing more once the ack is sent')
  t.same(a.receive(p), [], 'a bare ack delivers nothing upward')
  t.equal(a.unacked, 0)
})

t.test('control frames carry seq 0 and are not kept for replay', async (t) => {
  const { a, b } = pair()
  a.send(doorbell(1))
  const ping: Frame = { ping: { nonce: 99 } }
  a.send(ping)
  t.equal(ping.seq ?? 0, 0)
  t.equal(a.lastSent, 1)
  t.equal(a.unacked, 1)
  const p = decodePacket(a.drain()[0]!)
  t.same(p.frame.batch?.frames?.map((f) => [f.seq, f.ping?.nonce ?? null]), [[1, null], [0, 99]])
  const got = b.receive(p)
  t.equal(got.length, 2)
  t.equal(got[1]!.frame.ping?.nonce, 99)
  t.equal(b.nextExpected, 2, 'the ping does not advance the sequence')

  // A ping queued for a connection that dies is not replayed.
  a.send({ ping: { nonce: 5 } })
  a.send(doorbell(2))
  t.equal(a.resumeFrom(2), true)
  const replayed = a.drain().map(decodePacket)
  t.equal(replayed.length, 1)
  t.equal(replayed[0]!.frame.doorbell?.value, 2)
  t.equal(replayed[0]!.frame.seq, 2)

  const pongWithSeq = decodePacket(encodePacket({ seq: 2, pong: { nonce: 1 } }))
  t.throws(() => b.receive(pongWithSeq), { code: 'ERR_FRAME', message: /control frame pong carries seq 2/ }, 'a control frame with a seq is refused')
})

t.test('resume after a dropped connection: 10,000 frames, each delivered exactly once in order', async (t) => {
  const { a, b } = pair({ maxBatchFrames: 100 })
  const N = 10_000
  // Every fifth doorbell follows a Write whose 2 bulk bytes encode its index,
  // so bulk must stay aligned with its frame across batches and replays.
  // a drains every 37 sends: the first connection's packets.
  const firstConnection: Buffer[] = []
  let sends = 0
  for (let i = 0; i < N; i++) {
    if (i % 5 === 0) {
      a.send({ write: { window: 1, offset: i, length: 2, wseq: i / 5 + 1 } }, Uint8Array.of(i & 0xff, i >> 8))
      if (++sends % 37 === 0) firstConnection.push(...a.drain())
    }
    a.send(doorbell(i))
    if (++sends % 37 === 0) firstConnection.push(...a.drain())
  }
  firstConnection.push(...a.drain())
  const total = N + N / 5
  t.equal(a.lastSent, total)
  t.equal(firstConnection.length, Math.ceil(total / 37))
  t.equal(a.unacked, total)

  const received: number[] = []
  const writes: number[] = []
  const misaligned: number[] = []
  const take = (packets: Buffer[]): void => {
    const ds = deliver(b, packets)
    received.push(...values(ds))
    for (const d of ds) {
      if (d.frame.write == null) continue
      const off = Number(d.frame.write.offset)
      if ((d.bulk![0]! | d.bulk![1]! << 8) !== off) misaligned.push(off)
      writes.push(off)
    }
  }
  // b gets the first 100 packets (3,700 frames), acking after 50 of them.
  take(firstConnection.slice(0, 50))
  deliver(a, b.drain())
  t.equal(a.unacked, total - 50 * 37, 'b\'s ack trimmed a\'s replay buffer')
  take(firstConnection.slice(50, 100))
  t.equal(b.nextExpected, 3701, 'b\'s resume point')

  // The connection drops: the rest of firstConnection is lost, except one
  // packet still in flight that b gets after it named its resume point.
  const resumePoint = b.nextExpected
  take([firstConnection[100]!])
  t.equal(b.nextExpected, 3738)

  t.equal(a.resumeFrom(resumePoint), true)
  t.equal(a.unacked, total - 3700, 'resumeFrom acknowledged everything before the resume point')
  const secondConnection = a.drain()
  t.equal(secondConnection.length, Math.ceil((total - 3700) / 100), 'everything from the resume point, batched anew')
  t.equal(decodePacket(secondConnection[0]!).frame.batch?.frames?.[0]?.seq, 3701)

  // Replays of already-seen packets, from both connections, mixed in.
  take(firstConnection.slice(95, 101))
  for (let k = 0; k < secondConnection.length; k++) {
    take([secondConnection[k]!])
    if (k % 7 === 3) take([secondConnection[k - 1]!, secondConnection[k]!])
  }
  take(secondConnection.slice(0, 5))

  t.equal(writes.length, N / 5, 'every write exactly once')
  t.ok(writes.every((w, k) => w === k * 5), 'writes in order')
  t.same(misaligned, [], 'each write arrived with its own bulk')
  t.equal(received.length, N, 'exactly N deliveries')
  let inOrder = true
  for (let i = 0; i < N; i++) if (received[i] !== i) { inOrder = false; t.fail(`delivery ${i} was ${received[i]}`); break }
  t.ok(inOrder, 'values 0..9999 in order')
  t.equal(b.nextExpected, total + 1)
  deliver(a, b.drain())
  t.equal(a.unacked, 0)
})

t.test('resumeFrom refuses points the replay buffer cannot serve', async (t) => {
  const { a } = pair()
  for (let i = 0; i < 10; i++) a.send(doorbell(i))
  a.drain()
  t.equal(a.resumeFrom(0), false, 'seq 0 is never a resume point')
  t.equal(a.resumeFrom(12), false, 'beyond lastSent + 1')
  a.receive({ frame: { ack: 4 }, bulk: [] })
  t.equal(a.resumeFrom(4), false, 'frame 4 was acknowledged and dropped')
  t.equal(a.resumeFrom(3), false)
  t.equal(a.unacked, 6, 'a refused resume changes nothing')
  t.equal(a.pending, false)
  t.equal(a.resumeFrom(11), true, 'lastSent + 1: nothing to resend')
  t.same(a.drain(), [])
  t.equal(a.unacked, 0)
})

t.test('resumeFrom requeues frames that were queued and never drained', async (t) => {
  const { a, b } = pair()
  a.send(doorbell(0))
  a.send(doorbell(1))
  t.equal(a.resumeFrom(1), true)
  t.same(values(deliver(b, a.drain())), [0, 1], 'each once, not twice')
})

t.test('the replay buffer is bounded: ReplayOverflowError', async (t) => {
  // Each frame costs 24 bytes of overhead plus its bulk (session.ts FRAME_OVERHEAD).
  const { a, b } = pair({ maxReplayBytes: 100 })
  for (let i = 0; i < 4; i++) a.send(doorbell(i))
  t.equal(a.unackedBytes, 96)
  const fifth = doorbell(4)
  t.throws(() => { a.send(fifth) }, ReplayOverflowError)
  t.throws(() => { a.send(doorbell(5)) }, { code: 'ERR_REPLAY_OVERFLOW' })
  t.equal(fifth.seq ?? 0, 0, 'the refused frame took no seq')
  t.equal(a.lastSent, 4)
  t.equal(a.unacked, 4)
  t.throws(() => { a.send({ write: { window: 1, offset: 0, length: 80, wseq: 1 } }, new Uint8Array(80)) }, { code: 'ERR_REPLAY_OVERFLOW' })

  deliver(b, a.drain())
  deliver(a, b.drain())
  t.equal(a.unackedBytes, 0)
  a.send({ write: { window: 1, offset: 0, length: 76, wseq: 1 } }, new Uint8Array(76))
  t.equal(a.lastSent, 5, 'room again once acked; seqs continue without a hole')
  t.same(deliver(b, a.drain()).map((d) => d.frame.seq), [5])
})

t.test('onlyOrdered: write-order confirmations alone may wait for the next packet; anything else may not', async (t) => {
  const { a } = pair()
  t.notOk(a.onlyOrdered, 'nothing queued')
  a.send({ ordered: { window: 1, wseq: 3 } })
  a.send({ ordered: { window: 2, wseq: 9 } })
  t.ok(a.onlyOrdered, 'two Ordered')
  a.send({ update: { window: 1, offset: 0, length: 1 } }, Uint8Array.of(1))
  t.notOk(a.onlyOrdered, 'an Update queued behind them goes, and takes them along')
  a.drain()
  a.send({ doorbell: { target: 'x', value: 1 } })
  t.notOk(a.onlyOrdered, 'a doorbell')
})
