// One peer: the session with it (its traffic is peer-traffic.ts) and the
// connection that carries the session now (transport.ts: a WebSocket, or in
// tests an in-memory pair). The connection may drop and come back (this
// side redials with backoff, dialer.ts, or the peer does, acceptor.ts); the
// session survives that if the peer resumes within the resume window
// (resume-window.ts). Liveness (heartbeat and dead-after) is liveness.ts;
// every timer runs on the link's clock (clock.ts).
//
// Loss: a session that ends (no resume in time, the peer restarted, a cut)
// takes its unacknowledged frames with it. The link counts them and says so
// ('lost', before 'down'), with the session's last acknowledged seq, so that
// writers holding DeliveryMarks (delivery.ts, write-marks.ts) can tell their
// own writers.

import { wire } from './codec.js'
import { LinkSession } from './session.js'
import { hex, sameBytes, type AcceptStep } from './handshake.js'
import type { LinkOptions, Role } from './options.js'
import type { Credential } from './credential.js'
import { goodbye, type LinkSocket } from './transport.js'
import { WsTransport } from './ws-transport.js'
import { Dialer, type Welcomed } from './dialer.js'
import { ResumeWindow } from './resume-window.js'
import { PeerTraffic } from './peer-traffic.js'

export type { PeerCounters, PeerLinkEvents, PeerState, SessionLoss } from './peer-events.js'
export { refuse } from './ws-transport.js'

const Code = wire.Goodbye.Code

/** A Hello the acceptor checked, as the link takes it. */
export type AcceptedHello = Omit<Extract<AcceptStep, { kind: 'hello' }>, 'kind' | 'name'>

export class PeerLink extends PeerTraffic {
  role: Role = wire.Role.ROLE_UNSPECIFIED
  /** What the peer proved on the connection that made the session (the takeover rule compares with it). */
  credential: Credential | null = null
  /** The name a dialed peer is configured under (peers: [{ name, url }]); it must answer to it. */
  readonly expect: string | undefined

  private readonly dialer: Dialer | null
  private readonly resumeWindow: ResumeWindow
  private closed = false

  constructor (opts: LinkOptions, init: { name?: string, url?: string, expect?: string, claim?: (link: PeerLink, name: string) => boolean }) {
    super(opts, init)
    this.expect = init.expect
    this.resumeWindow = new ResumeWindow(this.clock, opts.resumeWindowMs, () => {
      if (this.state === 'up') return
      this.state = 'down'
      this.endSession(`no reconnect within ${this.opts.resumeWindowMs} ms`)
      this.emit('state', this)
    })
    const claim = init.claim
    this.dialer = init.url === undefined
      ? null
      : new Dialer(init.url, init.expect, opts, opts.transport ?? new WsTransport(opts), this.clock, {
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

  /** Starts dialing (dialer links only). */
  start (): void {
    this.dialer?.dial()
  }

  /** Stops dialing: the peer dials us instead. */
  goPassive (): void {
    this.dialer?.goPassive()
  }

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

  /**
   * Brings the link up on `sock`: resumes at `resumeAt` if possible, else a
   * new session. The caller flushes once the handshake's last frame is out.
   */
  private establish (sock: LinkSocket, peerIncarnation: Uint8Array, resumeAt: number | null, features: number): boolean {
    this.sock = sock
    this.opts.capture?.named(sock, this.name)
    this.features = features
    this.counters.connects++
    this.resumeWindow.shut()
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

  protected cutOff (code: number, reason: string): void {
    const sock = this.sock
    this.sock = null
    this.stopTimers()
    if (sock !== null) goodbye(sock, code, reason)
    this.lastError = reason
    this.down(reason)
  }

  protected peerSaidGoodbye (reason: string): void {
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
      this.resumeWindow.open()
    } else {
      this.state = this.dialer?.dialing === true ? 'connecting' : 'down'
    }
    this.emit('state', this)
    this.dialer?.redial()
  }

  private stopTimers (): void {
    this.liveness.stop()
    this.acks.stop()
    this.resumeWindow.shut()
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
