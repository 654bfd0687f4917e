// A Clock (daemon/src/link/clock.ts) that moves only when the test moves it:
// advance(ms) runs every call due by then, in time order (ties in the order
// they were scheduled), setting now() to each one's time as it runs. Ends of
// turns (setImmediate) and in-memory deliveries are calls due at once, so
// run() (advance(0)) lets everything settle that needs no time to pass.

import type { Clock, Timer } from '../../daemon/src/link/clock.js'

interface Call { at: number, seq: number, fn: () => void }

/** More calls than this in one advance() is a loop that never settles. */
const MAX_CALLS = 1_000_000

export class ManualClock implements Clock {
  private t = 0
  private seq = 0
  private readonly calls = new Set<Call>()

  readonly now = (): number => this.t

  readonly setTimeout = (fn: () => void, ms: number): Timer => {
    const call: Call = { at: this.t + Math.max(0, ms), seq: this.seq++, fn }
    this.calls.add(call)
    return call
  }

  readonly clearTimeout = (timer: Timer | null): void => {
    if (timer !== null) this.calls.delete(timer as Call)
  }

  readonly setImmediate = (fn: () => void): void => { this.setTimeout(fn, 0) }

  /** Calls scheduled and not yet run. */
  get pending (): number { return this.calls.size }

  /** Moves time on by `ms`, running every call due by then. */
  advance (ms: number): void {
    const end = this.t + ms
    for (let n = 0; ; n++) {
      if (n > MAX_CALLS) throw new Error(`ManualClock: more than ${MAX_CALLS} calls in one advance(); something reschedules itself at once`)
      const next = this.next(end)
      if (next === null) break
      this.calls.delete(next)
      this.t = next.at
      next.fn()
    }
    this.t = end
  }

  /** Runs what is due now, and what that schedules at once. */
  run (): void { this.advance(0) }

  /** Advances in `stepMs` steps until `done()` holds, at most `limitMs`; false if it never did. */
  until (done: () => boolean, limitMs: number, stepMs = 1): boolean {
    this.run()
    for (let waited = 0; !done(); waited += stepMs) {
      if (waited >= limitMs) return false
      this.advance(stepMs)
    }
    return true
  }

  private next (end: number): Call | null {
    let best: Call | null = null
    for (const c of this.calls) {
      if (c.at > end) continue
      if (best === null || c.at < best.at || (c.at === best.at && c.seq < best.seq)) best = c
    }
    return best
  }
}
