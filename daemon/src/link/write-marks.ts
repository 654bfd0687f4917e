// What a link tells its writers about delivery (delivery.ts): the mark of
// everything queued so far, and the edge writes (REST) still unacknowledged,
// so that a session's end can count the ones it lost. Combined writes
// (deferred.ts) not yet made into frames share one mark, whose seq is set
// when they are. Pure: the link passes its session.

import type { LinkSession } from './session.js'
import { DeliveryLedger, type DeliveryMark } from './delivery.js'
import { DeferredQueue, type DeferredFrames } from './deferred.js'

export class WriteMarks {
  /** Sources of combined writes, in the order they first wrote since the last ordering point. */
  private readonly deferred = new DeferredQueue()
  /** The mark of combined writes not yet made into frames (set when they are). */
  private pendingMark: DeliveryMark | null = null
  private lastMark: DeliveryMark | null = null
  /** Edge writes (noteWrite) not yet acknowledged, for counting the lost ones. */
  private readonly writes = new DeliveryLedger()

  /** Whether combined writes wait to be made into frames. */
  get pending (): boolean { return this.deferred.pending }

  /** The mark of everything queued so far on `s` (null without a session). */
  mark (s: LinkSession | null): DeliveryMark | null {
    if (s === null) return null
    if (this.deferred.pending) {
      this.pendingMark ??= { session: s, seq: Infinity }
      return this.pendingMark
    }
    const last = this.lastMark
    if (last !== null && last.session === s && last.seq === s.lastSent) return last
    this.lastMark = { session: s, seq: s.lastSent }
    return this.lastMark
  }

  /** Notes an edge write of `bytes` just queued on `s`. */
  noteWrite (s: LinkSession | null, bytes: number): void {
    const m = this.mark(s)
    if (m !== null) this.writes.note(m, bytes)
  }

  /** Adds a source of combined writes. */
  defer (source: DeferredFrames): void {
    this.deferred.add(source)
  }

  /**
   * Makes the frames of every deferred source, in order, on `s`: `failed`
   * takes a source's error. A source's own send, inside the run, changes
   * nothing: the run itself finishes the job.
   */
  materialize (s: LinkSession | null, failed: (err: unknown) => void): void {
    if (this.deferred.running) return
    this.deferred.run(failed)
    const m = this.pendingMark
    if (m !== null && s !== null && m.session === s) m.seq = s.lastSent
    this.pendingMark = null
  }

  /** Session `s` ended: the edge writes it lost (count and bytes). */
  ended (s: LinkSession): { count: number, bytes: number } {
    this.deferred.clear()
    this.pendingMark = null
    this.lastMark = null
    return this.writes.lost(s)
  }
}
