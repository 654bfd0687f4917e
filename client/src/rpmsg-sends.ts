// The client's bookkeeping of version 2's sends (proto/rpmsg.proto,
// "Version 2: batches"): each SEND's sequence number, the send() calls
// waiting for their answer, and the flush() calls waiting for a cumulative
// SENT. A posted send (RpmsgEndpoint.post()) costs a number here, nothing
// more: no promise, no entry. Pure: no sockets, no timers.

import { ApiError } from './errors.js'

interface Waiter { resolve: () => void, reject: (err: Error) => void }

/** Where posted sends' failures are kept until a flush() takes them: an endpoint, or the whole connection. */
export class PostFailures {
  /** Posted sends that failed, ever. */
  count = 0
  private first: { seq: number, err: ApiError } | null = null

  add (seq: number, err: ApiError): void {
    this.count++
    this.first ??= { seq, err }
  }

  /** The first failure of a send up to `seq` not yet taken, taken (later ones up to `seq` are dropped: they were counted and emitted). */
  take (seq: number): ApiError | null {
    const f = this.first
    if (f === null || f.seq > seq) return null
    this.first = null
    return f.err
  }
}

interface FlushWaiter extends Waiter { upTo: number, failures: PostFailures[] }

export class SendTracker {
  /** The last sequence number given out (the first SEND is 1). */
  private last = 0
  /** Every SEND up to this one has been answered. */
  private answered = 0
  private readonly waiters = new Map<number, Waiter>()
  private flushes: FlushWaiter[] = []
  /** Version 1: sends answered before one before them. */
  private readonly early = new Set<number>()
  /** Why nothing more will be answered, once the connection closed. */
  private closedBy: ApiError | null = null

  /** The next SEND's sequence number. */
  next (): number { return ++this.last }

  /** The last sequence number given out. */
  get latest (): number { return this.last }

  /** Every SEND up to this one has been answered. */
  get answeredUpTo (): number { return this.answered }

  /** A promise for the answer to SEND `seq` (send(), trySend()). */
  async wait (seq: number): Promise<void> {
    await new Promise<void>((resolve, reject) => { this.waiters.set(seq, { resolve, reject }) })
  }

  /** The full sequence number of a 32-bit one from the wire: the first above what was answered. */
  widen (seq32: number): number { return this.answered + ((seq32 - this.answered) >>> 0) }

  /**
   * SEND `seq` failed: true if a send() waited for it (now rejected);
   * false for a posted one, whose failure the caller records.
   */
  failed (seq: number, err: ApiError): boolean {
    const w = this.waiters.get(seq)
    if (w === undefined) return false
    this.waiters.delete(seq)
    w.reject(err)
    return true
  }

  /**
   * Version 1 answers each Send on its own (Sent, or Error by request_id,
   * which is the sequence number there), not always in order: send `seq`
   * is answered; the mark moves over every answered one in a row.
   */
  answeredOne (seq: number): void {
    const w = this.waiters.get(seq)
    if (w !== undefined) { this.waiters.delete(seq); w.resolve() }
    if (seq !== this.answered + 1) { this.early.add(seq); return }
    let mark = seq
    while (this.early.delete(mark + 1)) mark++
    this.sent(mark)
  }

  /** SENT: every SEND up to `seq` is answered; each waiting send() up to it resolves, and each flush() up to it settles. */
  sent (seq: number): void {
    if (seq <= this.answered) return
    this.answered = seq
    // Insertion order is sequence order.
    for (const [s, w] of this.waiters) {
      if (s > seq) break
      this.waiters.delete(s)
      w.resolve()
    }
    if (this.flushes.length === 0 || this.flushes[0]!.upTo > seq) return
    const due = this.flushes.filter((f) => f.upTo <= seq)
    this.flushes = this.flushes.filter((f) => f.upTo > seq)
    for (const f of due) settle(f)
  }

  /** Resolves once every SEND up to `upTo` is answered; rejects with the first failure among them kept in `failures`. */
  async flush (upTo: number, failures: PostFailures[]): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const f = { upTo, failures, resolve, reject }
      if (upTo <= this.answered) settle(f)
      else if (this.closedBy !== null) reject(this.closedBy)
      else this.flushes.push(f)
    })
  }

  /** The connection closed: everything still waiting fails with `err`. */
  close (err: ApiError): void {
    this.closedBy = err
    for (const w of this.waiters.values()) w.reject(err)
    this.waiters.clear()
    for (const f of this.flushes.splice(0)) f.reject(err)
  }
}

function settle (f: FlushWaiter): void {
  let err: ApiError | null = null
  for (const failures of f.failures) {
    const e = failures.take(f.upTo)
    err ??= e
  }
  if (err === null) f.resolve()
  else f.reject(err)
}
