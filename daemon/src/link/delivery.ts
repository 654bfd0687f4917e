// Which writes the far daemon has and which it may not: a writer notes the
// link sequence number that carries its write (a DeliveryMark); the write is
// delivered once the peer acknowledges that seq, and lost if the session
// ends before (a session that cannot resume: the replay buffer goes with it).
// Pure: no sockets, no timers. PeerLink hands out marks and reports each
// session's end (its 'lost' event); writers that must tell someone (the
// rpmsg gateway, the REST edge) keep a DeliveryLedger.

/** What a mark needs of its session: the peer's cumulative acknowledgement. */
export interface AckedSession {
  readonly acked: number
}

/**
 * The seq of the last frame that carries a write, in one session. Writes
 * combined and not yet made into frames share a mark whose seq is set when
 * they are (until then, Infinity: not delivered).
 */
export interface DeliveryMark {
  readonly session: AckedSession
  seq: number
}

/** Whether the far daemon has acknowledged every frame up to the mark. */
export function delivered (mark: DeliveryMark): boolean {
  return mark.seq <= mark.session.acked
}

interface Entry { mark: DeliveryMark, count: number, bytes: number }

/** Writes noted under their marks, oldest first, until they are delivered or their session ends. */
export class DeliveryLedger {
  private entries: Entry[] = []
  private head = 0

  /** Writes noted and not yet known delivered or lost. */
  get size (): number { return this.entries.length - this.head }

  /** Notes one write of `bytes` carried up to `mark`. */
  note (mark: DeliveryMark, bytes = 0): void {
    this.prune()
    const last = this.entries[this.entries.length - 1]
    if (last !== undefined && this.head < this.entries.length && last.mark === mark) {
      last.count++
      last.bytes += bytes
      return
    }
    this.entries.push({ mark, count: 1, bytes })
  }

  /**
   * The session ended: its writes the peer had not acknowledged are lost.
   * Returns how many (and their bytes) and forgets every write of that
   * session.
   */
  lost (session: AckedSession): { count: number, bytes: number } {
    let count = 0
    let bytes = 0
    const keep: Entry[] = []
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i]!
      if (e.mark.session !== session) keep.push(e)
      else if (!delivered(e.mark)) { count += e.count; bytes += e.bytes }
    }
    this.entries = keep
    this.head = 0
    return { count, bytes }
  }

  /** Forgets delivered writes at the front. */
  private prune (): void {
    while (this.head < this.entries.length && delivered(this.entries[this.head]!.mark)) this.head++
    if (this.head === this.entries.length) {
      this.entries = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head)
      this.head = 0
    }
  }
}
