// One peer: the session with it and the WebSocket that carries the session
// now. The socket may drop and come back (this side redials with backoff, or
// the peer does); the session survives that if the peer resumes within the
// resume window. Sends are coalesced: frames queue in the session and go out
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
import { WebSocket, zeroMask } from './ws.js'
import { decodePacket, encodePacket, goodbyeReason, wire, type Frame } from './codec.js'
import { decodeCompact, isCompact } from './compact.js'
import { LinkSession, ReplayOverflowError, type Delivery } from './session.js'
import { DeliveryLedger, type DeliveryMark } from './delivery.js'
import { DeferredQueue, type DeferredFrames } from './deferred.js'
import { TurnFlush, isNotification } from './turn.js'
import { OutstandingPings } from './pings.js'
import { DialerHandshake, hex, sameBytes } from './handshake.js'
import { FaultGate } from './fault-gate.js'
import { DialWatch, dialOptions } from './dial-tls.js'
import type { LinkOptions, Role } from './options.js'
import type { Credential } from './credential.js'
import { EdgeCredit } from './credit.js'
import { FrameError, UnavailableError } from '../errors.js'

export type PeerState = 'connecting' | 'up' | 'down'
const Code = wire.Goodbye.Code

export interface PeerCounters {
  packetsIn: number
  packetsOut: number
  bytesIn: number
  bytesOut: number
  framesIn: number
  framesOut: number
  connects: number
  resumes: number
  sessions: number
  protocolErrors: number
  /** Frames (and their bytes) sent and never acknowledged by the peer, over sessions that ended. */
  lostFrames: number
  lostBytes: number
  /** Edge writes (noteWrite: REST writes) among them. */
  lostWrites: number
}

/** What a session took with it when it ended. */
export interface SessionLoss {
  /** The session (DeliveryMark.session of the marks it handed out). */
  session: LinkSession
  /** Sequenced frames sent and not acknowledged, and their bytes. */
  frames: number
  bytes: number
  /** Edge writes (noteWrite) not acknowledged, and their bytes. */
  writes: number
  writeBytes: number
  reason: string
}


export interface PeerLinkEvents {
  up: [PeerLink]
  down: [PeerLink, string]
  /** A session ended (emitted before 'down'): what it had not delivered. */
  lost: [PeerLink, SessionLoss]
  /** Room came back in the replay buffer after an edge writer found none. */
  room: [PeerLink]
  frame: [PeerLink, Delivery]
  state: [PeerLink]
}

/** Closes a socket with a Goodbye (code and reason), as the protocol asks. */
export function refuse (ws: WebSocket, code: number, reason: string): void {
  const short = goodbyeReason(reason)
  if (ws.readyState === WebSocket.OPEN) {
    ws.send(encodePacket({ goodbye: { code, reason: short } }))
    ws.close(4000 + code, short)
  } else {
    ws.terminate()
  }
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
  readonly counters: PeerCounters = {
    packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0,
    connects: 0, resumes: 0, sessions: 0, protocolErrors: 0, lostFrames: 0, lostBytes: 0, lostWrites: 0
  }

  private readonly opts: LinkOptions
  private session: LinkSession | null = null
  private ws: WebSocket | null = null
  private readonly turn = new TurnFlush((endOfTurn) => { this.transmit(false); if (endOfTurn) this.credit.turnEnded() })
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
  private ackTimer: NodeJS.Timeout | null = null
  /** Our Pings not yet answered: only their Pongs count for rttMs. */
  private readonly pings = new OutstandingPings()
  private heartbeat: NodeJS.Timeout | null = null
  private resumeTimer: NodeJS.Timeout | null = null
  private redialTimer: NodeJS.Timeout | null = null
  private backoffMs: number
  private lastRx = 0
  private closed = false
  /** A dialer the peer told to stop (it dials us instead). */
  private passive = false

  /** Fault injection at the socket edge (PUT /v1/peers/:peer/faults): idle unless a plan is set. */
  readonly faults: FaultGate

  /** Asked before a dialed peer's name is taken: false if another link holds it. */
  private readonly claim: ((link: PeerLink, name: string) => boolean) | undefined

  constructor (opts: LinkOptions, init: { name?: string, url?: string, expect?: string, claim?: (link: PeerLink, name: string) => boolean }) {
    super()
    this.opts = opts
    this.claim = init.claim
    this.expect = init.expect
    this.name = init.name ?? ''
    this.url = init.url
    this.backoffMs = opts.reconnectMinMs
    this.faults = new FaultGate({ socket: () => this.ws, deliver: (ws, data, isBinary) => { if (this.ws === ws) this.onPacket(data, isBinary) }, logger: opts.logger })
    this.credit = new EdgeCredit(opts.limits.maxReplayBytes, {
      unackedBytes: () => this.session?.unackedBytes ?? null,
      label: () => this.label,
      scheduleTurn: () => { this.turn.schedule() },
      onRoom: () => { this.emit('room', this) }
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
    if (this.url !== undefined) this.dial()
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
    const ws = this.ws
    if (s === null || ws === null || ws.readyState !== WebSocket.OPEN || this.state !== 'up') return
    if (!eager && (!s.pending || s.onlyOrdered) && s.owedAcks < this.opts.ackEvery) {
      if (s.owesAck || s.pending) this.startAckTick()
      return
    }
    const gated = this.faults.active
    for (const p of s.drain()) {
      if (gated) this.faults.send(ws, p)
      else ws.send(p)
      this.counters.packetsOut++
      this.counters.bytesOut += p.length
    }
  }

  get label (): string {
    return this.name !== '' ? this.name : (this.url ?? '?')
  }

  // ------------------------------------------------------------ dialing

  private dial (): void {
    if (this.closed || this.passive || this.ws !== null) return
    const wait = this.faults.dialWaitMs()
    if (wait > 0) {
      if (this.redialTimer === null) this.redialTimer = setTimeout(() => { this.redialTimer = null; this.dial() }, wait)
      return
    }
    const ws = new WebSocket(this.url!, {
      perMessageDeflate: false,
      maxPayload: this.opts.maxPayload,
      handshakeTimeout: this.opts.handshakeTimeoutMs,
      ...(this.opts.mask === 'zero' ? { generateMask: zeroMask } : {}),
      ...dialOptions(this.url!, this.opts.tls ?? null)
    })
    const watch = new DialWatch(ws, this.url!, this.opts.tls ?? null)
    this.ws = ws
    const s = this.session
    const hs = new DialerHandshake(this.opts, s !== null ? { peerIncarnation: s.peerIncarnation, nextSeq: s.nextExpected } : null, this.expect)
    const timer = setTimeout(() => { this.dialFailed(ws, Code.CODE_PROTOCOL, 'handshake timed out') }, this.opts.handshakeTimeoutMs)
    let up = false
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (this.ws !== ws) return
      if (up) { this.inbound(ws, data, isBinary); return }
      const f = this.handshakeFrame(ws, data, isBinary)
      if (f === null) { clearTimeout(timer); return }
      const step = hs.step(f)
      switch (step.kind) {
        case 'send':
          ws.send(encodePacket(step.frame))
          return
        case 'refuse':
          clearTimeout(timer)
          this.dialFailed(ws, step.code, step.why)
          return
        case 'refused':
          clearTimeout(timer)
          this.setError(step.why)
          this.opts.logger.error({ peer: this.label, code: step.code }, step.why)
          if (step.code === Code.CODE_DUPLICATE) this.goPassive()
          ws.close()
          return
        case 'welcomed':
          clearTimeout(timer)
          if (!this.provedByCertificate(ws, watch, step.name)) return
          if (this.claim !== undefined && !this.claim(this, step.name)) {
            this.dialFailed(ws, Code.CODE_DUPLICATE, `already linked to ${step.name}: it dials us`)
            this.goPassive()
            return
          }
          up = true
          this.name = step.name
          this.role = step.role
          this.credential = step.credential
          this.backoffMs = this.opts.reconnectMinMs
          this.establish(ws, step.incarnation, step.resumeAt, step.features)
          this.flush()
      }
    })
    ws.on('error', (err) => {
      const why = watch.reason(err)
      // TLS failures and refusals are for people; each new one is logged once, not at every redial.
      if (why !== err.message || watch.refused) {
        if (why !== this.lastError) this.opts.logger.warn({ peer: this.label }, `dial failed: ${why}`)
      } else {
        this.opts.logger.debug({ peer: this.label, err: err.message }, 'dial error')
      }
      this.lastError = why
    })
    ws.on('close', (code, reason) => {
      clearTimeout(timer)
      if (this.ws === ws) this.socketClosed(code, reason.toString())
    })
  }

  /** Under mutual TLS, whether the Welcome's name is one the server's certificate proves; if not, the dial fails (CODE_AUTH). */
  private provedByCertificate (ws: WebSocket, watch: DialWatch, name: string): boolean {
    const why = watch.welcomeRefusal(name)
    if (why === null) return true
    this.dialFailed(ws, Code.CODE_AUTH, why)
    return false
  }

  private handshakeFrame (ws: WebSocket, data: Buffer, isBinary: boolean): Frame | null {
    try {
      if (!isBinary) throw new FrameError('text message on a binary link')
      return decodePacket(data).frame
    } catch (err) {
      this.counters.protocolErrors++
      refuse(ws, Code.CODE_PROTOCOL, (err as Error).message)
      this.setError(`handshake: ${(err as Error).message}`)
      return null
    }
  }

  private dialFailed (ws: WebSocket, code: number, why: string): void {
    this.setError(why)
    if (code === Code.CODE_AUTH) this.opts.logger.error({ peer: this.label }, why)
    refuse(ws, code, why)
  }

  /** Stops dialing: the peer dials us instead. */
  goPassive (): void {
    this.passive = true
    if (this.redialTimer !== null) { clearTimeout(this.redialTimer); this.redialTimer = null }
  }

  private setError (why: string): void {
    this.lastError = why
  }

  // ------------------------------------------------------------ accepting

  /**
   * Attaches an authenticated socket whose Hello named this peer. Resumes the
   * session if the peer offers a matching resume point; otherwise starts a
   * new one. Returns the Welcome's resume field.
   */
  accept (ws: WebSocket, hello: { incarnation: Uint8Array, role: number, features: number, credential: Credential, resume: { peerIncarnation?: Uint8Array | null, nextSeq?: number | null } | null }): { peerIncarnation: Uint8Array, nextSeq: number } | null {
    const old = this.ws
    if (old !== null && old !== ws) {
      this.ws = null
      old.removeAllListeners('message')
      refuse(old, Code.CODE_DUPLICATE, 'replaced by a new connection from the same peer')
    }
    this.role = hello.role
    this.credential = hello.credential
    const s = this.session
    const canResume = s !== null && sameBytes(s.peerIncarnation, hello.incarnation) &&
      hello.resume != null && sameBytes(hello.resume.peerIncarnation, this.opts.incarnation)
    const resumeAt = canResume ? hello.resume!.nextSeq ?? null : null
    this.ws = ws
    ws.on('message', (data: Buffer, isBinary: boolean) => { this.inbound(ws, data, isBinary) })
    ws.on('close', (code, reason) => { if (this.ws === ws) this.socketClosed(code, reason.toString()) })
    ws.on('error', (err) => { this.lastError = err.message })
    const resumed = this.establish(ws, hello.incarnation, resumeAt, hello.features)
    return resumed ? { peerIncarnation: hello.incarnation, nextSeq: this.session!.nextExpected } : null
  }

  // ------------------------------------------------------------ session

  /**
   * Brings the link up on `ws`: resumes at `resumeAt` if possible, else a
   * new session. The caller flushes once the handshake's last frame is out.
   */
  private establish (ws: WebSocket, peerIncarnation: Uint8Array, resumeAt: number | null, features: number): boolean {
    this.ws = ws
    this.features = features
    this.counters.connects++
    this.lastRx = Date.now()
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
    this.startHeartbeat()
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

  /** A packet from `ws`: through the fault gate while a fault plan holds packets. */
  private inbound (ws: WebSocket, data: Buffer, isBinary: boolean): void {
    if (this.ws !== ws) return
    if (this.faults.active) this.faults.receive(ws, data, isBinary)
    else this.onPacket(data, isBinary)
  }

  private onPacket (data: Buffer, isBinary: boolean): void {
    const s = this.session
    if (s === null) return
    this.lastRx = Date.now()
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
      if (f.pong != null) { this.rttMs = this.pings.pong(f.pong.nonce ?? 0, performance.now()) ?? this.rttMs; continue }
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
    if (s.owesAck) this.scheduleAck(s)
  }

  /**
   * Acks ride on every packet sent; a bare one goes after ackEvery frames,
   * or from a tick that runs only while acks are owed (one timer for a busy
   * period, not one per packet).
   */
  private scheduleAck (s: LinkSession): void {
    if (s.pending || s.owedAcks >= this.opts.ackEvery) { this.turn.schedule(); return }
    this.startAckTick()
  }

  private startAckTick (): void {
    if (this.ackTimer === null) this.ackTimer = setInterval(() => { this.ackTick() }, this.opts.ackDelayMs)
  }

  private ackTick (): void {
    if (this.session?.owesAck === true || this.session?.pending === true) { this.flush(); return }
    if (this.ackTimer !== null) { clearInterval(this.ackTimer); this.ackTimer = null }
  }

  /** Ends the session and the connection: the peer broke the protocol or a bound. */
  private cutOff (code: number, reason: string): void {
    const ws = this.ws
    this.ws = null
    this.stopTimers()
    if (ws !== null) refuse(ws, code, reason)
    this.lastError = reason
    this.state = 'down'
    this.endSession(reason)
    this.emit('state', this)
    this.scheduleRedial()
  }

  private peerSaidGoodbye (reason: string): void {
    const ws = this.ws
    this.ws = null
    this.stopTimers()
    ws?.close()
    this.lastError = `peer closed the link: ${reason}`
    this.state = 'down'
    this.endSession(this.lastError)
    this.emit('state', this)
    this.scheduleRedial()
  }

  private socketClosed (code: number, reason: string): void {
    this.ws = null
    this.stopHeartbeat()
    if (this.closed) return
    if (code >= 4000 && reason !== '' && this.lastError === '') this.lastError = reason
    if (this.session !== null) {
      if (this.state === 'up') this.opts.logger.warn({ peer: this.label, code, reason }, 'connection lost; waiting to resume')
      this.state = 'connecting'
      this.startResumeTimer()
    } else {
      this.state = this.url !== undefined && !this.passive ? 'connecting' : 'down'
    }
    this.emit('state', this)
    this.scheduleRedial()
  }

  private scheduleRedial (): void {
    if (this.url === undefined || this.closed || this.passive || this.redialTimer !== null) return
    const delay = this.backoffMs
    this.backoffMs = Math.min(this.opts.reconnectMaxMs, this.backoffMs * 2)
    this.redialTimer = setTimeout(() => { this.redialTimer = null; this.dial() }, delay)
  }

  private startHeartbeat (): void {
    this.stopHeartbeat()
    this.pings.clear()
    this.heartbeat = setInterval(() => {
      const ws = this.ws
      if (ws === null || this.session === null) return
      if (Date.now() - this.lastRx > this.opts.deadAfterMs) {
        this.opts.logger.warn({ peer: this.label }, `nothing heard for ${this.opts.deadAfterMs} ms; dropping the connection`)
        this.lastError = 'peer silent'
        ws.terminate()
        return
      }
      this.session.send({ ping: { nonce: this.pings.ping(performance.now()) } })
      this.flush()
    }, this.opts.heartbeatMs)
  }

  private stopHeartbeat (): void {
    if (this.heartbeat !== null) { clearInterval(this.heartbeat); this.heartbeat = null }
    if (this.ackTimer !== null) { clearInterval(this.ackTimer); this.ackTimer = null }
  }

  /**
   * The resume window counts from the moment the connection was lost: a
   * redial that fails closes its socket too, and must not start the window
   * again, or a dialer whose peer is gone would wait to resume forever.
   */
  private startResumeTimer (): void {
    if (this.resumeTimer !== null) return
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = null
      if (this.state === 'up') return
      this.state = 'down'
      this.endSession(`no reconnect within ${this.opts.resumeWindowMs} ms`)
      this.emit('state', this)
    }, this.opts.resumeWindowMs)
  }

  private clearResumeTimer (): void {
    if (this.resumeTimer !== null) { clearTimeout(this.resumeTimer); this.resumeTimer = null }
  }

  private stopTimers (): void {
    this.stopHeartbeat()
    this.clearResumeTimer()
  }

  /** Says goodbye and closes for good (daemon shutdown or peer removal). */
  close (reason: string): void {
    if (this.closed) return
    this.flush()
    this.closed = true
    this.faults.close()
    this.stopTimers()
    if (this.redialTimer !== null) { clearTimeout(this.redialTimer); this.redialTimer = null }
    const ws = this.ws
    this.ws = null
    if (ws !== null) refuse(ws, Code.CODE_NORMAL, reason)
    this.state = 'down'
    this.endSession(reason)
    this.emit('state', this)
  }
}
