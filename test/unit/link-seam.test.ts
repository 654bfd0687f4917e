// PeerLink on its seam: an in-memory transport (test/support/memory-link.ts)
// and a clock the test advances (test/support/manual-clock.ts), so that
// reconnect with backoff, resume with replay, heartbeat and dead-after, and
// the resume window ending a session run in milliseconds, the same way
// every time, with no socket and no real time. The acceptor is the real one
// (acceptor.ts), the handshake and session the real ones.

import t, { type Test } from 'tap'
import { PeerLink } from '../../daemon/src/link/peer-link.js'
import type { SessionLoss } from '../../daemon/src/link/peer-link.js'
import type { DialedSocket } from '../../daemon/src/link/transport.js'
import type { LinkOptions } from '../../daemon/src/link/options.js'
import { decodePacket, wire } from '../../daemon/src/link/codec.js'
import { ManualClock } from '../support/manual-clock.js'
import { MemoryNet, MemoryNode, memoryLinkOptions } from '../support/memory-link.js'

interface Pair {
  clock: ManualClock
  net: MemoryNet
  a: PeerLink
  /** A's settings. */
  o: LinkOptions
  b: MemoryNode
  /** B's link to A, once A has connected. */
  atB: () => PeerLink
  /** Doorbell values B received from A, in order. */
  got: number[]
  /** When (clock ms) A dialed. */
  dials: number[]
}

const URL = 'mem://b/v1/link'

/** A dials B at URL; B listens unless `listening` is false. */
function pair (t: Test, opts: { listening?: boolean } = {}): Pair {
  const clock = new ManualClock()
  const net = new MemoryNet(clock)
  const dials: number[] = []
  const transport = { dial: (url: string): DialedSocket => { dials.push(clock.now()); return net.dial(url) } }
  const b = new MemoryNode(memoryLinkOptions('b', clock, net), net, URL)
  if (opts.listening === false) net.unlisten(URL)
  const o = memoryLinkOptions('a', clock, net, { transport })
  const a = new PeerLink(o, { url: URL, expect: 'b' })
  const got: number[] = []
  const hooked = new WeakSet<PeerLink>()
  const atB = (): PeerLink => {
    const l = b.links.get('a')
    if (l === undefined) throw new Error('B has no link to A')
    if (!hooked.has(l)) {
      hooked.add(l)
      l.on('frame', (_l, d) => { if (d.frame.doorbell != null) got.push(Number(d.frame.doorbell.value)) })
    }
    return l
  }
  t.teardown(() => { a.close('test over'); b.stop(); clock.run() })
  return { clock, net, a, o, b, atB, got, dials }
}

function ring (link: PeerLink, value: number): void {
  link.send({ doorbell: { target: 'test', value } })
}

t.test('a dialer links up, and frames cross', async (t) => {
  const p = pair(t)
  p.a.start()
  p.clock.run()
  t.equal(p.a.state, 'up', 'A is up without any time passing')
  t.equal(p.a.name, 'b', 'A knows B by the name B gave')
  t.equal(p.atB().state, 'up', 'B is up too')
  for (const v of [1, 2, 3]) ring(p.a, v)
  p.clock.run()
  p.atB()
  t.same(p.got, [1, 2, 3], 'B got the doorbells in order')
})

t.test('a dialer redials with doubling backoff up to reconnectMaxMs, and a Welcome resets it', async (t) => {
  const p = pair(t, { listening: false })
  p.a.start()
  p.clock.advance(5000)
  const gaps = p.dials.slice(1).map((at, i) => at - p.dials[i]!)
  t.same(gaps.slice(0, 6), [100, 200, 400, 800, 1600, 1600], 'each refused dial waits twice as long, up to reconnectMaxMs')
  t.equal(p.a.state, 'connecting', 'still trying')
  t.match(p.a.lastError, /ECONNREFUSED/, 'lastError says why')
  p.b.listen()
  t.ok(p.clock.until(() => p.a.state === 'up', 1600), 'the next redial links up')
  const before = p.dials.length
  const lostAt = p.clock.now()
  p.net.drop()
  t.ok(p.clock.until(() => p.a.state === 'up', 1000), 'up again after the drop')
  t.equal(p.dials.length, before + 1, 'one dial was enough')
  t.equal(p.dials.at(-1)! - lostAt, 100, 'after reconnectMinMs: the Welcome reset the backoff')
  t.equal(p.a.counters.resumes, 1, 'and the session resumed')
})

t.test('resume replays the frames the peer never acknowledged, once each, in order', async (t) => {
  const p = pair(t)
  p.a.start()
  p.clock.run()
  p.atB()
  for (const v of [1, 2, 3]) ring(p.a, v)
  p.clock.advance(p.o.ackDelayMs)
  t.same(p.got, [1, 2, 3], 'B got the first three')
  t.equal(p.a.unacked, 0, 'and acknowledged them')
  // Frames sent into a partition reach the wire but never the peer.
  p.net.partitioned = true
  for (const v of [4, 5, 6]) ring(p.a, v)
  p.clock.run()
  t.same(p.got, [1, 2, 3], 'the next three are lost on the wire')
  t.equal(p.a.unacked, 3, 'A holds them for replay')
  let lost: SessionLoss | null = null
  p.a.on('lost', (_l, loss) => { lost = loss })
  let ups = 0
  p.a.on('up', () => { ups++ })
  p.net.partitioned = false
  p.net.drop()
  p.clock.run()
  t.equal(p.a.state, 'connecting', 'A lost the connection and waits to resume')
  t.ok(p.a.hasSession, 'the session waits')
  t.ok(p.clock.until(() => p.a.state === 'up', 1000), 'A redialed')
  t.same(p.got, [1, 2, 3, 4, 5, 6], 'the peer got the lost frames from the replay buffer, once each, in order')
  t.equal(p.a.counters.resumes, 1, 'A resumed')
  t.equal(p.atB().counters.resumes, 1, 'B resumed')
  t.equal(p.a.counters.sessions, 1, 'no new session')
  t.equal(ups, 0, "no 'up': the session never ended")
  t.equal(lost, null, 'nothing lost')
  p.clock.advance(p.o.ackDelayMs)
  t.equal(p.a.unacked, 0, 'the peer acknowledged the replayed frames')
})

t.test('heartbeats keep a quiet link up; silence past deadAfterMs drops the connection', async (t) => {
  const p = pair(t)
  p.a.start()
  p.clock.run()
  p.clock.advance(10_000)
  t.equal(p.a.state, 'up', 'a quiet link stays up for ten heartbeats')
  t.equal(p.atB().state, 'up', 'on both sides')
  t.equal(p.a.rttMs, 0, 'Pongs answered our Pings (the in-memory wire takes no time)')
  const pingsBefore = p.a.counters.packetsOut
  p.clock.advance(1000)
  t.ok(p.a.counters.packetsOut > pingsBefore, 'a Ping went out on the quiet link')
  // Nothing crosses now, not even the news that a side gave up.
  p.net.partitioned = true
  const from = p.clock.now()
  p.clock.advance(p.o.deadAfterMs - 1)
  t.equal(p.a.state, 'up', 'not dead before deadAfterMs of silence')
  t.ok(p.clock.until(() => p.a.state !== 'up', p.o.heartbeatMs + 1), 'dropped at the first heartbeat past deadAfterMs')
  t.equal(p.a.lastError, 'peer silent', 'and says why')
  t.equal(p.a.state, 'connecting', 'the session waits to resume')
  t.ok(p.clock.now() - from > p.o.deadAfterMs, 'after deadAfterMs, not before')
  t.ok(p.clock.until(() => p.atB().state !== 'up', p.o.heartbeatMs + 1), 'B found the silence too')
  p.net.partitioned = false
  t.ok(p.clock.until(() => p.a.state === 'up' && p.atB().state === 'up', 10_000), 'the partition heals and the dialer resumes')
  t.equal(p.a.counters.sessions, 1, 'the same session')
})

t.test('a session that does not resume within resumeWindowMs ends: its unacknowledged frames are lost', async (t) => {
  const p = pair(t)
  p.a.start()
  p.clock.run()
  p.atB()
  p.net.partitioned = true
  ring(p.a, 7)
  p.clock.run()
  const losses: SessionLoss[] = []
  const downs: string[] = []
  p.a.on('lost', (_l, loss) => { losses.push(loss) })
  p.a.on('down', (_l, why) => { downs.push(why) })
  const bDowns: string[] = []
  p.atB().on('down', (_l, why) => { bDowns.push(why) })
  t.ok(p.clock.until(() => p.a.state === 'connecting', 10_000), 'the connection is found dead')
  const lostAt = p.clock.now()
  t.ok(p.clock.until(() => downs.length > 0, 20_000), 'the session ends')
  t.equal(p.clock.now() - lostAt, p.o.resumeWindowMs, 'resumeWindowMs after the connection was lost, however many redials failed in between')
  t.same(downs, [`no reconnect within ${p.o.resumeWindowMs} ms`], 'down, with the reason')
  t.equal(losses.length, 1, "'lost' came first")
  t.equal(losses[0]!.frames, 1, 'with the one frame the peer never acknowledged')
  t.equal(p.a.counters.lostFrames, 1, 'counted')
  t.notOk(p.a.hasSession, 'no session')
  t.ok(p.clock.until(() => bDowns.length > 0, 20_000), "B's session ended too")
  p.net.partitioned = false
  let ups = 0
  p.a.on('up', () => { ups++ })
  t.ok(p.clock.until(() => p.a.state === 'up', 10_000), 'the peer comes back')
  t.equal(ups, 1, "a new session: 'up'")
  t.equal(p.a.counters.sessions, 2, 'counted as a second session')
  t.same(p.got, [], 'the lost frame stays lost: a new session replays nothing of the old')
})

t.test('a peer that restarts (a new incarnation) ends the session', async (t) => {
  const p = pair(t)
  p.a.start()
  p.clock.run()
  const losses: SessionLoss[] = []
  p.a.on('lost', (_l, loss) => { losses.push(loss) })
  p.b.stop('restart')
  p.clock.run()
  const again = new MemoryNode(memoryLinkOptions('b', p.clock, p.net), p.net, URL)
  t.teardown(() => { again.stop() })
  t.ok(p.clock.until(() => p.a.state === 'up', 10_000), 'A links up with the new B')
  t.equal(losses.length, 1, 'the old session ended')
  t.equal(p.a.counters.sessions, 2, 'a new session')
  t.equal(p.a.counters.resumes, 0, 'nothing resumed')
})

t.test('a dial whose handshake never finishes times out and is tried again', async (t) => {
  const p = pair(t)
  // A listener that accepts and never answers: no Challenge.
  p.net.listen(URL, () => {})
  p.a.start()
  p.clock.advance(p.o.handshakeTimeoutMs - 1)
  t.equal(p.dials.length, 1, 'one dial, waiting')
  p.clock.advance(1)
  t.equal(p.a.lastError, 'handshake timed out', 'given up at handshakeTimeoutMs')
  p.clock.advance(p.o.reconnectMinMs)
  t.equal(p.dials.length, 2, 'and dialed again after the backoff')
})

t.test('the acceptor says Goodbye to a connection that sends no Hello within the handshake timeout', async (t) => {
  const p = pair(t)
  const sock = p.net.dial(URL)
  const got: string[] = []
  let closed: number | null = null
  sock.listen({
    message: (data) => {
      const f = decodePacket(data).frame
      got.push(f.challenge != null ? 'challenge' : f.goodbye != null ? `goodbye ${f.goodbye.reason ?? ''}` : 'other')
    },
    close: (code) => { closed = code },
    error: () => {}
  })
  p.clock.advance(p.b.opts.handshakeTimeoutMs - 1)
  t.same(got, ['challenge'], 'challenged, and waiting')
  p.clock.advance(1)
  t.same(got, ['challenge', 'goodbye handshake timed out'], 'Goodbye at the handshake timeout')
  t.equal(closed, 4000 + wire.Goodbye.Code.CODE_PROTOCOL, 'closed with 4000 + CODE_PROTOCOL')
  t.same(p.b.refusals, ['timeout : no Hello within the handshake timeout'], 'the refusal is reported for the log')
  t.equal(p.b.links.size, 0, 'no link for it')
})
