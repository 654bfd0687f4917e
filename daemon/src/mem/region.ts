// A Region: bytes this daemon owns (rc system memory, an endpoint's BAR, NTB
// scratchpads). Its owner orders every write to it: local writes and writes
// that arrive through peers' windows both go through write(), and each is
// passed, in that order, to the region's observers (the ports that stream it
// to subscribed replicas).

import { PagedMemory } from './paged-memory.js'
import type { Range } from './dirty-ranges.js'

/**
 * Told of every write, after it is applied: where, how long, and the remote
 * window it came through (`origin`), if any. The bytes are in the region.
 */
export type WriteObserver = (offset: number, length: number, origin: unknown) => void

export class Region extends PagedMemory {
  readonly id: number
  readonly name: string
  /** Bumped on every write; lets readers tell whether anything changed. */
  writes = 0
  /** Bytes of those writes. */
  writeBytes = 0
  private readonly observers = new Set<WriteObserver>()
  /** Writes applied and not yet reported, oldest first (parallel arrays: no object per write). */
  private readonly reportOffsets: number[] = []
  private readonly reportLengths: number[] = []
  private readonly reportOrigins: unknown[] = []
  private reporting = false
  private afterReporting: Array<() => void> = []
  /** Ranges where a peer's write has side effects (registers), sorted. */
  private readonly registerRanges: Range[] = []

  constructor (id: number, name: string, size: number) {
    super(size)
    this.id = id
    this.name = name
  }

  protected get what (): string { return `region ${this.name}` }

  write (offset: number, bytes: Uint8Array): void {
    this.writeFrom(offset, bytes, null)
  }

  /** A write that arrived through a peer's window (`origin`), in the owner's order. */
  writeFrom (offset: number, bytes: Uint8Array, origin: unknown): void {
    this.check(offset, bytes.length)
    this.store(offset, bytes)
    this.writes++
    this.writeBytes += bytes.length
    this.report(offset, bytes.length, origin)
  }

  /**
   * One write of several ranges (a combined Write): every range is applied
   * before any is reported, so an observer that reacts to one sees them all.
   * `bulk` holds the ranges' bytes in order. Checks every range first.
   */
  writeRanges (ranges: readonly Range[], bulk: Uint8Array, origin: unknown): void {
    for (const r of ranges) this.check(r.offset, r.length)
    let at = 0
    for (const r of ranges) {
      this.store(r.offset, bulk.subarray(at, at + r.length))
      at += r.length
    }
    this.writes++
    this.writeBytes += at
    for (const r of ranges) this.queueReport(r.offset, r.length, origin)
    this.deliverReports()
  }

  private report (offset: number, length: number, origin: unknown): void {
    this.queueReport(offset, length, origin)
    this.deliverReports()
  }

  private queueReport (offset: number, length: number, origin: unknown): void {
    this.reportOffsets.push(offset)
    this.reportLengths.push(length)
    this.reportOrigins.push(origin)
  }

  // A write an observer makes in reaction (a register's side effect) is
  // applied at once but reported after the write that caused it has
  // reached every observer, so replicas see the two in the owner's order.
  private deliverReports (): void {
    if (this.reporting) return
    this.reporting = true
    try {
      for (let i = 0; i < this.reportOffsets.length; i++) {
        const offset = this.reportOffsets[i]!
        const length = this.reportLengths[i]!
        const origin = this.reportOrigins[i]
        for (const o of this.observers) o(offset, length, origin)
      }
    } finally {
      this.reportOffsets.length = 0
      this.reportLengths.length = 0
      this.reportOrigins.length = 0
      this.reporting = false
      // What waited for these reports goes now, even if an observer threw:
      // the writes stand, and a later write must not carry it.
      if (this.afterReporting.length > 0) {
        const after = this.afterReporting
        this.afterReporting = []
        for (const fn of after) fn()
      }
    }
  }

  /**
   * Runs fn once every write made so far has reached the observers: at once,
   * or, inside an observer (a register's side effect), when the write that
   * caused it has been reported. An interrupt raised in reaction to a
   * register write goes this way, so that it never overtakes the status it
   * announces on the link.
   */
  afterReports (fn: () => void): void {
    if (this.reporting) this.afterReporting.push(fn)
    else fn()
  }

  /** Why a peer's write to [offset, offset + length) would be refused now (a region with no backing yet), or null. */
  refusal (_offset: number, _length: number): string | null { return null }

  /**
   * Declares [offset, offset + length) registers: a peer's write there has
   * side effects, so windows never combine writes to it (each is sent alone,
   * in order; proto/link.proto, Subscribed.registers).
   */
  markRegisters (offset: number, length: number): void {
    this.check(offset, length)
    this.registerRanges.push({ offset, length })
    this.registerRanges.sort((a, b) => a.offset - b.offset)
  }

  /** The register ranges that meet [offset, offset + size), relative to `offset`. */
  registersIn (offset: number, size: number): Range[] {
    const out: Range[] = []
    for (const r of this.registerRanges) {
      const from = Math.max(r.offset, offset)
      const to = Math.min(r.offset + r.length, offset + size)
      if (from < to) out.push({ offset: from - offset, length: to - from })
    }
    return out
  }

  observe (o: WriteObserver): () => void {
    this.observers.add(o)
    return () => { this.observers.delete(o) }
  }
}
