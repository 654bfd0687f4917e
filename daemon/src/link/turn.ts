// When a link's queued frames go to the socket: together at the end of the
// event-loop turn (one packet for the turn's frames), except that the turn's
// first notification goes at once, with everything queued before it, so
// that latency does not pay for throughput.

import type { Frame } from './codec.js'
import { realClock, type Clock } from './clock.js'

/**
 * A frame someone waits on: a doorbell, a read or its completion, or (with
 * combining, where only register writes travel as single-range Writes) a
 * write to registers, which is how kicks travel.
 */
export function isNotification (f: Frame, combining: boolean): boolean {
  return f.doorbell != null || f.read != null || f.readCompletion != null ||
    (f.write != null && combining && (f.write.ranges == null || f.write.ranges.length === 0))
}

export class TurnFlush {
  private scheduled = false
  /** A notification went out ahead of the end-of-turn flush in this turn. */
  private urgentSent = false

  /** `transmit` sends everything queued now; `endOfTurn` is true for the flush at the turn's end. */
  constructor (private readonly transmit: (endOfTurn: boolean) => void, private readonly clock: Clock = realClock) {}

  /** A frame was queued: sent at once if it is the turn's first notification, else at the turn's end. */
  queued (notification: boolean): void {
    if (notification && !this.urgentSent) {
      this.urgentSent = true
      this.transmit(false)
    }
    this.schedule()
  }

  /** Sends what is queued at the end of this turn. */
  schedule (): void {
    if (this.scheduled) return
    this.scheduled = true
    this.clock.setImmediate(this.endOfTurn)
  }

  private readonly endOfTurn = (): void => {
    this.scheduled = false
    this.urgentSent = false
    this.transmit(true)
  }
}
