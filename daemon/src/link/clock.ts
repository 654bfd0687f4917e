// The time a link runs on: heartbeats, dead-after, the resume window, redial
// backoff, the handshake timeout, the ack tick, the fault gate's lanes and
// the end of the event-loop turn all take it from here, so that a test can
// hand a link a clock it advances itself (test/support/manual-clock.ts) and
// run reconnect, resume and heartbeat in milliseconds, without real time.

/** A scheduled call, as the clock that scheduled it knows it. */
export type Timer = object

export interface Clock {
  /** Milliseconds on a monotonic scale: only differences mean anything. */
  now: () => number
  /** Runs `fn` once, `ms` from now. */
  setTimeout: (fn: () => void, ms: number) => Timer
  /** Cancels a call not yet run (null: nothing to cancel). */
  clearTimeout: (timer: Timer | null) => void
  /** Runs `fn` at the end of this event-loop turn, after I/O already queued (Node's setImmediate). */
  setImmediate: (fn: () => void) => void
}

/** Node's timers, and performance.now() (monotonic, sub-millisecond: ping round trips on loopback are fractions of a millisecond). */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => { if (timer !== null) clearTimeout(timer as NodeJS.Timeout) },
  setImmediate: (fn) => { setImmediate(fn) }
}
