// In-memory links for unit tests of the memory layer: no sockets, no codec.
//
// loopLink('o', 'w1') returns the two ends of one link. Each end is the
// FrameSender its holder sends on, named after the peer at the far end
// (as PeerLink is): the first end is held by 'o' and named 'w1', the
// second is held by 'w1' and named 'o'. Frames are delivered to the far
// end's handler asynchronously (setImmediate), strictly in the order sent,
// with frame and bulk deep-copied at send time so later mutation by the
// sender cannot leak across.

import type { Frame } from '../../daemon/src/link/codec.js'
import type { Delivery } from '../../daemon/src/link/session.js'
import type { DeferredFrames, FrameSender } from '../../daemon/src/mem/frame-sender.js'
import { DeferredQueue } from '../../daemon/src/link/deferred.js'

/** Receives a frame that arrived on `link` (the receiver's own end). Returns false if nothing took it. */
export type Handler = (link: LoopEnd, d: Delivery) => boolean

export interface LoopOptions {
  /** How many queued frames one turn delivers (default: all); a random count interleaves links. */
  perTurn?: () => number
  /** Whether the ends combine writes (FEATURE_COMPACT; default true). */
  combining?: boolean
}

export class LoopEnd implements FrameSender {
  /** The peer at the far end. */
  readonly name: string
  far!: LoopEnd
  /** What the holder of this end does with frames that arrive on it. */
  handler: Handler | null = null
  /** Frames that arrived here and that no handler took. */
  readonly unhandled: Frame[] = []
  /** Errors thrown by this end's handler. */
  readonly errors: unknown[] = []
  /** Frames sent on this end so far. */
  sentCount = 0
  readonly combining: boolean
  private readonly perTurn: () => number
  private queue: Delivery[] = []
  private scheduled = false
  private readonly deferrals = new DeferredQueue()

  constructor (name: string, opts: LoopOptions = {}) {
    this.name = name
    this.perTurn = opts.perTurn ?? (() => Infinity)
    this.combining = opts.combining ?? true
  }

  send (frame: Frame, bulk?: Uint8Array): void {
    this.deferrals.run()
    this.queue.push({ frame: structuredClone(frame), bulk: bulk === undefined ? undefined : Uint8Array.prototype.slice.call(bulk) })
    this.sentCount++
    this.schedule()
  }

  defer (source: DeferredFrames): void {
    this.deferrals.add(source)
    this.schedule()
  }

  hasRoom (): boolean { return true }

  materialize (): void { this.deferrals.run() }

  /** True when nothing sent on this end waits for delivery. */
  get idle (): boolean { return this.queue.length === 0 && !this.deferrals.pending }

  private schedule (): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => { this.pump() })
  }

  private pump (): void {
    this.scheduled = false
    this.deferrals.run()
    if (this.queue.length === 0) return
    const n = Math.max(1, Math.min(this.queue.length, this.perTurn()))
    const turn = this.queue.splice(0, n)
    const far = this.far
    for (const d of turn) {
      try {
        if (far.handler?.(far, d) !== true) far.unhandled.push(d.frame)
      } catch (err) {
        far.errors.push(err)
      }
    }
    if (this.queue.length > 0) this.schedule()
  }
}

/** The two ends of a link between `a` and `b`: [held by a (named b), held by b (named a)]. */
export function loopLink (a: string, b: string, opts: LoopOptions = {}): [LoopEnd, LoopEnd] {
  const atA = new LoopEnd(b, opts)
  const atB = new LoopEnd(a, opts)
  atA.far = atB
  atB.far = atA
  return [atA, atB]
}

export const nextTurn = async (): Promise<void> => { await new Promise<void>((resolve) => setImmediate(resolve)) }

/**
 * Waits until every end is idle for two turns in a row (so microtask
 * follow-ups, such as the completer's Ordered flush, have been sent and
 * delivered too). Throws if that never happens.
 */
export async function settle (ends: LoopEnd[], maxTurns = 1_000_000): Promise<void> {
  let quiet = 0
  for (let turn = 0; turn < maxTurns; turn++) {
    await nextTurn()
    if (ends.every((e) => e.idle)) {
      if (++quiet >= 2) return
    } else {
      quiet = 0
    }
  }
  throw new Error(`links still busy after ${maxTurns} turns`)
}

/** A FrameSender that only records what is sent on it, for feeding one side by hand. */
export class RecordingSender implements FrameSender {
  readonly name: string
  readonly sent: Delivery[] = []
  readonly combining: boolean
  private readonly deferrals = new DeferredQueue()
  constructor (name: string, combining = false) { this.name = name; this.combining = combining }
  send (frame: Frame, bulk?: Uint8Array): void {
    this.deferrals.run()
    this.sent.push({ frame: structuredClone(frame), bulk: bulk === undefined ? undefined : Uint8Array.prototype.slice.call(bulk) })
  }

  defer (source: DeferredFrames): void { this.deferrals.add(source) }
  /** Makes deferred frames now (a recorder has no turns of its own). */
  hasRoom (): boolean { return true }

  materialize (): void { this.deferrals.run() }
}

/** The daemon's own seeded generator (link/faults.ts), for the tests' random interleavings. */
export { mulberry32 } from '../../daemon/src/link/faults.js'
