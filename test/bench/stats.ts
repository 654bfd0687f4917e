// Round trips recorded one by one, so every row can give p50 and p99
// rather than an average that hides the tail.

/** Microseconds, one entry per round trip. */
export class Samples {
  private data: Float64Array
  private n = 0

  constructor (capacity = 1024) {
    this.data = new Float64Array(Math.max(1, capacity))
  }

  get count (): number { return this.n }

  add (us: number): void {
    if (this.n === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2)
      bigger.set(this.data)
      this.data = bigger
    }
    this.data[this.n++] = us
  }

  /** Times `fn` (awaited) and records it. */
  async time<T> (fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now()
    const v = await fn()
    this.add((performance.now() - t0) * 1000)
    return v
  }

  summary (): RoundTrips {
    const sorted = this.data.slice(0, this.n).sort()
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), count: this.n }
  }
}

export interface RoundTrips { p50: number, p99: number, count: number }

/** Nearest-rank percentile of ascending `sorted` (NaN when empty). */
export function percentile (sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil(p / 100 * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

/** Items per second for `count` items done between t0 and now (performance.now() milliseconds). */
export function ratePerSecond (count: number, t0: number, t1 = performance.now()): number {
  return count / ((t1 - t0) / 1000)
}
