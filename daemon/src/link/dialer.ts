// The dialing side of a link: it connects to the peer's URL, runs the
// dialer's handshake (handshake.ts) offering the session's resume point,
// and when the connection is lost or refused dials again, with backoff
// (reconnectMinMs doubling up to reconnectMaxMs; a Welcome resets it). A
// peer that answers CODE_DUPLICATE dials us instead: the dialer goes
// passive and stops.

import type { Logger } from 'pino'
import type { Clock, Timer } from './clock.js'
import { decodePacket, encodePacket, wire, type Frame } from './codec.js'
import { DialerHandshake, type DialStep } from './handshake.js'
import { goodbye, type DialedSocket, type LinkSocket, type LinkTransport } from './transport.js'
import type { LinkOptions } from './options.js'
import { FrameError } from '../errors.js'
import { DialLog } from './dial-log.js'

const Code = wire.Goodbye.Code

/** A Welcome, as the link takes it. */
export type Welcomed = Extract<DialStep, { kind: 'welcomed' }>

/** What the dialer needs of its link (PeerLink). */
export interface DialerLink {
  /** Whether the link has a connection (a dial in progress, or up). */
  connected: () => boolean
  /** Whether `sock` is the link's connection still. */
  holds: (sock: LinkSocket) => boolean
  attach: (sock: LinkSocket) => void
  /** Where the session stands, to offer in the Hello (null without one). */
  resumePoint: () => { peerIncarnation: Uint8Array, nextSeq: number } | null
  /** How long to hold off dialing (a fault plan's blackhole lets nothing through). */
  dialWaitMs: () => number
  /** Whether the link may go by `name` (no other link has it). */
  claim: (name: string) => boolean
  /** The handshake ended in a Welcome: the link is up on `sock`. */
  welcomed: (sock: LinkSocket, step: Welcomed) => void
  /** A packet on the established connection. */
  inbound: (sock: LinkSocket, data: Buffer, isBinary: boolean) => void
  /** The link's connection closed. */
  lost: (code: number, reason: string) => void
  label: () => string
  lastError: () => string
  setError: (why: string) => void
  protocolError: () => void
}

export class Dialer {
  private backoffMs: number
  private timer: Timer | null = null
  private stopped = false
  /** The peer told us to stop (it dials us instead). */
  private passive = false
  private readonly logger: Logger
  private readonly dialLog: DialLog

  constructor (
    readonly url: string,
    /** The name the peer is configured under (peers: [{ name, url }]); it must answer to it. */
    private readonly expect: string | undefined,
    private readonly opts: LinkOptions,
    private readonly transport: LinkTransport,
    private readonly clock: Clock,
    private readonly link: DialerLink
  ) {
    this.backoffMs = opts.reconnectMinMs
    this.logger = opts.logger
    this.dialLog = new DialLog(opts.logger, url)
  }

  /** Whether the dialer still dials (not passive, not stopped). */
  get dialing (): boolean { return !this.stopped && !this.passive }

  /** Dials now, unless a connection is there or the dialer has stopped. */
  dial (): void {
    if (!this.dialing || this.link.connected()) return
    const wait = this.link.dialWaitMs()
    if (wait > 0) {
      this.timer ??= this.clock.setTimeout(() => { this.timer = null; this.dial() }, wait)
      return
    }
    const sock = this.transport.dial(this.url)
    this.link.attach(sock)
    const hs = new DialerHandshake(this.opts, this.link.resumePoint(), this.expect)
    const timer = this.clock.setTimeout(() => { this.fail(sock, Code.CODE_PROTOCOL, 'handshake timed out') }, this.opts.handshakeTimeoutMs)
    let up = false
    sock.listen({
      message: (data, isBinary) => {
        if (!this.link.holds(sock)) return
        if (up) { this.link.inbound(sock, data, isBinary); return }
        const f = this.handshakeFrame(sock, data, isBinary)
        if (f === null) { this.clock.clearTimeout(timer); return }
        const step = hs.step(f)
        if (step.kind !== 'send') this.clock.clearTimeout(timer)
        up = this.handshakeStep(sock, step)
      },
      error: (err) => { this.failed(sock, err) },
      close: (code, reason) => {
        this.clock.clearTimeout(timer)
        if (this.link.holds(sock)) this.link.lost(code, reason)
      }
    })
  }

  /** Carries out one step of the handshake; true once the link is up. */
  private handshakeStep (sock: DialedSocket, step: DialStep): boolean {
    switch (step.kind) {
      case 'send':
        sock.send(encodePacket(step.frame))
        return false
      case 'refuse':
        this.fail(sock, step.code, step.why)
        return false
      case 'refused':
        this.link.setError(step.why)
        this.logger.error({ peer: this.link.label(), code: step.code }, step.why)
        if (step.code === Code.CODE_DUPLICATE) this.goPassive()
        sock.close()
        return false
      case 'welcomed': {
        const wrongName = sock.nameRefusal(step.name)
        if (wrongName !== null) { this.fail(sock, Code.CODE_AUTH, wrongName); return false }
        if (!this.link.claim(step.name)) {
          this.fail(sock, Code.CODE_DUPLICATE, `already linked to ${step.name}: it dials us`)
          this.goPassive()
          return false
        }
        this.backoffMs = this.opts.reconnectMinMs
        this.link.welcomed(sock, step)
        return true
      }
    }
  }

  /** A dial's error (refused, no such host, TLS): logged with the URL, each reason rate-limited (dial-log.ts). */
  private failed (sock: DialedSocket, err: Error): void {
    const { why } = sock.failure(err)
    this.dialLog.failed(this.link.label(), why, (err as NodeJS.ErrnoException).code, this.clock.now())
    this.link.setError(why)
  }

  private handshakeFrame (sock: LinkSocket, data: Buffer, isBinary: boolean): Frame | null {
    try {
      if (!isBinary) throw new FrameError('text message on a binary link')
      return decodePacket(data).frame
    } catch (err) {
      this.link.protocolError()
      goodbye(sock, Code.CODE_PROTOCOL, (err as Error).message)
      this.link.setError(`handshake: ${(err as Error).message}`)
      return null
    }
  }

  private fail (sock: LinkSocket, code: number, why: string): void {
    this.link.setError(why)
    if (code === Code.CODE_AUTH) this.logger.error({ peer: this.link.label() }, why)
    goodbye(sock, code, why)
  }

  /** Dials again after the backoff (the connection was lost or refused). */
  redial (): void {
    if (!this.dialing || this.timer !== null) return
    const delay = this.backoffMs
    this.backoffMs = Math.min(this.opts.reconnectMaxMs, this.backoffMs * 2)
    this.timer = this.clock.setTimeout(() => { this.timer = null; this.dial() }, delay)
  }

  /** Stops dialing: the peer dials us instead. */
  goPassive (): void {
    this.passive = true
    this.cancel()
  }

  /** Stops for good (the link closed). */
  stop (): void {
    this.stopped = true
    this.cancel()
  }

  private cancel (): void {
    this.clock.clearTimeout(this.timer)
    this.timer = null
  }
}
