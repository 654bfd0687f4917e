// One peer: the session with it and the connection that carries the session
// now (transport.ts: a WebSocket, or in tests an in-memory pair). The
// connection may drop and come back (this side redials with backoff,
// dialer.ts, or the peer does, acceptor.ts); the session survives that if
// the peer resumes within the resume window. Liveness (heartbeat and
// dead-after) is liveness.ts; every timer runs on the link's clock
// (clock.ts). Sends are coalesced: frames queue in the session and go out
// once per event-loop turn.
//
// Back-pressure (credit.ts): writers at the edge (REST writes and reads
// through windows, region writes streamed to subscribers, read completions,
// the rpmsg gateway) ask for room first (hasRoom, waitForRoom) and may fill
// the replay buffer up to EDGE_SHARE of its bound; they wait, and the
// session goes on.
// The rest is kept for protocol frames, which are never refused: vring and
// buffer writes are bounded by the rings (a buffer comes back only in a
// packet that acknowledges the frames that carried it, so at most the
// rings' buffers are unacknowledged), and acks, pings, doorbells, Ordered
// and Subscribe frames are a few bytes each. Only past the whole bound does
// the session fail (ReplayOverflowError), as before.
//
// Loss: a session that ends (no resume in time, the peer restarted, a cut)
// takes its unacknowledged frames with it. The link counts them and says so
// ('lost', before 'down'), with the session's last acknowledged seq, so that
// writers holding DeliveryMarks (delivery.ts) can tell their own writers.

import { EventEmitter } from 'node:events'
import { decodePacket, wire, type Frame } from './codec.js'
import { decodeCompact, isCompact } from './compact.js'
import { LinkSession, ReplayOverflowError, type Delivery } from './session.js'
import { DeliveryLedger, type DeliveryMark } from './delivery.js'
import { DeferredQueue, type DeferredFrames } from './deferred.js'
import { TurnFlush, isNotification } from './turn.js'
import { hex, sameBytes } from './handshake.js'
import { FaultGate } from './fault-gate.js'
import type { LinkOptions, Role } from './options.js'
import type { Credential } from './credential.js'
import { EdgeCredit } from './credit.js'
import { realClock, type Clock, type Timer } from './clock.js'
import { goodbye, type LinkSocket } from './transport.js'
import { WsTransport } from './ws-transport.js'
import { Dialer, type Welcomed } from './dialer.js'
import { Liveness } from './liveness.js'
import { AckTick } from './ack-tick.js'
import { zeroCounters, type PeerLinkEvents, type PeerState, type SessionLoss } from './peer-events.js'
import { FrameError, UnavailableError } from '../errors.js'

export type { PeerCounters, PeerLinkEvents, PeerState, SessionLoss } from './peer-events.js'
export { refuse } from './ws-transport.js'

const Code = wire.Goodbye.Code

/** A Hello the acceptor checked, as the link takes it. */
export interface AcceptedHello {
  incarnation: Uint8Array
  role: number
  features: number
  credential: Credential
  resume: { peerIncarnation?: Uint8Array | null, nextSeq?: number | null } | null
}

export class PeerLink extends EventEmitter<PeerLinkEvents> {
  /** The peer's node name ('' until a dialed peer first answers). */
  name: string
  /** Set when this side dials the peer. */
  readonly url: string | undefined
  role: Role = wire.Role.ROLE_UNSPECIFIED
  state: PeerState = 'connecting'
  /** Why the link is not up, for people. */
  lastError = ''
  /** What the peer proved on the connection that made the session (the takeover rule compares with it). */
  credential: Credential | null = null
  /** The name a dialed peer is configured under (peers: [{ name, url }]); it must answer to it. */
  readonly expect: string | undefined
  rttMs: number | null = null
  readonly counters = zeroCounters()

  private readonly opts: LinkOptions
  private readonly clock: Clock
  private session: LinkSession | null = null
  private sock: LinkSocket | null = null
  private readonly turn: TurnFlush
  private readonly credit: EdgeCredit
  /** The mark of combined writes not yet made into frames (set when they are). */
  private pendingMark: DeliveryMark | null = null
  private lastMark: DeliveryMark | null = null
  /** Edge writes (noteWrite) not yet acknowledged, for counting the lost ones. */
  private readonly writes = new DeliveryLedger()
  /** Sources of combined writes, in the order they first wrote since the last ordering point. */
  private readonly deferred = new DeferredQueue()
  /** Features in use on the current connection (wire.Feature bits). */
  private features = 0
  private readonly acks: AckTick
  private readonly liveness: Liveness
  private readonly dialer: Dialer | null
  private resumeTimer: Timer | null = null
  private closed = false

  /** Fault injection at the socket edge (PUT /v1/peers/:peer/faults): idle unless a plan is set. */
  readonly faults: FaultGate

  constructor (opts: LinkOptions, init: { name?: string, url?: string, expect?: string, claim?: (link: PeerLink, name: string) => boolean }) {
    super()
    this.opts = opts
    this.clock = opts.clock ?? realClock
    this.expect = init.expect
    this.name = init.name ?? ''
    this.url = init.url
    this.turn = new TurnFlush((endOfTurn) => { this.transmit(false); if (endOfTurn) this.credit.turnEnded() }, this.clock)
    this.faults = new FaultGate({ socket: () => this.sock, deliver: (sock, data, isBinary) => { if (this.sock === sock) this.onPacket(data, isBinary) }, logger: opts.logger, clock: this.clock })
    this.credit = new EdgeCredit(opts.limits.maxReplayBytes, {
      unackedBytes: () => this.session?.unackedBytes ?? null,
      label: () => this.label,
      scheduleTurn: () => { this.turn.schedule() },
      onRoom: () => { this.emit('room', this) }
    })
    this.acks = new AckTick(this.clock, opts.ackDelayMs, () => {
      if (this.session?.owesAck !== true && this.session?.pending !== true) return false
      this.flush()
      return true
    })
    this.liveness = new Liveness(this.clock, opts, {
      live: () => this.sock !== null && this.session !== null,
      ping: (nonce) => { this.session!.send({ ping: { nonce } }); this.flush() },
      dead: () => {
        this.opts.logger.warn({ peer: this.label }, `nothing heard for ${this.opts.deadAfterMs} ms; dropping the connection`)
        this.lastError = 'peer silent'
        this.sock!.terminate()
      }
    })
    const claim = init.claim
    this.dialer = init.url === undefined
      ? null
      : new Dialer(init.url, { ...opts, expect: init.expect }, opts.transport ?? new WsTransport(opts), this.clock, {
        connected: () => this.sock !== null,
        holds: (sock) => this.sock === sock,
        attach: (sock) => { this.sock = sock },
        resumePoint: () => this.session !== null ? { peerIncarnation: this.session.peerIncarnation, nextSeq: this.session.nextExpected } : null,
        dialWaitMs: () => this.faults.dialWaitMs(),
        claim: (name) => claim === undefined || claim(this, name),
        welcomed: (sock, step) => { this.welcomed(sock, step) },
        inbound: (sock, data, isBinary) => { this.inbound(sock, data, isBinary) },
        lost: (code, reason) => { this.socketClosed(code, reason) },
        label: () => this.label,
        lastError: () => this.lastError,
        setError: (why) => { this.lastError = why },
        protocolError: () => { this.counters.protocolErrors++ }
      })
  }

  get incarnation (): string { return hex(this.session?.peerIncarnation) }
  get unacked (): number { return this.session?.unacked ?? 0 }
  /** Whether a session exists (up, or waiting to resume). */
  get hasSession (): boolean { return this.session !== null }
  /** Whether the peer takes multi-range Writes and Updates (FEATURE_COMPACT on this connection). */
  get combining (): boolean { return (this.features & wire.Feature.FEATURE_COMPACT) !== 0 }

  // ------------------------------------------------------------ back-pressure (credit.ts)

  /** Bytes edge writers may have unacknowledged at once. */
  get edgeLimit (): number { return this.credit.limit }
  /** Bytes an edge writer may queue now (0 without a session). */
  get room (): number { return this.credit.room }
  /** Whether an edge writer may queue `bytes` now; a false answer asks for a 'room' event. */
  hasRoom (bytes: number): boolean { return this.credit.hasRoom(bytes) }
  /** Takes room for `bytes` an edge writer queues in this turn. */
  reserve (bytes: number): void { this.credit.reserve(bytes) }
  /** Resolves, room reserved, once `bytes` fit (LinkFullError after `timeoutMs`). */
  async waitForRoom (bytes: number, timeoutMs: number): Promise<void> { await this.credit.waitForRoom(bytes, timeoutMs) }

  // ------------------------------------------------------------ delivery

  /**
   * The mark of everything queued so far (null without a session): combined
   * writes not yet made into frames get theirs when they are.
   */
  mark (): DeliveryMark | null {
    const s = this.session
    if (s === null) return null
    if (this.deferred.pending) {
      this.pendingMark ??= { session: s, seq: Infinity }
      return this.pendingMark
    }
    const last = this.lastMark
    if (last !== null && last.session === s && last.seq === s.lastSent) return last
    this.lastMark = { session: s, seq: s.lastSent }
    return this.lastMark
  }

  /** Notes an edge write (REST) of `bytes` just queued: counted as lost if its session ends before the peer acknowledges it. */
  noteWrite (bytes: number): void {
    const m = this.mark()
    if (m !== null) this.writes.note(m, bytes)
  }

  /** Starts dialing (dialer links only). */
  start (): void {
    this.dialer?.dial()
  }

  /**
   * Queues a frame for the peer. Throws UnavailableError when there is no
   * session; while the session waits for a reconnect, frames are kept and
   * sent on resume.
   */
  send (frame: Frame, bulk?: Uint8Array, headroom?: number): void {
    const s = this.session
    if (s === null) throw new UnavailableError(`link to ${this.label} is down`)
    // Every frame is an ordering point: combined writes made before it go first.
    if (this.deferred.pending) this.materialize()
    try {
      s.send(frame, bulk, headroom)
    } catch (err) {
      if (err instanceof ReplayOverflowError) {
        this.cutOff(Code.CODE_OVERFLOW, err.message)
        throw new UnavailableError(`link to ${this.label} failed: ${err.message}`)
      }
      throw err
    }
    this.counters.framesOut++
    this.turn.queued(isNotification(frame, this.combining))
  }

  /**
   * Registers a source of combined writes: its frames are made at the next
   * ordering point (any send) or at the end of the turn. A source that wrote
   * before another source and writes again makes an ordering point first, so
   * that frames keep the order of the writes across sources.
   */
  defer (source: DeferredFrames): void {
    this.deferred.add(source)
    this.turn.schedule()
  }

  /** Makes the frames of every deferred source, in order. */
  materialize (): void {
    // A source's own send, inside the run: the run itself finishes the job.
    if (this.deferred.running) return
    // A source whose session ended under it is reset by the link-down
    // handlers; nothing else is lost here.
    this.deferred.run((err) => { if (!(err instanceof UnavailableError)) throw err })
    const m = this.pendingMark
    if (m !== null && this.session !== null && m.session === this.session) m.seq = this.session.lastSent
    this.pendingMark = null
  }

  /** Sends everything queued now (before a wait, a heartbeat, the end of a handshake). */
  flush (): void {
    this.transmit(true)
  }

  /**
   * Sends what is queued. `eager` false (the turn's flushes): a turn that
   * queued nothing but acks (below ackEvery) and write-order confirmations
   * sends no packet for them; the next packet or the ack tick carries them.
   * A round trip through two daemons so makes two packets fewer.
   */
  private transmit (eager: boolean): void {
    if (this.deferred.pending && this.session !== null) this.materialize()
    const s = this.session
    const sock = this.sock
    if (s === null || sock === null || !sock.open || this.state !== 'up') return
    if (!eager && (!s.pending || s.onlyOrdered) && s.owedAcks < this.opts.ackEvery) {
      if (s.owesAck || s.pending) this.acks.start()
      return
    }
    const gated = this.faults.active
    for (const p of s.drain()) {
      if (gated) this.faults.send(sock, p)
      else sock.send(p)
      this.counters.packetsOut++
      this.counters.bytesOut += p.length
    }
  }

  get label (): string {
    return this.name !== '' ? this.name : (this.url ?? '?')
  }

  /** Stops dialing: the peer dials us instead. */
  goPassive (): void {
    this.dialer?.goPassive()
  }

  // ------------------------------------------------------------ connections

  /** The dialer's handshake ended in a Welcome: the link is up on `sock`. */
  private welcomed (sock: LinkSocket, step: Welcomed): void {
    this.name = step.name
    this.role = step.role
    this.credential = step.credential
    this.establish(sock, step.incarnation, step.resumeAt, step.features)
    this.flush()
  }

  /**
   * Attaches an authenticated connection whose Hello named this peer
   * (acceptor.ts). Resumes the session if the peer offers a matching resume
   * point; otherwise starts a new one. Returns the Welcome's resume field.
   */
  accept (sock: LinkSocket, hello: AcceptedHello): { peerIncarnation: Uint8Array, nextSeq: number } | null {
    const old = this.sock
    if (old !== null && old !== sock) {
      this.sock = null
      old.listen(null)
      goodbye(old, Code.CODE_DUPLICATE, 'replaced by a new connection from the same peer')
    }
    this.role = hello.role
    this.credential = hello.credential
    const s = this.session
    const canResume = s !== null && sameBytes(s.peerIncarnation, hello.incarnation) &&
      hello.resume != null && sameBytes(hello.resume.peerIncarnation, this.opts.incarnation)
    const resumeAt = canResume ? hello.resume!.nextSeq ?? null : null
    this.sock = sock
    sock.listen({
      message: (data, isBinary) => { this.inbound(sock, data, isBinary) },
      close: (code, reason) => { if (this.sock === sock) this.socketClosed(code, reason) },
      error: (err) => { this.lastError = err.message }
    })
    const resumed = this.establish(sock, hello.incarnation, resumeAt, hello.features)
    return resumed ? { peerIncarnation: hello.incarnation, nextSeq: this.session!.nextExpected } : null
  }

  // ------------------------------------------------------------ session

  /**
   * Brings the link up on `sock`: resumes at `resumeAt` if possible, else a
   * new session. The caller flushes once the handshake's last frame is out.
   */
  private establish (sock: LinkSocket, peerIncarnation: Uint8Array, resumeAt: number | null, features: number): boolean {
    this.sock = sock
    this.features = features
    this.counters.connects++
    this.clearResumeTimer()
    let resumed = false
    const s = this.session
    if (s !== null && resumeAt !== null && sameBytes(s.peerIncarnation, peerIncarnation) && s.resumeFrom(resumeAt)) {
      resumed = true
      this.counters.resumes++
    } else {
      if (s !== null) this.endSession(sameBytes(s.peerIncarnation, peerIncarnation) ? 'session could not resume' : 'peer restarted')
      this.session = new LinkSession(this.opts.incarnation, peerIncarnation, this.opts.limits)
      this.counters.sessions++
    }
    this.session!.compact = this.combining
    this.state = 'up'
    this.lastError = ''
    this.acks.stop()
    this.liveness.start()
    this.opts.logger.info({ peer: this.name, resumed, incarnation: hex(peerIncarnation) }, resumed ? 'link resumed' : 'link up')
    if (!resumed) this.emit('up', this)
    this.emit('state', this)
    return resumed
  }

  private endSession (reason: string): void {
    const s = this.session
    if (s === null) return
    this.session = null
    this.deferred.clear()
    this.pendingMark = null
    this.lastMark = null
    this.credit.sessionEnded(reason)
    const writes = this.writes.lost(s)
    const loss: SessionLoss = { session: s, frames: s.unacked, bytes: s.unackedBytes, writes: writes.count, writeBytes: writes.bytes, reason }
    this.counters.lostFrames += loss.frames
    this.counters.lostBytes += loss.bytes
    this.counters.lostWrites += loss.writes
    if (loss.frames > 0) {
      this.opts.logger.warn({ peer: this.name, frames: loss.frames, bytes: loss.bytes, writes: loss.writes, acked: s.acked, lastSent: s.lastSent },
        'session ended with frames the peer never acknowledged: they are lost')
    }
    this.emit('lost', this, loss)
    this.opts.logger.warn({ peer: this.name, reason }, 'link down')
    this.emit('down', this, reason)
  }

  /** A packet from `sock`: through the fault gate while a fault plan holds packets. */
  private inbound (sock: LinkSocket, data: Buffer, isBinary: boolean): void {
    if (this.sock !== sock) return
    if (this.faults.active) this.faults.receive(sock, data, isBinary)
    else this.onPacket(data, isBinary)
  }

  private onPacket (data: Buffer, isBinary: boolean): void {
    const s = this.session
    if (s === null) return
    this.liveness.heard()
    this.counters.packetsIn++
    this.counters.bytesIn += data.length
    let deliveries: Delivery[]
    try {
      if (!isBinary) throw new FrameError('text message on a binary link')
      if (isCompact(data) && !this.combining) throw new FrameError('compact packet on a connection that did not negotiate FEATURE_COMPACT')
      const before = s.unackedBytes
      deliveries = s.receive(isCompact(data) ? decodeCompact(data) : decodePacket(data))
      if (s.unackedBytes < before && this.credit.wanted) this.credit.serve()
    } catch (err) {
      this.counters.protocolErrors++
      this.opts.logger.error({ peer: this.label, err: (err as Error).message }, 'protocol violation; cutting the peer off')
      this.cutOff(Code.CODE_PROTOCOL, (err as Error).message)
      return
    }
    for (const d of deliveries) {
      const f = d.frame
      if (f.ping != null) { s.send({ pong: { nonce: f.ping.nonce ?? 0 } }); this.turn.schedule(); continue }
      if (f.pong != null) { this.rttMs = this.liveness.pong(f.pong.nonce ?? 0) ?? this.rttMs; continue }
      if (f.goodbye != null) { this.peerSaidGoodbye(f.goodbye.reason ?? ''); return }
      if (f.challenge != null || f.hello != null || f.welcome != null) {
        this.counters.protocolErrors++
        this.cutOff(Code.CODE_PROTOCOL, 'handshake frame on an established link')
        return
      }
      this.counters.framesIn++
      this.emit('frame', this, d)
      if (this.session !== s) return
    }
    // A bare ack goes after ackEvery frames owed, else from the ack tick.
    if (s.owesAck) {
      if (s.pending || s.owedAcks >= this.opts.ackEvery) this.turn.schedule()
      else this.acks.start()
    }
  }

  /** Ends the session and the connection: the peer broke the protocol or a bound. */
  private cutOff (code: number, reason: string): void {
    const sock = this.sock
    this.sock = null
    this.stopTimers()
    if (sock !== null) goodbye(sock, code, reason)
    this.lastError = reason
    this.down(reason)
  }

  private peerSaidGoodbye (reason: string): void {
    const sock = this.sock
    this.sock = null
    this.stopTimers()
    sock?.close()
    this.lastError = `peer closed the link: ${reason}`
    this.down(this.lastError)
  }

  /** The session ended with the connection: down, and a dialer dials again. */
  private down (reason: string): void {
    this.state = 'down'
    this.endSession(reason)
    this.emit('state', this)
    this.dialer?.redial()
  }

  private socketClosed (code: number, reason: string): void {
    this.sock = null
    this.liveness.stop()
    this.acks.stop()
    if (this.closed) return
    if (code >= 4000 && reason !== '' && this.lastError === '') this.lastError = reason
    if (this.session !== null) {
      if (this.state === 'up') this.opts.logger.warn({ peer: this.label, code, reason }, 'connection lost; waiting to resume')
      this.state = 'connecting'
      this.startResumeTimer()
    } else {
      this.state = this.dialer?.dialing === true ? 'connecting' : 'down'
    }
    this.emit('state', this)
    this.dialer?.redial()
  }

  /**
   * The resume window counts from the moment the connection was lost: a
   * redial that fails closes its socket too, and must not start the window
   * again, or a dialer whose peer is gone would wait to resume forever.
   */
  private startResumeTimer (): void {
    if (this.resumeTimer !== null) return
    this.resumeTimer = this.clock.setTimeout(() => {
      this.resumeTimer = null
      if (this.state === 'up') return
      this.state = 'down'
      this.endSession(`no reconnect within ${this.opts.resumeWindowMs} ms`)
      this.emit('state', this)
    }, this.opts.resumeWindowMs)
  }

  private clearResumeTimer (): void {
    this.clock.clearTimeout(this.resumeTimer)
    this.resumeTimer = null
  }

  private stopTimers (): void {
    this.liveness.stop()
    this.acks.stop()
    this.clearResumeTimer()
  }

  /** Says goodbye and closes for good (daemon shutdown or peer removal). */
  close (reason: string): void {
    if (this.closed) return
    this.flush()
    this.closed = true
    this.faults.close()
    this.stopTimers()
    this.dialer?.stop()
    const sock = this.sock
    this.sock = null
    if (sock !== null) goodbye(sock, Code.CODE_NORMAL, reason)
    this.state = 'down'
    this.endSession(reason)
    this.emit('state', this)
  }
}
