// The Pings a link has sent and not yet seen answered, so that only a Pong
// answering one of our own Pings sets the RTT: a peer that sends Pongs
// nobody asked for (or echoes an old nonce) cannot make the link look slow
// or fast. Pure: the caller passes the clock.

/** Pings in flight at once: one per heartbeat; past this the oldest are taken as lost. */
const OUTSTANDING = 8

export class OutstandingPings {
  /** nonce → when its Ping was sent (ms), oldest first. */
  private readonly sent = new Map<number, number>()
  private last = 0

  /** The nonce of a new Ping sent at `now` (ms): unique and increasing, microseconds of the clock. */
  ping (now: number): number {
    const nonce = Math.max(this.last + 1, Math.round(now * 1000))
    this.last = nonce
    this.sent.set(nonce, now)
    if (this.sent.size > OUTSTANDING) this.sent.delete(this.sent.keys().next().value!)
    return nonce
  }

  /**
   * The round trip of the Ping a Pong with `nonce` answers, received at
   * `now`; null for a Pong that answers none of ours. Older Pings still
   * unanswered are taken as lost.
   */
  pong (nonce: number, now: number): number | null {
    const at = this.sent.get(nonce)
    if (at === undefined) return null
    for (const n of this.sent.keys()) {
      this.sent.delete(n)
      if (n === nonce) break
    }
    return Math.max(0, now - at)
  }

  /** A new connection: answers to Pings sent on the old one are not taken. */
  clear (): void {
    this.sent.clear()
  }
}
