// The cumulative answer to version 2's SENDs (proto/rpmsg.proto, SENT): the
// highest sequence number up to which every SEND has been answered. Most
// SENDs are answered while their batch is read (rpmsg_trysend(), or an
// error); one that waits for a buffer holds the mark back until it is
// answered, and those may be answered out of order (each has its own
// timeout). Pure bookkeeping: no sockets, no timers.

export class SendWatermark {
  /** The sequence number of the last SEND that arrived (the first is 1). */
  private last = 0
  /** SENDs that wait for a buffer, in arrival order, and whether each has been answered since. */
  private readonly waiting = new Map<number, boolean>()

  /** A SEND arrived: its sequence number. */
  arrived (): number { return ++this.last }

  /** The SEND `seq` waits for a buffer: the mark stays below it until done(seq). */
  wait (seq: number): void { this.waiting.set(seq, false) }

  /** The waiting SEND `seq` was answered (in a buffer, or failed). */
  done (seq: number): void {
    if (!this.waiting.has(seq)) return
    this.waiting.set(seq, true)
    for (const [s, answered] of this.waiting) {
      if (!answered) break
      this.waiting.delete(s)
    }
  }

  /** Every SEND up to this one has been answered. */
  upTo (): number {
    for (const s of this.waiting.keys()) return s - 1
    return this.last
  }

  /** SENDs waiting for a buffer. */
  get pending (): number { return this.waiting.size }
}
