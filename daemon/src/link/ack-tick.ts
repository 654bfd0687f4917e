// When bare acks go: acks ride on every packet sent; a bare one goes after
// ackEvery frames, or from a tick that runs only while acks are owed (one
// timer for a busy period, not one per packet).

import type { Clock, Timer } from './clock.js'

export class AckTick {
  private timer: Timer | null = null

  /** `due` sends what is owed and says whether acks (or frames) are still owed after it. */
  constructor (private readonly clock: Clock, private readonly periodMs: number, private readonly due: () => boolean) {}

  start (): void {
    if (this.timer === null) this.arm()
  }

  stop (): void {
    this.clock.clearTimeout(this.timer)
    this.timer = null
  }

  private arm (): void {
    this.timer = this.clock.setTimeout(() => {
      if (this.due()) this.arm()
      else this.timer = null
    }, this.periodMs)
  }
}
