// Rate limits for log lines an outsider can cause (refused link
// connections): at most one line per key (a remote address) per period, the
// lines held back counted and told on the next one; and at most maxLines
// lines per period in all, so that many addresses cannot flood the log
// either. Pure: the caller gives the time.

/** One line per address and kind of refusal in this period. */
export const REFUSAL_LOG_PERIOD_MS = 10_000

export type Take = { log: true, suppressed: number } | { log: false }

export class LogLimit {
  private readonly seen = new Map<string, { at: number, suppressed: number }>()
  private windowStart = -Infinity
  private lines = 0
  /** Lines held back by the overall limit, told on the next line that goes out. */
  private heldBack = 0

  constructor (private readonly periodMs: number, private readonly maxLines = 20, private readonly maxKeys = 1024) {}

  /**
   * Whether a line about `key` may go out at `now` (ms); if so, how many
   * were held back since the last one (for this key, and by the overall
   * limit).
   */
  take (key: string, now: number): Take {
    const e = this.seen.get(key)
    if (e !== undefined && now - e.at < this.periodMs) {
      e.suppressed++
      return { log: false }
    }
    if (now - this.windowStart >= this.periodMs) {
      this.windowStart = now
      this.lines = 0
    }
    if (this.lines >= this.maxLines) {
      this.heldBack++
      return { log: false }
    }
    this.lines++
    const suppressed = (e?.suppressed ?? 0) + this.heldBack
    this.heldBack = 0
    // Re-inserted, so the map stays in the order of each key's last line: the oldest go first.
    this.seen.delete(key)
    this.seen.set(key, { at: now, suppressed: 0 })
    for (const k of this.seen.keys()) {
      if (this.seen.size <= this.maxKeys) break
      this.seen.delete(k)
    }
    return { log: true, suppressed }
  }
}
