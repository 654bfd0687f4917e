// Write combining's queue on one link (proto/link.proto, "Write combining"):
// the sources whose frames are made when they are sent, not when their
// writes happened, kept in the order they first wrote since the last
// ordering point. Pure: the link decides when an ordering point is.

/**
 * Frames made when they are sent: a window's or a region's combined writes.
 * The link asks for them at its next ordering point.
 */
export interface DeferredFrames {
  /** Sends the frames now, through the link's send(); nothing if there is nothing to send. */
  emitFrames (): void
}

export class DeferredQueue {
  private readonly sources: DeferredFrames[] = []
  private busy = false

  get pending (): boolean { return this.sources.length > 0 }
  /** True while run() makes frames (a source's own send asks for an ordering point then). */
  get running (): boolean { return this.busy }

  /**
   * Adds a source. A source that wrote before another one and writes again
   * makes an ordering point first (run()), so that frames keep the order of
   * the writes across sources.
   */
  add (source: DeferredFrames): void {
    const d = this.sources
    if (d.length > 0 && d[d.length - 1] === source) return
    if (d.includes(source)) this.run()
    d.push(source)
  }

  /**
   * Makes every source's frames, in order. A source's sends do not run the
   * queue again; `onError` decides what a failing source means (it may
   * rethrow); the queue is empty afterwards either way.
   */
  run (onError?: (err: unknown) => void): void {
    if (this.busy || this.sources.length === 0) return
    this.busy = true
    const d = this.sources
    try {
      for (let i = 0; i < d.length; i++) {
        if (onError === undefined) d[i]!.emitFrames()
        else {
          try { d[i]!.emitFrames() } catch (err) { onError(err) }
        }
      }
    } finally {
      d.length = 0
      this.busy = false
    }
  }

  /** Forgets every source (the session under them ended). */
  clear (): void {
    this.sources.length = 0
  }
}
