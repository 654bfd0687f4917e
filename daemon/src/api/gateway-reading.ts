// When the rpmsg gateway stops reading one application's WebSocket, and when
// it reads again (back-pressure; the bounds are described in
// gateway-connection.ts). Reading pauses while any reason holds: too many
// sends wait for a buffer (version 2), more than limits.bufferedBytes wait to
// be written (with the stall clock that disconnects a slow reader), or a
// link is full. Kept apart from gateway-connection.ts, which reads the
// frames and answers them.

import type { ErrorCode } from '../errors.js'
import { CLOSE_GRACE_MS, type GatewayLimits, type GatewayLinks } from './gateway-limits.js'
import { CLOSED, type GatewayOutput, type GatewaySocket } from './gateway-output.js'

export interface ReadingHost {
  readonly socket: GatewaySocket
  readonly out: GatewayOutput
  readonly limits: GatewayLimits
  readonly links: GatewayLinks
  isClosed: () => boolean
  /** The application stayed over the bound for stallMs: it is refused (Error, then close). */
  refuse: (code: ErrorCode, message: string) => void
}

export class GatewayReading {
  /** Version 2: reading is paused while too many sends wait. */
  private sendsFull = false
  /** Over limits.bufferedBytes since then (Date.now()): reading is paused; null while under. */
  private fullSince: number | null = null
  private fullTimer: NodeJS.Timeout | null = null
  /** Whether socket.pause() is in force (any reason). */
  private socketPaused = false
  /** Reading is paused while a link is full (back-pressure, any version). */
  private linkFull = false

  constructor (private readonly host: ReadingHost) {}

  /** Whether too many waiting sends hold reading. */
  get holdsForSends (): boolean { return this.sendsFull }

  /** Version 2: too many sends wait (true), or few enough again (false). */
  setSendsFull (full: boolean): void {
    if (full === this.sendsFull) return
    this.sendsFull = full
    this.sync()
  }

  /**
   * Back-pressure from the links: while one is full, the application's next
   * messages wait in TCP (the gateway stops reading) instead of filling the
   * replay buffer until the session ends. roomCame() reads again.
   */
  checkLinks (): void {
    if (this.linkFull || this.host.isClosed() || this.host.links.hasRoom()) return
    this.linkFull = true
    this.sync()
  }

  /** A link has room again (or lost its session): read again unless another reason still holds reading. */
  roomCame (): void {
    if (!this.linkFull || this.host.links.hasRoom() === false) return
    this.linkFull = false
    this.sync()
  }

  /** Back-pressure on what waits to be written: reading stops past the bound (and the stall clock starts). */
  checkBuffered (): void {
    const { out, limits } = this.host
    if (this.host.isClosed() || this.fullSince !== null || out.buffered() <= limits.bufferedBytes) return
    this.fullSince = Date.now()
    this.sync()
    // ws says nothing when its buffer drains: look a few times per stall period while over.
    const every = Math.max(10, Math.min(250, limits.stallMs / 4))
    this.fullTimer = setInterval(() => { this.whileFull() }, every)
  }

  /** The connection closed: no more stall clock. */
  stop (): void {
    if (this.fullTimer !== null) clearInterval(this.fullTimer)
    this.fullTimer = null
  }

  private whileFull (): void {
    if (this.host.isClosed() || this.fullSince === null) { this.stop(); return }
    const { out, limits: limit } = this.host
    if (out.buffered() <= limit.bufferedBytes / 2) {
      this.stop()
      this.fullSince = null
      this.sync()
      return
    }
    if (Date.now() - this.fullSince < limit.stallMs) return
    this.stop()
    this.host.refuse('ERR_RPMSG_SLOW_READER', `the application read nothing of the ${out.buffered()} bytes waiting for it (over ${limit.bufferedBytes}) for ${limit.stallMs} ms`)
    const socket = this.host.socket
    setTimeout(() => { if (socket.readyState !== CLOSED) socket.terminate?.() }, CLOSE_GRACE_MS).unref()
  }

  /** socket.pause() while any reason holds, resume() when none does. */
  private sync (): void {
    const pause = !this.host.isClosed() && (this.sendsFull || this.fullSince !== null || this.linkFull)
    if (pause === this.socketPaused) return
    this.socketPaused = pause
    if (pause) this.host.socket.pause?.()
    else this.host.socket.resume?.()
  }
}
