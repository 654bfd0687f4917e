// A client for the rpmsg gateway (GET /v1/rpmsg, proto/rpmsg.proto): one
// WebSocket to the local daemon, endpoints owned by it, messages as async
// iterators and channel events on an EventEmitter.
//
// Flow control: send() is rpmsg_send(): the daemon waits up to its timeout
// for a free buffer (ERR_RPMSG_TIMEOUT after); trySend() is
// rpmsg_trysend() and rejects at once with ERR_RPMSG_NO_BUFFER. A
// connection's messages leave in the order send() and trySend() are called,
// so many sends may be in flight at once. A client that reads too
// slowly loses the newest messages (the daemon holds at most 1 MiB per
// endpoint): the endpoint emits 'overflow' once per episode.
//
// Buses come and go (the other side restarts): an endpoint outlives them.
// It emits 'detached' when the daemon's rpmsg bus goes and 'attached' when
// the daemon has made it again, at the same address, on a new one; an
// announced endpoint emits 'unbound' and then 'bound' with its new remote
// address, and whenBound() waits for the next binding. 'destroyed' means the
// daemon could not make it again (its iterator ends).
//
// maxPayload follows the bus: the vhost side (an ep) learns the negotiated
// buffer size only at the virtio side's DRIVER_OK and goes back to 512-byte
// buffers at a reset, and a new bus may differ; the endpoint emits
// 'max-payload' with each new value (EndpointMaxPayload, EndpointState
// ATTACHED).

import { EventEmitter } from 'node:events'
import WebSocket from 'ws'
import { soclink } from '../../proto/gen/rpmsg.js'
import { ApiError } from './errors.js'

const wire = soclink.rpmsg.v1
type ServerMessage = soclink.rpmsg.v1.ServerMessage
type ClientMessage = soclink.rpmsg.v1.ClientMessage.$Properties

/** RPMSG_ADDR_ANY: let the daemon choose the local address. */
export const RPMSG_ADDR_ANY = 0xffffffff

/** A channel appearing or going away on the daemon's bus (name service). */
export interface RpmsgChannelEvent {
  name: string
  /** Its local address on the daemon's bus. */
  src: number
  /** The remote address; 0xffffffff while unknown. */
  dst: number
  created: boolean
}

export interface RpmsgMessage {
  /** The sender's (remote) address. */
  src: number
  payload: Uint8Array
}

export interface CreateEndpointOptions {
  /** Channel name (required with announce). */
  name?: string
  /** The local address wanted; RPMSG_ADDR_ANY (the default) picks one. */
  addr?: number
  /** Announce the endpoint as a channel (only on the vhost side, an ep). */
  announce?: boolean
}

interface Pending {
  resolve: (m: ServerMessage) => void
  reject: (err: Error) => void
}


function bytesOf (data: WebSocket.RawData): Uint8Array {
  if (Buffer.isBuffer(data)) return data
  return Array.isArray(data) ? Buffer.concat(data) : new Uint8Array(data)
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

  /** @internal */
  constructor (private readonly client: RpmsgClient, readonly addr: number, maxPayload: number, readonly name: string) {
    super()
    this.maxPayload = maxPayload
  }

  /** Resolves with the remote address once the address service tells it (EndpointBound); after an unbinding, waits for the next. */
  async whenBound (): Promise<number> {
    if (this.remote !== null) return this.remote
    if (this.ended) throw new ApiError('ERR_RPMSG_DESTROYED', `rpmsg endpoint ${this.addr} is destroyed`, 0)
    return await new Promise<number>((resolve, reject) => { this.boundWaiters.push({ resolve, reject }) })
  }

  /**
   * rpmsg_send(): resolves once the message is in a buffer the other side
   * can see; the daemon waits up to timeoutMs (default 15000) for one, then
   * ERR_RPMSG_TIMEOUT. Messages leave in the order send() and trySend() are
   * called, so many may be in flight at once (up to 1024 waiting per
   * connection; more fail with ERR_RPMSG_NO_BUFFER).
   */
  async send (dst: number, payload: Uint8Array, opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.ended) throw new ApiError('ERR_RPMSG_DESTROYED', `rpmsg endpoint ${this.addr} is destroyed`, 0)
    const timeoutMs = Math.max(1, Math.round(opts.timeoutMs ?? 15_000))
    await this.client.request((requestId) => ({ send: { requestId, src: this.addr, dst, payload, timeoutMs } }))
  }

  /** rpmsg_trysend(): rejects with ERR_RPMSG_NO_BUFFER at once when every buffer is in use. */
  async trySend (dst: number, payload: Uint8Array): Promise<void> {
    if (this.ended) throw new ApiError('ERR_RPMSG_DESTROYED', `rpmsg endpoint ${this.addr} is destroyed`, 0)
    await this.client.request((requestId) => ({ send: { requestId, src: this.addr, dst, payload } }))
  }

  /** Destroys the endpoint on the daemon and ends its message iterator. */
  destroy (): void {
    if (this.ended) return
    this.client.forget(this.addr)
    this.client.write({ destroyEndpoint: { addr: this.addr } })
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
}

/**
 * A connection to a daemon's rpmsg gateway. Events: 'channel'
 * (RpmsgChannelEvent), 'gateway-error' (ApiError not about a request, e.g.
 * ERR_RPMSG_OVERFLOW, also emitted as 'overflow' on its endpoint), 'close'.
 * Each RpmsgEndpoint emits its own events (RpmsgEndpointEvents).
 */
export class RpmsgClient extends EventEmitter {
  /** Channels seen created (and not destroyed) since connecting, by name. */
  readonly channels = new Map<string, RpmsgChannelEvent>()
  private readonly pending = new Map<number, Pending>()
  private readonly endpoints = new Map<number, RpmsgEndpoint>()
  private readonly earlyBound = new Map<number, number>()
  /** EndpointCreated answers whose createEndpoint() has not made the endpoint yet: their max payload, updated by an EndpointMaxPayload that comes first. */
  private readonly justCreated = new Map<number, number>()
  private nextId = 1
  private closed = false

  private constructor (private readonly ws: WebSocket, readonly url: string) {
    super()
    // Listening from the start: the daemon may speak as soon as the upgrade completes.
    ws.on('message', (data) => { this.onMessage(data) })
    ws.on('close', () => { this.shutdown() })
    ws.on('error', () => { /* followed by 'close' */ })
  }

  /** Connects to the gateway of the daemon whose API is at apiBase (http://host:port). */
  static async connect (apiBase: string): Promise<RpmsgClient> {
    const url = apiBase.replace(/\/+$/, '').replace(/^http/, 'ws') + '/v1/rpmsg'
    let ws: WebSocket
    try {
      ws = new WebSocket(url, { perMessageDeflate: false })
    } catch (err) {
      throw new ApiError('ERR_CONNECT', `cannot open the rpmsg gateway at ${url}: ${(err as Error).message}`, 0, { cause: err })
    }
    const client = new RpmsgClient(ws, url)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => { resolve() })
      ws.once('error', (err) => { reject(new ApiError('ERR_CONNECT', `cannot open the rpmsg gateway at ${url}: ${err.message}`, 0, { cause: err })) })
    })
    return client
  }

  /** Creates an endpoint owned by this connection. */
  async createEndpoint (opts: CreateEndpointOptions = {}): Promise<RpmsgEndpoint> {
    const name = opts.name ?? ''
    const reply = await this.request((requestId) => ({
      createEndpoint: { requestId, name, addr: opts.addr ?? RPMSG_ADDR_ANY, announce: opts.announce === true }
    }))
    const created = reply.endpointCreated
    if (created == null) throw new ApiError('ERR_BAD_REPLY', 'CreateEndpoint was not answered EndpointCreated', 0)
    const addr = created.addr ?? 0
    const ept = new RpmsgEndpoint(this, addr, this.justCreated.get(addr) ?? created.maxPayload ?? 0, name)
    this.justCreated.delete(addr)
    this.endpoints.set(ept.addr, ept)
    const remote = this.earlyBound.get(ept.addr)
    if (remote !== undefined) { this.earlyBound.delete(ept.addr); ept.bound(remote) }
    return ept
  }

  /** Closes the connection; the daemon destroys every endpoint it owns. */
  async close (): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) { this.shutdown(); return }
    const closed = new Promise<void>((resolve) => { this.ws.once('close', () => { resolve() }) })
    if (this.ws.readyState !== WebSocket.CLOSING) this.ws.close()
    await closed
  }

  /** @internal One request; resolves with its answer, rejects ApiError(code) on Error. */
  async request (make: (requestId: number) => ClientMessage): Promise<ServerMessage> {
    if (this.closed) throw new ApiError('ERR_CLOSED', `the rpmsg gateway connection to ${this.url} is closed`, 0)
    const requestId = this.nextId
    this.nextId = this.nextId >= 0xfffffffe ? 1 : this.nextId + 1
    const answer = new Promise<ServerMessage>((resolve, reject) => { this.pending.set(requestId, { resolve, reject }) })
    this.write(make(requestId))
    return await answer
  }

  /** @internal */
  write (msg: ClientMessage): void {
    if (this.ws.readyState !== WebSocket.OPEN) return
    this.ws.send(wire.ClientMessage.encode(msg).finish(), { binary: true })
  }

  /** @internal */
  forget (addr: number): void { this.endpoints.delete(addr) }

  private onMessage (data: WebSocket.RawData): void {
    let m: ServerMessage
    try {
      m = wire.ServerMessage.decode(bytesOf(data))
    } catch {
      this.emit('gateway-error', new ApiError('ERR_BAD_REPLY', 'the rpmsg gateway sent a message that does not decode', 0))
      return
    }
    if (m.received != null) {
      this.endpoints.get(m.received.dst ?? 0)?.deliver({ src: m.received.src ?? 0, payload: m.received.payload ?? new Uint8Array(0) })
    } else if (m.sent != null) {
      this.answer(m.sent.requestId ?? 0, m)
    } else if (m.endpointCreated != null) {
      // The answer is taken up a turn later; what the daemon says of it meanwhile must not be lost.
      if (this.pending.has(m.endpointCreated.requestId ?? 0)) this.justCreated.set(m.endpointCreated.addr ?? 0, m.endpointCreated.maxPayload ?? 0)
      this.answer(m.endpointCreated.requestId ?? 0, m)
    } else if (m.error != null) {
      const err = new ApiError(m.error.code ?? 'ERR_INTERNAL', m.error.message ?? '', 0)
      const requestId = m.error.requestId ?? 0
      const p = this.pending.get(requestId)
      if (requestId !== 0 && p !== undefined) {
        this.pending.delete(requestId)
        p.reject(err)
      } else {
        if (err.code === 'ERR_RPMSG_OVERFLOW') this.endpoints.get(m.error.addr ?? 0)?.emit('overflow', err)
        this.emit('gateway-error', err)
      }
    } else if (m.endpointState != null) {
      this.endpointState(m.endpointState.addr ?? 0, m.endpointState.state ?? 0, m.endpointState.reason ?? '', m.endpointState.maxPayload ?? 0)
    } else if (m.endpointMaxPayload != null) {
      const addr = m.endpointMaxPayload.addr ?? 0
      const max = m.endpointMaxPayload.maxPayload ?? 0
      const ept = this.endpoints.get(addr)
      if (ept !== undefined) ept.setMaxPayload(max)
      else if (this.justCreated.has(addr)) this.justCreated.set(addr, max)
    } else if (m.endpointBound != null) {
      const addr = m.endpointBound.addr ?? 0
      const remote = m.endpointBound.remote ?? 0
      const ept = this.endpoints.get(addr)
      if (ept !== undefined) ept.bound(remote)
      else this.earlyBound.set(addr, remote)
    } else if (m.channelEvent != null) {
      const ev: RpmsgChannelEvent = {
        name: m.channelEvent.name ?? '',
        src: m.channelEvent.src ?? 0,
        dst: m.channelEvent.dst ?? 0,
        created: m.channelEvent.created === true
      }
      if (ev.created) this.channels.set(ev.name, ev)
      else if (this.channels.get(ev.name)?.src === ev.src) this.channels.delete(ev.name)
      this.emit('channel', ev)
    }
  }

  private endpointState (addr: number, state: number, reason: string, maxPayload: number): void {
    const ept = this.endpoints.get(addr)
    if (ept === undefined) return
    if (state === wire.EndpointState.State.STATE_DETACHED) ept.setAttached(false, reason)
    else if (state === wire.EndpointState.State.STATE_ATTACHED) {
      // 0: a daemon older than max_payload here; the size stays as it was.
      if (maxPayload > 0) ept.setMaxPayload(maxPayload)
      ept.setAttached(true, reason)
    }
    else if (state === wire.EndpointState.State.STATE_DESTROYED) {
      this.endpoints.delete(addr)
      ept.end(reason)
    }
  }

  private answer (requestId: number, m: ServerMessage): void {
    const p = this.pending.get(requestId)
    if (p === undefined) return
    this.pending.delete(requestId)
    p.resolve(m)
  }

  private shutdown (): void {
    if (this.closed) return
    this.closed = true
    const err = new ApiError('ERR_CLOSED', `the rpmsg gateway connection to ${this.url} is closed`, 0)
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
    for (const ept of this.endpoints.values()) ept.end()
    this.endpoints.clear()
    this.emit('close')
  }
}
