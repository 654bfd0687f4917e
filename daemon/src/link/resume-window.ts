// How long a session waits for its peer to come back (resumeWindowMs). The
// window counts from the moment the connection was lost: a redial that
// fails closes its socket too, and must not start the window again, or a
// dialer whose peer is gone would wait to resume forever.

import type { Clock, Timer } from './clock.js'

export class ResumeWindow {
  private timer: Timer | null = null

  /** `expired` runs if no connection came back within `ms`. */
  constructor (private readonly clock: Clock, private readonly ms: number, private readonly expired: () => void) {}

  /** The connection was lost: opens the window, unless it is open already. */
  open (): void {
    if (this.timer !== null) return
    this.timer = this.clock.setTimeout(() => { this.timer = null; this.expired() }, this.ms)
  }

  /** A connection came back (or the session ended another way). */
  shut (): void {
    this.clock.clearTimeout(this.timer)
    this.timer = null
  }
}
