// A client for the rpmsg gateway (GET /v1/rpmsg, proto/rpmsg.proto): one
// WebSocket to the local daemon, endpoints owned by it (rpmsg-endpoint.ts),
// messages as async iterators and channel events on an EventEmitter. This
// file is the connection: it decodes what the daemon says and routes it to
// the endpoints, the requests waiting (rpmsg-requests.ts), the sends
// (rpmsg-sends.ts) and the channel table (rpmsg-channels.ts).
//
// It speaks version 2 of the protocol unless told otherwise: many sends in
// one WebSocket message and one cumulative answer for them (rpmsg-batches.ts,
// rpmsg-sends.ts); version 1 ({ protocol: 1 }) is one message per send.
// Either way the first message of an idle connection leaves at once.
//
// Flow control: send() is rpmsg_send(): the daemon waits up to its timeout
// for a free buffer (ERR_RPMSG_TIMEOUT after); trySend() is
// rpmsg_trysend() and rejects at once with ERR_RPMSG_NO_BUFFER; post() is
// send() without a promise, flush() waits for what was posted. A
// connection's messages leave in the order they are sent, so many may be in
// flight at once. A client that reads too slowly loses the newest messages
// (the daemon holds at most 1 MiB per endpoint): the endpoint emits
// 'overflow' once per episode.
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
import { BatchReader, MAX_RECORD_PAYLOAD, RecordKind, RPMSG_V1_PROTOCOL, RPMSG_V2_PROTOCOL } from '../../proto/rpmsg-batch.js'
import { ApiError } from './errors.js'
import { resolveCredentials, type ConnectionOptions } from './credentials.js'
import { socketOptions, whenOpenHolding } from './transport.js'
import { ClientBatches } from './rpmsg-batches.js'
import { RpmsgEndpoint, RPMSG_ADDR_ANY, type EndpointOwner } from './rpmsg-endpoint.js'
import { PostFailures, SendTracker } from './rpmsg-sends.js'
import { channelEvent, channelInfo, noteChannelBinding, noteChannelEvent, type ClaimChannelOptions, type RpmsgChannelBinding, type RpmsgChannelEvent } from './rpmsg-channels.js'
import { PendingRequests, SEND_IDS, v1RequestId, v1Seq } from './rpmsg-requests.js'

export { RpmsgEndpoint, RPMSG_ADDR_ANY, type RpmsgMessage, type RpmsgEndpointEvents, type SendOptions } from './rpmsg-endpoint.js'
export type { RpmsgChannelEvent, RpmsgChannelBinding, ClaimChannelOptions } from './rpmsg-channels.js'

const wire = soclink.rpmsg.v1
type ServerMessage = soclink.rpmsg.v1.ServerMessage
type ClientMessage = soclink.rpmsg.v1.ClientMessage.$Properties

export interface CreateEndpointOptions {
  /** Channel name (required with announce). */
  name?: string
  /** The local address wanted; RPMSG_ADDR_ANY (the default) picks one. */
  addr?: number
  /** Announce the endpoint as a channel (only on the vhost side, an ep). */
  announce?: boolean
}

/** The token and TLS trust (ConnectionOptions), and the protocol version. */
export interface ConnectOptions extends ConnectionOptions {
  /** The gateway protocol version: 2 (the default: batches) or 1 (one message per send, for a daemon that has only version 1). */
  protocol?: 1 | 2
}

function bytesOf (data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
}

/**
 * A connection to a daemon's rpmsg gateway. Events: 'channel'
 * (RpmsgChannelEvent), 'channel-binding' (RpmsgChannelBinding: a channel was
 * bound or released), 'gateway-error' (ApiError not about a request, e.g.
 * ERR_RPMSG_OVERFLOW, also emitted as 'overflow' on its endpoint), 'close'.
 * Each RpmsgEndpoint emits its own events (RpmsgEndpointEvents).
 */
export class RpmsgClient extends EventEmitter implements EndpointOwner {
  /** Channels seen created (and not destroyed) since connecting, by name. */
  readonly channels = new Map<string, RpmsgChannelEvent>()
  /** The protocol version the handshake chose. */
  readonly protocol: 1 | 2
  private readonly pending = new PendingRequests()
  private readonly endpoints = new Map<number, RpmsgEndpoint>()
  private readonly earlyBound = new Map<number, number>()
  /** EndpointCreated answers whose createEndpoint() has not made the endpoint yet: their max payload, updated by an EndpointMaxPayload that comes first. */
  private readonly justCreated = new Map<number, number>()
  private readonly sends = new SendTracker()
  /** Failures of posted messages on any endpoint, for app.flush(). */
  private readonly failures = new PostFailures()
  /** Version 2: the writer and the reader. */
  private readonly batches: ClientBatches | null
  private readonly reader = new BatchReader('server')
  /** Version 1: posted sends not yet answered, and the endpoint each is from. */
  private readonly v1Posts = new Map<number, number>()
  private closed = false

  /** `early`: what the daemon said before connect() resolved (ChannelEvents of the channels already there). */
  private constructor (private readonly ws: WebSocket, readonly url: string, early: WebSocket.RawData[] = []) {
    super()
    this.protocol = ws.protocol === RPMSG_V2_PROTOCOL ? 2 : 1
    this.batches = this.protocol === 2 ? new ClientBatches(ws) : null
    // What came before connect() resolved is handled next turn, before anything later: listeners added then hear it.
    let queued: WebSocket.RawData[] | null = early.length === 0 ? null : early
    ws.on('message', (data) => { if (queued === null) this.onMessage(data); else queued.push(data) })
    if (queued !== null) setImmediate(() => { const held = queued ?? []; queued = null; for (const d of held) this.onMessage(d) })
    ws.on('close', () => { this.shutdown() })
    ws.on('error', () => { /* followed by 'close' */ })
  }

  /**
   * Connects to the gateway of the daemon whose API is at apiBase
   * (http://host:port, or https:// with TLS: the gateway is then wss://).
   */
  static async connect (apiBase: string, opts: ConnectOptions = {}): Promise<RpmsgClient> {
    const url = apiBase.replace(/\/+$/, '').replace(/^http/, 'ws') + '/v1/rpmsg'
    const credentials = resolveCredentials(opts)
    // Version 1 first: a WebSocket server that takes the first offered (a daemon older than version 2) then speaks version 1.
    const protocols = (opts.protocol ?? 2) === 2 ? [RPMSG_V1_PROTOCOL, RPMSG_V2_PROTOCOL] : []
    let ws: WebSocket
    try {
      ws = new WebSocket(url, protocols, socketOptions(credentials))
    } catch (err) {
      throw new ApiError('ERR_CONNECT', `cannot open the rpmsg gateway at ${url}: ${(err as Error).message}`, 0, { cause: err })
    }
    return new RpmsgClient(ws, url, await whenOpenHolding(ws, `the rpmsg gateway at ${url}`, credentials))
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

  /**
   * Claims a channel the vhost side announced, as a kernel driver binds to
   * it (rpmsg_dev_probe(); virtio side only, proto/rpmsg.proto "Claiming
   * channels"): the channel's endpoint is made (if not yet), the other side
   * is told our address (AS ASSIGN), and the endpoint is this connection's,
   * with `remote` set to the channel's remote address. ept.destroy() releases
   * it (AS FREE). Rejects ERR_NOT_FOUND (no such channel), ERR_BUSY (held),
   * ERR_RPMSG_UNSUPPORTED (vhost side).
   */
  async claimChannel (name: string, opts: ClaimChannelOptions = {}): Promise<RpmsgEndpoint> {
    const reply = await this.request((requestId) => ({
      claimChannel: { requestId, name, dst: opts.dst ?? RPMSG_ADDR_ANY, driver: opts.driver ?? '' }
    }))
    const claimed = reply.channelClaimed
    if (claimed == null) throw new ApiError('ERR_BAD_REPLY', 'ClaimChannel was not answered ChannelClaimed', 0)
    const addr = claimed.addr ?? 0
    const ept = new RpmsgEndpoint(this, addr, this.justCreated.get(addr) ?? claimed.maxPayload ?? 0, claimed.name ?? name)
    this.justCreated.delete(addr)
    this.endpoints.set(addr, ept)
    ept.bound(claimed.remote ?? RPMSG_ADDR_ANY)
    return ept
  }

  /** Every channel on the daemon's bus now (ListChannels). */
  async listChannels (): Promise<RpmsgChannelBinding[]> {
    const reply = await this.request((requestId) => ({ listChannels: { requestId } }))
    if (reply.channelList == null) throw new ApiError('ERR_BAD_REPLY', 'ListChannels was not answered ChannelList', 0)
    return (reply.channelList.channels ?? []).map(channelInfo)
  }

  /** Resolves once every message posted (or sent) on this connection so far is in a buffer; rejects with the first post() failure since the last app.flush(). */
  async flush (): Promise<void> {
    await this.flushUpTo(this.sends.latest, [this.failures])
  }

  /** Closes the connection; the daemon destroys every endpoint it owns. */
  async close (): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) { this.shutdown(); return }
    const closed = new Promise<void>((resolve) => { this.ws.once('close', () => { resolve() }) })
    if (this.ws.readyState !== WebSocket.CLOSING) this.ws.close()
    await closed
  }

  /** @internal One message from `ept`: a promise for its answer, or (posted) its sequence number. */
  sendMessage (ept: RpmsgEndpoint, dst: number, payload: Uint8Array, timeoutMs: number, answer: true): Promise<void>
  sendMessage (ept: RpmsgEndpoint, dst: number, payload: Uint8Array, timeoutMs: number, answer: false): number
  sendMessage (ept: RpmsgEndpoint, dst: number, payload: Uint8Array, timeoutMs: number, answer: boolean): Promise<void> | number {
    const refused = this.closed
      ? new ApiError('ERR_CLOSED', `the rpmsg gateway connection to ${this.url} is closed`, 0)
      : payload.length > MAX_RECORD_PAYLOAD
        ? new ApiError('ERR_RPMSG_SIZE', `payload of ${payload.length} bytes is over the largest rpmsg payload (${MAX_RECORD_PAYLOAD})`, 0)
        : null
    if (refused !== null) {
      // Never sent, so it takes no sequence number; a posted one fails as the last one sent did.
      if (answer) return Promise.reject(refused)
      const seq = this.sends.latest
      this.failures.add(seq, refused)
      ept.postFailed(seq, refused)
      return seq
    }
    const seq = this.sends.next()
    ept.noteSeq(seq)
    const waited = answer ? this.sends.wait(seq) : null
    if (this.batches !== null) {
      this.batches.send(ept.addr, dst, timeoutMs, payload)
    } else {
      // Version 1's Error does not name the endpoint: remember whose posted send this is.
      if (!answer) this.v1Posts.set(seq, ept.addr)
      this.write({ send: { requestId: v1RequestId(seq), src: ept.addr, dst, payload, timeoutMs } })
    }
    return waited ?? seq
  }

  /** @internal */
  async flushUpTo (seq: number, failures: PostFailures[]): Promise<void> {
    await this.sends.flush(seq, failures)
  }

  /** @internal */
  destroyEndpoint (ept: RpmsgEndpoint): void {
    this.endpoints.delete(ept.addr)
    this.write({ destroyEndpoint: { addr: ept.addr } })
  }

  /** One request (not a send); resolves with its answer, rejects ApiError(code) on Error. */
  private async request (make: (requestId: number) => ClientMessage): Promise<ServerMessage> {
    if (this.closed) throw new ApiError('ERR_CLOSED', `the rpmsg gateway connection to ${this.url} is closed`, 0)
    const { requestId, answer } = this.pending.open()
    this.write(make(requestId))
    return await answer
  }

  private write (msg: ClientMessage): void {
    if (this.ws.readyState !== WebSocket.OPEN) return
    const bytes = wire.ClientMessage.encode(msg).finish()
    if (this.batches !== null) this.batches.control(bytes)
    else this.ws.send(bytes, { binary: true })
  }

  /** A send failed: its send() rejects, or a posted one is counted on its endpoint and the connection. */
  private failed (seq: number, addr: number, err: ApiError): void {
    if (!this.sends.failed(seq, err)) {
      this.failures.add(seq, err)
      this.endpoints.get(addr)?.postFailed(seq, err)
    }
  }

  private onMessage (data: WebSocket.RawData): void {
    const bytes = bytesOf(data)
    if (this.batches === null) {
      let m: ServerMessage
      try {
        m = wire.ServerMessage.decode(bytes)
      } catch {
        this.emit('gateway-error', new ApiError('ERR_BAD_REPLY', 'the rpmsg gateway sent a message that does not decode', 0))
        return
      }
      this.dispatch(m)
      return
    }
    const r = this.reader
    try {
      r.reset(bytes)
    } catch (err) {
      // The answers' count would be lost with it: the connection cannot go on.
      this.emit('gateway-error', new ApiError('ERR_BAD_REPLY', `the rpmsg gateway sent a batch that does not decode: ${(err as Error).message}`, 0))
      this.ws.terminate()
      return
    }
    while (r.next()) {
      if (r.kind === RecordKind.RECEIVED) {
        this.endpoints.get(r.dst)?.deliver({ src: r.src, payload: r.body() })
      } else if (r.kind === RecordKind.SENT) {
        this.sends.sent(this.sends.widen(r.seq))
      } else {
        let m: ServerMessage
        try {
          m = wire.ServerMessage.decode(r.body())
        } catch {
          this.emit('gateway-error', new ApiError('ERR_BAD_REPLY', 'the rpmsg gateway sent a CONTROL record that does not decode', 0))
          continue
        }
        this.dispatch(m)
      }
    }
  }

  private dispatch (m: ServerMessage): void {
    if (m.received != null) {
      this.endpoints.get(m.received.dst ?? 0)?.deliver({ src: m.received.src ?? 0, payload: m.received.payload ?? new Uint8Array(0) })
    } else if (m.sent != null) {
      this.answered(m.sent.requestId ?? 0, m)
    } else if (m.endpointCreated != null) {
      // The answer is taken up a turn later; what the daemon says of it meanwhile must not be lost.
      if (this.pending.has(m.endpointCreated.requestId ?? 0)) this.justCreated.set(m.endpointCreated.addr ?? 0, m.endpointCreated.maxPayload ?? 0)
      this.answer(m.endpointCreated.requestId ?? 0, m)
    } else if (m.error != null) {
      this.gatewayError(m.error)
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
    } else if (m.channelClaimed != null) {
      if (this.pending.has(m.channelClaimed.requestId ?? 0)) this.justCreated.set(m.channelClaimed.addr ?? 0, m.channelClaimed.maxPayload ?? 0)
      this.answer(m.channelClaimed.requestId ?? 0, m)
    } else if (m.channelList != null) {
      this.answer(m.channelList.requestId ?? 0, m)
    } else if (m.channelBinding != null) {
      const b = channelInfo(m.channelBinding.channel ?? {})
      noteChannelBinding(this.channels, b)
      this.emit('channel-binding', b)
    } else if (m.channelEvent != null) {
      const ev = channelEvent(m.channelEvent)
      noteChannelEvent(this.channels, ev)
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

  private gatewayError (e: soclink.rpmsg.v1.IError): void {
    const err = new ApiError(e.code ?? 'ERR_INTERNAL', e.message ?? '', 0)
    const requestId = e.requestId ?? 0
    const sendSeq = e.sendSeq ?? 0
    if (sendSeq !== 0) {
      this.failed(this.sends.widen(sendSeq), e.addr ?? 0, err)
      return
    }
    if (this.batches === null && requestId !== 0 && requestId <= SEND_IDS) {
      // Version 1: an Error for a send, named by its request id.
      const seq = v1Seq(requestId, this.sends.answeredUpTo)
      this.failed(seq, this.v1Posts.get(seq) ?? 0, err)
      this.v1Posts.delete(seq)
      this.sends.answeredOne(seq)
      return
    }
    if (this.pending.reject(requestId, err)) return
    if (err.code === 'ERR_RPMSG_OVERFLOW') this.endpoints.get(e.addr ?? 0)?.emit('overflow', err)
    this.emit('gateway-error', err)
  }

  /** Version 1: a Sent, for a send (request id up to SEND_IDS) or nothing else. */
  private answered (requestId: number, m: ServerMessage): void {
    if (requestId >= 1 && requestId <= SEND_IDS) {
      const seq = v1Seq(requestId, this.sends.answeredUpTo)
      this.v1Posts.delete(seq)
      this.sends.answeredOne(seq)
    } else {
      this.answer(requestId, m)
    }
  }

  private answer (requestId: number, m: ServerMessage): void {
    this.pending.answer(requestId, m)
  }

  private shutdown (): void {
    if (this.closed) return
    this.closed = true
    const err = new ApiError('ERR_CLOSED', `the rpmsg gateway connection to ${this.url} is closed`, 0)
    this.pending.close(err)
    this.sends.close(err)
    this.batches?.close()
    for (const ept of this.endpoints.values()) ept.end()
    this.endpoints.clear()
    this.emit('close')
  }
}
