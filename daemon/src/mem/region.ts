// A Region: bytes this daemon owns (rc system memory, an endpoint's BAR, NTB
// scratchpads). Its owner orders every write to it: local writes and writes
// that arrive through peers' windows both go through write(), and each is
// passed, in that order, to the region's observers (the ports that stream it
// to subscribed replicas).

import { PagedMemory } from './paged-memory.js'

/** Told of every write, after it is applied; `origin` is the remote window it came through, if any. */
export type WriteObserver = (offset: number, bytes: Uint8Array, origin: unknown) => void

export class Region extends PagedMemory {
  readonly id: number
  readonly name: string
  /** Bumped on every write; lets readers tell whether anything changed. */
  writes = 0
  private readonly observers = new Set<WriteObserver>()
  private reports: Array<{ offset: number, bytes: Uint8Array, origin: unknown }> = []
  private reporting = false
  private afterReporting: Array<() => void> = []

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
    // A write an observer makes in reaction (a register's side effect) is
    // applied at once but reported after the write that caused it has
    // reached every observer, so replicas see the two in the owner's order.
    this.reports.push({ offset, bytes, origin })
    if (this.reporting) return
    this.reporting = true
    try {
      for (let i = 0; i < this.reports.length; i++) {
        const r = this.reports[i]!
        for (const o of this.observers) o(r.offset, r.bytes, r.origin)
      }
    } finally {
      this.reports.length = 0
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

  observe (o: WriteObserver): () => void {
    this.observers.add(o)
    return () => { this.observers.delete(o) }
  }
}
