// Whether the peer is still there: a Ping every heartbeatMs on the link,
// and a connection that has heard nothing (no packet at all, Pongs
// included) for deadAfterMs is dead, and dropped, so the dialer redials and
// the session waits in its resume window. Only Pongs answering our own Pings
// give the round trip (pings.ts).

import type { Clock, Timer } from './clock.js'
import { OutstandingPings } from './pings.js'

/** What liveness does to its link. */
export interface LivenessEdge {
  /** Whether a connection with a session is there to ping (heartbeats skip otherwise). */
  live: () => boolean
  /** Sends a Ping with `nonce` now. */
  ping: (nonce: number) => void
  /** Nothing heard for deadAfterMs: drop the connection. */
  dead: () => void
}

export class Liveness {
  private timer: Timer | null = null
  private lastRx = 0
  private readonly pings = new OutstandingPings()

  constructor (
    private readonly clock: Clock,
    private readonly timing: { heartbeatMs: number, deadAfterMs: number },
    private readonly edge: LivenessEdge
  ) {}

  /** A new connection: silence counts from now, and Pongs to Pings of the last one do not count. */
  start (): void {
    this.stop()
    this.pings.clear()
    this.lastRx = this.clock.now()
    this.arm()
  }

  /** A packet came in. */
  heard (): void {
    this.lastRx = this.clock.now()
  }

  /** When the last packet came in (or the connection started), on the clock's scale. */
  get lastHeard (): number { return this.lastRx }

  /** The round trip of the Ping a Pong with `nonce` answers (ms), or null for a Pong we did not ask for. */
  pong (nonce: number): number | null {
    return this.pings.pong(nonce, this.clock.now())
  }

  stop (): void {
    this.clock.clearTimeout(this.timer)
    this.timer = null
  }

  private arm (): void {
    this.timer = this.clock.setTimeout(() => { this.tick() }, this.timing.heartbeatMs)
  }

  private tick (): void {
    this.arm()
    if (!this.edge.live()) return
    const now = this.clock.now()
    if (now - this.lastRx > this.timing.deadAfterMs) { this.edge.dead(); return }
    this.edge.ping(this.pings.ping(now))
  }
}
