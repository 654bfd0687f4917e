// A peer's traffic, the half of a PeerLink (peer-link.ts) that writers
// see: frames out on the session, coalesced per event-loop turn (turn.ts),
// combined writes and their delivery marks (write-marks.ts), back-pressure
// at the edge (credit.ts: writers ask for room first; protocol frames are
// never refused, and only past the replay buffer's whole bound does the
// session fail, ReplayOverflowError); packets in, with the link's own frames
// (Ping, Pong, Goodbye) answered here; and what a session lost when it
// ended. Which connection carries the session, and when it changes, is
// PeerLink's.

import { EventEmitter } from 'node:events'
import { decodePacket, wire, type Frame } from './codec.js'
import { decodeCompact, isCompact } from './compact.js'
import { ReplayOverflowError, type Delivery, type LinkSession } from './session.js'
import type { DeliveryMark } from './delivery.js'
import type { DeferredFrames } from './deferred.js'
import { WriteMarks } from './write-marks.js'
import { TurnFlush, isNotification } from './turn.js'
import { hex } from './handshake.js'
import { FaultGate } from './fault-gate.js'
import type { LinkOptions } from './options.js'
import { EdgeCredit } from './credit.js'
import { realClock, type Clock } from './clock.js'
import type { LinkSocket } from './transport.js'
import { Liveness } from './liveness.js'
import { AckTick } from './ack-tick.js'
import { zeroCounters, type PeerLinkEvents, type PeerState, type SessionLoss } from './peer-events.js'
import type { PeerLink } from './peer-link.js'
import { FrameError, UnavailableError } from '../errors.js'

const Code = wire.Goodbye.Code

export abstract class PeerTraffic extends EventEmitter<PeerLinkEvents> {
  /** The peer's node name ('' until a dialed peer first answers). */
  name: string
  /** Set when this side dials the peer. */
  readonly url: string | undefined
  state: PeerState = 'connecting'
  /** Why the link is not up, for people. */
  lastError = ''
  rttMs: number | null = null
  readonly counters = zeroCounters()
  /** Fault injection at the socket edge (PUT /v1/peers/:peer/faults): idle unless a plan is set. */
  readonly faults: FaultGate

  protected readonly opts: LinkOptions
  protected readonly clock: Clock
  protected session: LinkSession | null = null
  /** The connection that carries the session now (null between connections). */
  protected sock: LinkSocket | null = null
  /** Features in use on the current connection (wire.Feature bits). */
  protected features = 0
  protected readonly acks: AckTick
  protected readonly liveness: Liveness
  private readonly turn: TurnFlush
  private readonly credit: EdgeCredit
  private readonly marks = new WriteMarks()

  constructor (opts: LinkOptions, init: { name?: string, url?: string }) {
    super()
    this.opts = opts
    this.clock = opts.clock ?? realClock
    this.name = init.name ?? ''
    this.url = init.url
    this.turn = new TurnFlush((endOfTurn) => { this.transmit(false); if (endOfTurn) this.credit.turnEnded() }, this.clock)
    this.faults = new FaultGate({ socket: () => this.sock, deliver: (sock, data, isBinary) => { if (this.sock === sock) this.onPacket(data, isBinary) }, logger: opts.logger, clock: this.clock })
    this.credit = new EdgeCredit(opts.limits.maxReplayBytes, {
      unackedBytes: () => this.session?.unackedBytes ?? null,
      label: () => this.label,
      scheduleTurn: () => { this.turn.schedule() },
      onRoom: () => { this.emit('room', this.link) }
    }, this.clock)
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
  }

  /** Every PeerTraffic is a PeerLink's half: events name the link. */
  private get link (): PeerLink { return this as unknown as PeerLink }

  /** Ends the session and the connection: the peer broke the protocol or a bound. */
  protected abstract cutOff (code: number, reason: string): void
  /** The peer said Goodbye on the established link. */
  protected abstract peerSaidGoodbye (reason: string): void

  get incarnation (): string { return hex(this.session?.peerIncarnation) }
  get unacked (): number { return this.session?.unacked ?? 0 }
  /** Bytes of those frames: what the replay buffer holds. */
  get unackedBytes (): number { return this.session?.unackedBytes ?? 0 }
  /** When the packet being delivered arrived (the clock's ms): doorbells measure their latency from it. */
  get arrivedAt (): number { return this.liveness.lastHeard }
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
  mark (): DeliveryMark | null { return this.marks.mark(this.session) }

  /** Notes an edge write (REST) of `bytes` just queued: counted as lost if its session ends before the peer acknowledges it. */
  noteWrite (bytes: number): void { this.marks.noteWrite(this.session, bytes) }

  /**
   * Queues a frame for the peer. Throws UnavailableError when there is no
   * session; while the session waits for a reconnect, frames are kept and
   * sent on resume.
   */
  send (frame: Frame, bulk?: Uint8Array, headroom?: number): void {
    const s = this.session
    if (s === null) throw new UnavailableError(`link to ${this.label} is down`)
    // Every frame is an ordering point: combined writes made before it go first.
    if (this.marks.pending) this.materialize()
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
    this.marks.defer(source)
    this.turn.schedule()
  }

  /** Makes the frames of every deferred source, in order. */
  materialize (): void {
    // A source whose session ended under it is reset by the link-down
    // handlers; nothing else is lost here.
    this.marks.materialize(this.session, (err) => { if (!(err instanceof UnavailableError)) throw err })
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
    if (this.marks.pending && this.session !== null) this.materialize()
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

  /** The session ended: counts what it took with it and says so ('lost', then 'down'). */
  protected endSession (reason: string): void {
    const s = this.session
    if (s === null) return
    this.session = null
    const writes = this.marks.ended(s)
    this.credit.sessionEnded(reason)
    const loss: SessionLoss = { session: s, frames: s.unacked, bytes: s.unackedBytes, writes: writes.count, writeBytes: writes.bytes, reason }
    this.counters.lostFrames += loss.frames
    this.counters.lostBytes += loss.bytes
    this.counters.lostWrites += loss.writes
    if (loss.frames > 0) {
      this.opts.logger.warn({ peer: this.name, frames: loss.frames, bytes: loss.bytes, writes: loss.writes, acked: s.acked, lastSent: s.lastSent },
        'session ended with frames the peer never acknowledged: they are lost')
    }
    this.emit('lost', this.link, loss)
    this.opts.logger.warn({ peer: this.name, reason }, 'link down')
    this.emit('down', this.link, reason)
  }

  /** A packet from `sock`: through the fault gate while a fault plan holds packets. */
  protected inbound (sock: LinkSocket, data: Buffer, isBinary: boolean): void {
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
      this.emit('frame', this.link, d)
      if (this.session !== s) return
    }
    // A bare ack goes after ackEvery frames owed, else from the ack tick.
    if (s.owesAck) {
      if (s.pending || s.owedAcks >= this.opts.ackEvery) this.turn.schedule()
      else this.acks.start()
    }
  }
}
