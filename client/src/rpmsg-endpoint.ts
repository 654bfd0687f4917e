// One endpoint of an RpmsgClient (rpmsg-client.ts): a local address on the
// daemon's bus, its messages as an async iterator, and its sends. send() and
// trySend() resolve once the message is in a buffer the other side can see;
// post() sends without a promise (for throughput), its failures counted
// (postFailures), emitted ('post-error') and reported by the next flush().

import { EventEmitter } from 'node:events'
import { ApiError } from './errors.js'
import { PostFailures } from './rpmsg-sends.js'

/** RPMSG_ADDR_ANY: let the daemon choose the local address. */
export const RPMSG_ADDR_ANY = 0xffffffff

/** rpmsg_send()'s wait for a free buffer unless told otherwise. */
export const DEFAULT_SEND_TIMEOUT_MS = 15_000

export interface RpmsgMessage {
  /** The sender's (remote) address. */
  src: number
  payload: Uint8Array
}

/** What an endpoint needs of its client (RpmsgClient). */
export interface EndpointOwner {
  /** Sends one message; with `answer`, a promise for its answer, else (posted) the sequence number whose failure the endpoint hears of by postFailed(). */
  sendMessage (ept: RpmsgEndpoint, dst: number, payload: Uint8Array, timeoutMs: number, answer: true): Promise<void>
  sendMessage (ept: RpmsgEndpoint, dst: number, payload: Uint8Array, timeoutMs: number, answer: false): number
  /** Resolves once every send up to `seq` is answered; rejects with the first failure kept in `failures`. */
  flushUpTo (seq: number, failures: PostFailures[]): Promise<void>
  destroyEndpoint (ept: RpmsgEndpoint): void
}

export interface SendOptions {
  /** How long the daemon waits for a free buffer (rpmsg_send()); default 15000 ms. */
  timeoutMs?: number
}

/** What an RpmsgEndpoint emits. */
export interface RpmsgEndpointEvents {
  /** The address service named the remote address (again, after a rebinding). */
  bound: [remote: number]
  /** The remote address was taken back (AS FREE, a reset, the bus going). */
  unbound: []
  /** The daemon's rpmsg bus went away; sends fail with ERR_RPMSG_DETACHED until 'attached'. */
  detached: [reason: string]
  /** The daemon made the endpoint again on a new bus, at the same address. */
  attached: []
  /** The largest payload one message carries changed (maxPayload is the new value). */
  'max-payload': [maxPayload: number]
  /** The endpoint is gone for good (the daemon could not make it again, or it was destroyed). */
  destroyed: [reason: string]
  /** Messages for it are being dropped because this client reads too slowly (once per episode). */
  overflow: [err: ApiError]
  /** A posted message (post()) failed: not sent. */
  'post-error': [err: ApiError]
}

/** One endpoint (a local address) owned by an RpmsgClient. */
export class RpmsgEndpoint extends EventEmitter<RpmsgEndpointEvents> implements AsyncIterable<RpmsgMessage> {
  /** The remote address the address service named (announced endpoints), or null while unbound. */
  remote: number | null = null
  /** False while the daemon has no rpmsg bus for it. */
  attached = true
  /** The largest payload one message carries now; it follows the bus ('max-payload'). */
  maxPayload: number
  private readonly queue: RpmsgMessage[] = []
  private wake: (() => void) | null = null
  private ended = false
  private boundWaiters: Array<{ resolve: (remote: number) => void, reject: (err: Error) => void }> = []
  /** Failures of posted messages: how many ever (postFailures), and the first one the next flush() reports. */
  private readonly failures = new PostFailures()
  /** The sequence number of its last posted or sent message. */
  private lastSeq = 0

  /** @internal */
  constructor (private readonly client: EndpointOwner, readonly addr: number, maxPayload: number, readonly name: string) {
    super()
    this.maxPayload = maxPayload
  }

  /** Resolves with the remote address once the address service tells it (EndpointBound); after an unbinding, waits for the next. */
  async whenBound (): Promise<number> {
    if (this.remote !== null) return this.remote
    if (this.ended) throw this.destroyedError()
    return await new Promise<number>((resolve, reject) => { this.boundWaiters.push({ resolve, reject }) })
  }

  /**
   * rpmsg_send(): resolves once the message is in a buffer the other side
   * can see; the daemon waits up to timeoutMs (default 15000) for one, then
   * ERR_RPMSG_TIMEOUT. Messages leave in the order send(), trySend() and
   * post() are called, so many may be in flight at once (up to 1024 waiting
   * per connection; more fail with ERR_RPMSG_NO_BUFFER).
   */
  async send (dst: number, payload: Uint8Array, opts: SendOptions = {}): Promise<void> {
    if (this.ended) throw this.destroyedError()
    await this.client.sendMessage(this, dst, payload, timeoutOf(opts), true)
  }

  /** rpmsg_trysend(): rejects with ERR_RPMSG_NO_BUFFER at once when every buffer is in use. */
  async trySend (dst: number, payload: Uint8Array): Promise<void> {
    if (this.ended) throw this.destroyedError()
    await this.client.sendMessage(this, dst, payload, 0, true)
  }

  /**
   * rpmsg_send() without waiting for the answer: returns at once, in order
   * with the endpoint's other sends. A failure (the codes send() rejects
   * with) is counted in postFailures, emitted as 'post-error', and makes the
   * next flush() reject.
   */
  post (dst: number, payload: Uint8Array, opts: SendOptions = {}): void {
    if (this.ended) { this.postFailed(this.lastSeq, this.destroyedError()); return }
    this.lastSeq = this.client.sendMessage(this, dst, payload, timeoutOf(opts), false)
  }

  /** Resolves once every message posted (or sent) from this endpoint so far is in a buffer; rejects with the first post() failure since the last flush(). */
  async flush (): Promise<void> {
    await this.client.flushUpTo(this.lastSeq, [this.failures])
  }

  /** Posted messages that failed, since the endpoint was made. */
  get postFailures (): number { return this.failures.count }

  /** Destroys the endpoint on the daemon and ends its message iterator. */
  destroy (): void {
    if (this.ended) return
    this.client.destroyEndpoint(this)
    this.end('destroyed by the application')
  }

  [Symbol.asyncIterator] (): AsyncIterator<RpmsgMessage> {
    return {
      next: async (): Promise<IteratorResult<RpmsgMessage>> => {
        for (;;) {
          const m = this.queue.shift()
          if (m !== undefined) return { value: m, done: false }
          if (this.ended) return { value: undefined, done: true }
          await new Promise<void>((resolve) => { this.wake = resolve })
        }
      },
      return: async (): Promise<IteratorResult<RpmsgMessage>> => ({ value: undefined, done: true })
    }
  }

  /** @internal The sequence number of a message sent from it (send(), trySend()). */
  noteSeq (seq: number): void { this.lastSeq = seq }

  /** @internal A posted message failed. */
  postFailed (seq: number, err: ApiError): void {
    this.failures.add(seq, err)
    this.emit('post-error', err)
  }

  /** @internal */
  deliver (m: RpmsgMessage): void {
    if (this.ended) return
    this.queue.push(m)
    this.notify()
  }

  /** @internal EndpointBound; RPMSG_ADDR_ANY unbinds. */
  bound (remote: number): void {
    if (remote === RPMSG_ADDR_ANY) {
      if (this.remote === null) return
      this.remote = null
      this.emit('unbound')
      return
    }
    this.remote = remote
    for (const w of this.boundWaiters.splice(0)) w.resolve(remote)
    this.emit('bound', remote)
  }

  /** @internal EndpointState DETACHED or ATTACHED. */
  setAttached (attached: boolean, reason: string): void {
    if (this.attached === attached) return
    this.attached = attached
    if (attached) this.emit('attached')
    else this.emit('detached', reason)
  }

  /** @internal EndpointMaxPayload, or EndpointState ATTACHED with a size. */
  setMaxPayload (maxPayload: number): void {
    if (this.maxPayload === maxPayload || this.ended) return
    this.maxPayload = maxPayload
    this.emit('max-payload', maxPayload)
  }

  /** @internal */
  end (reason = 'closed'): void {
    if (this.ended) return
    this.ended = true
    this.attached = false
    const err = new ApiError('ERR_RPMSG_DESTROYED', `rpmsg endpoint ${this.addr} is destroyed: ${reason}`, 0)
    for (const w of this.boundWaiters.splice(0)) w.reject(err)
    this.notify()
    this.emit('destroyed', reason)
  }

  private notify (): void { const w = this.wake; this.wake = null; w?.() }

  private destroyedError (): ApiError { return new ApiError('ERR_RPMSG_DESTROYED', `rpmsg endpoint ${this.addr} is destroyed`, 0) }
}

const timeoutOf = (opts: SendOptions): number => Math.max(1, Math.round(opts.timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS))

