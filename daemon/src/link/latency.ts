// A latency histogram the hot paths fill with a few additions and no
// allocation: fixed upper bounds, a count per bucket, the sum and the count,
// as a Prometheus histogram reports them (cumulative buckets are made when
// read, not when observed). Pure: the metrics edge (api/metrics/) reads it
// at scrape time; nothing here knows about Prometheus.

export class LatencyHistogram {
  /** Upper bounds in seconds, ascending; a value above the last counts only in +Inf. */
  readonly bounds: readonly number[]
  /** Observations per bucket: counts[i] for bounds[i-1] < v <= bounds[i], counts[bounds.length] above the last. */
  private readonly counts: Float64Array
  count = 0
  /** Seconds, all observations together. */
  sum = 0

  constructor (bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new Error('histogram bounds must ascend')
    }
    this.bounds = bounds
    this.counts = new Float64Array(bounds.length + 1)
  }

  observe (seconds: number): void {
    const b = this.bounds
    let i = 0
    while (i < b.length && seconds > b[i]!) i++
    this.counts[i]!++
    this.count++
    this.sum += seconds
  }

  /** Cumulative counts per bound (observations <= bounds[i]), then the +Inf bucket (= count). */
  cumulative (): number[] {
    const out: number[] = []
    let n = 0
    for (const c of this.counts) { n += c; out.push(n) }
    return out
  }
}

/** Bounds for what happens inside one daemon in one event-loop turn or a few: 10 us to 1 s. */
export const TURN_BOUNDS: readonly number[] = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1
]

/** Bounds for a wait that may last up to a send timeout: 0 (no wait) to 15 s. */
export const WAIT_BOUNDS: readonly number[] = [
  0, 0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15
]
