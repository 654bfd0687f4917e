// A progress line for long work (soclink test-device run, ntb perf, rpmsg
// perf, the demo's burst): drawn on stderr in place with \r, at most 10
// times a second, cleared at the end; nothing at all when stderr is not a
// terminal, so piped output stays what scripts and tests parse. The text
// is progress-format.ts's; this file holds the timer and the writes.

import { fitWidth, progressText, type ProgressUnit } from './progress-format.js'

export { BUFFERS, BYTES, MESSAGES, PINGS, type ProgressUnit } from './progress-format.js'

/** Where the line goes: process.stderr, or a stand-in with the same fields. */
export interface ProgressOut { isTTY?: boolean, columns?: number, write (text: string): unknown }

/** One poll's answer for track(): where a run is. */
export interface ProgressStep { label: string, total: number, unit: ProgressUnit, done: number }

export interface ProgressOptions {
  /** Between two draws; 100 ms: at most 10 a second. */
  intervalMs?: number
  now?: () => number
}

const CLEAR = '\r\x1b[K'

export class Progress {
  private timer: NodeJS.Timeout | null = null
  private drawn = false
  private label = ''
  private total = 0
  private unit!: ProgressUnit
  private start = 0
  private done = 0
  private sample: (() => number) | null = null
  private readonly intervalMs: number
  private readonly now: () => number

  constructor (private readonly out: ProgressOut = process.stderr, opts: ProgressOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 100
    this.now = opts.now ?? (() => performance.now())
  }

  /** Whether a line is drawn at all: only on a terminal. */
  get shown (): boolean { return this.out.isTTY === true }

  /**
   * Starts a line (ending the one before): `total` of `unit`; the count is
   * `sample()` at each draw, or what update() last gave.
   */
  begin (label: string, total: number, unit: ProgressUnit, sample?: () => number): void {
    if (!this.shown) return
    this.end()
    this.label = label
    this.total = total
    this.unit = unit
    this.start = this.now()
    this.done = 0
    this.sample = sample ?? null
    this.timer = setInterval(() => { this.draw() }, this.intervalMs)
    // A line must not keep a finished command alive.
    this.timer.unref()
  }

  update (done: number): void { this.done = done }

  /** Stops drawing and clears the line. */
  end (): void {
    if (this.timer === null) return
    clearInterval(this.timer)
    this.timer = null
    if (this.drawn) this.out.write(CLEAR)
    this.drawn = false
  }

  /**
   * Runs `work` with a line drawn from what `poll` fetches (a daemon's
   * counters, say) every `pollMs`: a step with another label starts a new
   * line (a run's next phase). No polling when no line is shown. A poll that
   * fails or answers null keeps the line as it was: the line is a view,
   * `work` says how the run went.
   */
  async track<T> (work: Promise<T>, poll: () => Promise<ProgressStep | null>, pollMs = 250): Promise<T> {
    if (!this.shown) return await work
    let polling = true
    const loop = async (): Promise<void> => {
      while (polling) {
        const step = await poll().catch(() => null)
        if (step !== null && polling) {
          if (this.timer === null || step.label !== this.label) this.begin(step.label, step.total, step.unit)
          this.update(step.done)
        }
        await new Promise((resolve) => { setTimeout(resolve, pollMs).unref() })
      }
    }
    void loop()
    try {
      return await work
    } finally {
      polling = false
      this.end()
    }
  }

  private draw (): void {
    const done = this.sample === null ? this.done : this.sample()
    const seconds = (this.now() - this.start) / 1000
    const text = progressText({ label: this.label, done, total: this.total, seconds, unit: this.unit })
    this.out.write(CLEAR + fitWidth(text, this.out.columns))
    this.drawn = true
  }
}
