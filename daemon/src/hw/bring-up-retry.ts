// Bring-up that failed because the other side did not answer in time
// (enumeration reads, virtio probe commands, NTB commands: a peer stopped
// for a while, or slow on a loaded machine) is tried again, with backoff,
// for as long as the link is up, as a PCIe port retries configuration
// requests that completed with CRS (PCIe r5.0 2.3.1, pci_bus_wait_crs() in
// drivers/pci/probe.c) instead of leaving the function failed for good.
// Other failures (a malformed header, features refused) are not retried:
// trying again would find the same answer.

import { SoclinkError } from '../errors.js'

/** First retry after this long; each next waits twice as long, up to BRING_UP_RETRY_MAX_MS. */
export const BRING_UP_RETRY_FIRST_MS = 500
export const BRING_UP_RETRY_MAX_MS = 30_000

/** Whether a bring-up failure is worth another try: the other side did not answer in time. */
export function retriable (err: unknown): boolean {
  return err instanceof SoclinkError && err.code === 'ERR_TIMEOUT'
}

/** One thing being brought up: at most one retry pending, its delay doubling after each failure. */
export class BringUpRetry {
  /** Failures in a row since the last success. */
  failures = 0
  private timer: NodeJS.Timeout | null = null
  private delayMs: number

  constructor (private readonly firstMs = BRING_UP_RETRY_FIRST_MS, private readonly maxMs = BRING_UP_RETRY_MAX_MS) {
    this.delayMs = firstMs
  }

  /** A retry is scheduled. */
  get pending (): boolean { return this.timer !== null }

  /** Runs `again` after the next delay; returns that delay. */
  schedule (again: () => void): number {
    this.cancel()
    const delay = this.delayMs
    this.delayMs = Math.min(this.maxMs, this.delayMs * 2)
    this.failures++
    this.timer = setTimeout(() => { this.timer = null; again() }, delay)
    // A pending retry never holds a stopping daemon open.
    this.timer.unref()
    return delay
  }

  cancel (): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }

  /** Brought up, or a new session: the next failure starts from the first delay again. */
  reset (): void {
    this.cancel()
    this.failures = 0
    this.delayMs = this.firstMs
  }
}
