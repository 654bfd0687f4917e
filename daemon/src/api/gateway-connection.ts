// One application connected to the rpmsg gateway (rpmsg-gateway.ts) over a
// WebSocket: its frames read and dispatched, its sends, and the overflow
// policy for what the bus delivers to its endpoints (described in
// rpmsg-gateway.ts and proto/rpmsg.proto). The gateway tells it when the bus
// goes and comes. Its endpoint table is gateway-endpoint-table.ts, its
// endpoint and channel requests gateway-requests.ts, when it reads
// (back-pressure) gateway-reading.ts, its bounds gateway-limits.ts.
// How it reads and writes depends on the protocol version the handshake
// chose: one protobuf message per WebSocket message (version 1,
// gateway-output.ts) or batches of records (version 2, gateway-batches.ts).
//
// Bounds (GatewayLimits, from the settings): the endpoints it may own, and
// all connections together (ERR_RPMSG_LIMIT); and what waits to be written
// to it. Once more than maxBufferedBytes wait (replies are never dropped),
// the gateway stops reading the application, so its requests wait in TCP
// and make no more replies; it reads again once half of that is written.
// An application that stays over the bound for stallMs is disconnected:
// Error ERR_RPMSG_SLOW_READER, close 1008 with that reason, and the socket
// terminated CLOSE_GRACE_MS later if the close handshake has not ended.

import type { RawData } from 'ws'
import { soclink } from '../../../proto/gen/rpmsg.js'
import { BatchError, BatchReader, RecordKind } from '../../../proto/rpmsg-batch.js'
import { SoclinkError, closeCodeOf, type ErrorCode } from '../errors.js'
import type { AckedSession } from '../link/delivery.js'
import type { RpmsgBusCore, RpmsgChannel } from '../rpmsg/core.js'
import type { GatewayEndpoint } from './gateway-endpoint.js'
import { V2Output } from './gateway-batches.js'
import { CONNECTION_QUEUE_BYTES, DEFAULT_GATEWAY_LIMITS, ENDPOINT_QUEUE_BYTES, MAX_WAITING_SENDS, NO_LINKS, type GatewayBudget, type GatewayLinks } from './gateway-limits.js'
import { GatewayReading } from './gateway-reading.js'
import { channelInfo, claimChannel, createEndpoint, listChannels, type RequestTarget } from './gateway-requests.js'
import { GatewayEndpointTable, type GatewayEndpointView } from './gateway-endpoint-table.js'
import { OPEN, rpmsgWire, V1Output, type GatewayOutput, type GatewaySocket, type ServerMessage } from './gateway-output.js'

export { rpmsgWire, type GatewaySocket } from './gateway-output.js'
export { GATEWAY_DRIVER, channelInfo } from './gateway-requests.js'
export { CLOSE_GRACE_MS, CONNECTION_QUEUE_BYTES, DEFAULT_GATEWAY_LIMITS, ENDPOINT_QUEUE_BYTES, MAX_WAITING_SENDS, NO_LINKS, type GatewayBudget, type GatewayLimits, type GatewayLinks } from './gateway-limits.js'

export type GatewayVersion = 1 | 2
type ClientMessage = soclink.rpmsg.v1.ClientMessage

export interface GatewayConnectionView {
  id: number
  client: string
  endpoints: GatewayEndpointView[]
  /** Received messages dropped, over all its endpoints (those destroyed too). */
  dropped: number
  /** Bytes the WebSocket has not yet written (Received messages, replies and events). */
  buffered: number
  /** Sends waiting for a free buffer. */
  waiting: number
}

const codeOf = (err: unknown): ErrorCode => err instanceof SoclinkError ? err.code : 'ERR_INTERNAL'
const messageOf = (err: unknown): string => err instanceof Error ? err.message : String(err)

export class RpmsgGatewayConnection {
  dropped = 0
  /** Sends waiting for a buffer (Send with timeout_ms). */
  private waiting = 0
  private readonly endpoints: GatewayEndpointTable
  /** What CreateEndpoint, ClaimChannel and ListChannels need (gateway-requests.ts). */
  private readonly requestTarget: RequestTarget
  private closed = false
  /** When reading pauses and resumes (back-pressure). */
  private readonly reading: GatewayReading

  private readonly out: GatewayOutput
  /** Version 2: its reader, and its writer (which numbers the SENDs). */
  private readonly reader: BatchReader | null = null
  private readonly batches: V2Output | null = null
  /** Version 2: the CONTROL records of the batch being read, decoded while it is checked. */
  private readonly controls: ClientMessage[] = []

  /** `bus` gives the gateway's bus now, if any. */
  constructor (readonly id: number, readonly client: string, private readonly socket: GatewaySocket, bus: () => RpmsgBusCore | null,
    readonly version: GatewayVersion = 1, budget: GatewayBudget = { limits: DEFAULT_GATEWAY_LIMITS, endpoints: 0 },
    private readonly links: GatewayLinks = NO_LINKS) {
    this.endpoints = new GatewayEndpointTable(budget, (msg) => { this.send(msg) })
    const admit = (ept: GatewayEndpoint, n: number): boolean => this.admit(ept, n)
    if (version === 2) {
      this.reader = new BatchReader('client')
      this.batches = new V2Output(socket, admit)
      this.out = this.batches
    } else {
      this.out = new V1Output(socket, admit)
    }
    this.requestTarget = {
      bus, endpoints: this.endpoints, deliver: (e, src, payload) => { this.received(e, src, payload) }, queue: this,
      error: (requestId, code, message) => { this.error(requestId, code, message) }, send: (msg) => { this.send(msg) }
    }
    this.reading = new GatewayReading({
      socket, out: this.out, get limits () { return budget.limits }, links, isClosed: () => this.closed, refuse: (code, message) => { this.refuse(code, message) }
    })
  }

  /** One WebSocket message from the client. */
  onMessage (data: RawData, isBinary: boolean): void {
    if (this.closed) return
    if (!isBinary) { this.refuse('ERR_RPMSG_FORMAT', 'malformed client message: text messages are not accepted'); return }
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
    if (this.reader !== null) { this.onBatch(this.reader, bytes); this.reading.checkBuffered(); return }
    this.onV1Message(bytes)
    this.reading.checkBuffered()
  }

  private onV1Message (bytes: Buffer): void {
    let msg
    try {
      msg = rpmsgWire.ClientMessage.decode(bytes)
      if (msg.body === undefined) throw new Error('a ClientMessage with no body')
    } catch (err) {
      this.refuse('ERR_RPMSG_FORMAT', `malformed client message: ${messageOf(err)}`)
      return
    }
    if (msg.send != null) {
      const send = msg.send
      this.sendMessage(send.requestId ?? 0, send.src ?? 0, send.dst ?? 0, send.payload ?? new Uint8Array(0), send.timeoutMs ?? 0)
    } else {
      this.request(msg)
    }
    this.reading.checkLinks()
  }

  /** A link has room again (or lost its session): read again unless another reason still holds reading. */
  roomCame (): void { this.reading.roomCame() }

  /**
   * A link session ended: each endpoint's Sends answered Sent whose frames
   * the peer never acknowledged are lost. Each endpoint with some is told
   * once (Error ERR_RPMSG_LOST, with its address and how many) and counts
   * them.
   */
  sessionLost (session: AckedSession, peer: string, reason: string): void {
    for (const ept of this.endpoints.values()) {
      const { count } = ept.unacked.lost(session)
      if (count === 0) continue
      ept.counters.lost += count
      this.out.control({
        error: {
          requestId: 0,
          code: 'ERR_RPMSG_LOST',
          addr: ept.addr,
          message: `rpmsg endpoint ${ept.addr}: ${count} message(s) answered Sent were never acknowledged by ${peer} before its link session ended (${reason}): they are lost`
        }
      })
    }
    this.roomCame()
  }

  /** A send from `ept` is answered Sent: kept under the links' marks until they are acknowledged. */
  private track (ept: GatewayEndpoint): void {
    for (const m of this.links.marks()) ept.unacked.note(m)
  }

  /** Version 2: one batch, checked whole (CONTROL records decoded) before any record is acted on. */
  private onBatch (reader: BatchReader, bytes: Buffer): void {
    const controls = this.controls
    controls.length = 0
    try {
      reader.reset(bytes)
      while (reader.next()) {
        if (reader.kind !== RecordKind.CLIENT_CONTROL) continue
        let msg
        try {
          msg = rpmsgWire.ClientMessage.decode(reader.body())
        } catch (err) {
          throw new BatchError('ERR_RPMSG_FORMAT', `a CONTROL record does not decode: ${messageOf(err)}`)
        }
        if (msg.body === undefined || msg.send != null) throw new BatchError('ERR_RPMSG_FORMAT', 'a CONTROL record holds no body, or a send (SEND records carry sends)')
        controls.push(msg)
      }
    } catch (err) {
      const code = err instanceof BatchError ? err.code : 'ERR_RPMSG_FORMAT'
      this.refuse(code, `malformed batch: ${messageOf(err)}`)
      return
    }
    reader.rewind()
    let control = 0
    this.out.begin()
    while (reader.next()) {
      if (reader.kind === RecordKind.SEND) this.sendMessage(this.batches!.arrived(), reader.src, reader.dst, reader.body(), reader.timeoutMs)
      else this.request(controls[control++]!)
    }
    controls.length = 0
    this.out.end()
    // Back-pressure, not refusal: while too many sends wait, the application's next batches wait in TCP.
    if (this.waiting >= MAX_WAITING_SENDS) this.reading.setSendsFull(true)
    this.reading.checkLinks()
  }

  /** Bad input: one Error, then the socket is closed (with the code's close code) and the connection's endpoints go. */
  private refuse (code: ErrorCode, message: string): void {
    this.out.control({ error: { requestId: 0, code, message } })
    this.out.drain()
    this.socket.close(closeCodeOf(code), code)
    this.close()
  }

  private request (msg: ClientMessage): void {
    if (msg.createEndpoint != null) createEndpoint(this.requestTarget, msg.createEndpoint)
    else if (msg.destroyEndpoint != null) this.destroyEndpoint(msg.destroyEndpoint.addr ?? 0)
    else if (msg.claimChannel != null) claimChannel(this.requestTarget, msg.claimChannel)
    else if (msg.listChannels != null) listChannels(this.requestTarget, msg.listChannels.requestId ?? 0)
  }

  /** Destroys every endpoint this connection owns; idempotent. */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.reading.stop()
    this.out.close()
    this.endpoints.destroyAll()
  }

  /** The endpoint at `addr` on `bus`, if this connection owns it. */
  endpointOn (bus: RpmsgBusCore, addr: number): GatewayEndpoint | undefined {
    return this.endpoints.on(bus, addr)
  }

  /** Whether this connection owns the channel `ch`. */
  ownsChannel (ch: RpmsgChannel): boolean { return this.endpoints.owner(ch) !== undefined }

  view (): GatewayConnectionView {
    return {
      id: this.id,
      client: this.client,
      endpoints: this.endpoints.views(),
      dropped: this.dropped,
      buffered: this.out.buffered(),
      waiting: this.waiting
    }
  }

  /** The bus went away: each endpoint still on it is detached; a claimed channel's is gone. */
  busGone (): void { this.endpoints.busGone() }

  /** A new bus: each detached endpoint is made again on it, or destroyed if its address is taken there. */
  busCame (bus: RpmsgBusCore): void { this.endpoints.busCame(bus) }

  /** The bus's buffer size changed (vhost side: DRIVER_OK, a reset). */
  busResized (bus: RpmsgBusCore): void { this.endpoints.busResized(bus) }

  channelEvent (ch: RpmsgChannel, created: boolean): void {
    this.send({ channelEvent: { name: ch.name, src: ch.src, dst: ch.dst, created } })
  }

  /**
   * A channel went: reported to every connection; for its owner, the bus is
   * stopping (the gateway's channels are destroyed by their connection only:
   * DELETE /v1/rpmsg/channels refuses them), so the endpoint is detached.
   */
  channelDestroyed (ch: RpmsgChannel): void {
    this.channelEvent(ch, false)
    this.endpoints.channelDestroyed(ch)
  }

  /** A channel was bound or released (ChannelBinding, to every connection). */
  channelBindingChanged (ch: RpmsgChannel): void {
    this.send({ channelBinding: { channel: channelInfo(ch) } })
  }

  /** The address service bound (AS ASSIGN) or unbound (AS FREE, a reset) one of our channels. */
  channelBinding (ch: RpmsgChannel): void {
    this.endpoints.channelBinding(ch)
  }

  private destroyEndpoint (addr: number): void {
    const ept = this.endpoints.get(addr)
    if (ept === undefined) {
      this.error(0, 'ERR_RPMSG_ADDR', `this connection owns no rpmsg endpoint ${addr}`)
      return
    }
    this.endpoints.remove(addr)
    ept.destroy()
  }

  /** One send, named by `ref` (version 1's request_id, version 2's sequence number). */
  private sendMessage (ref: number, src: number, dst: number, payload: Uint8Array, timeoutMs: number): void {
    const ept = this.endpoints.get(src)
    if (ept === undefined) {
      this.out.sendFailed(ref, src, 'ERR_RPMSG_ADDR', `this connection owns no rpmsg endpoint ${src}`)
      return
    }
    const max = ept.bus?.maxPayload
    if (max !== undefined && payload.length > max) {
      this.out.sendFailed(ref, src, 'ERR_RPMSG_SIZE', `payload of ${payload.length} bytes is over the bus's ${max}`)
      return
    }
    let wait: Promise<void> | null
    try {
      // Version 2 pauses reading instead of refusing (see below).
      if (timeoutMs === 0 || (this.waiting >= MAX_WAITING_SENDS && this.version === 1)) {
        ept.trySend(dst, payload)
        wait = null
      } else {
        wait = ept.sendOrWait(dst, payload, timeoutMs)
      }
    } catch (err) {
      this.out.sendFailed(ref, src, codeOf(err), messageOf(err))
      return
    }
    if (wait === null) {
      this.track(ept)
      this.out.sent(ref)
      return
    }
    this.waiting++
    this.out.sendWaits(ref)
    wait.then(
      () => { this.waited(); this.track(ept); this.out.sent(ref) },
      (err: unknown) => { this.waited(); this.out.sendFailed(ref, src, codeOf(err), messageOf(err)) }
    )
  }

  /** A send stopped waiting; version 2 reads the application again once half the limit waits. */
  private waited (): void {
    this.waiting--
    if (this.reading.holdsForSends && this.waiting <= MAX_WAITING_SENDS / 2) this.reading.setSendsFull(false)
  }

  /** The overflow policy for a Received message of `n` bytes: false if it is dropped (counted, reported once per episode). */
  private admit (ept: GatewayEndpoint, n: number): boolean {
    if (ept.buffered + n <= ENDPOINT_QUEUE_BYTES && this.out.buffered() + n <= CONNECTION_QUEUE_BYTES) {
      ept.overflowing = false
      return true
    }
    ept.counters.dropped++
    this.dropped++
    if (!ept.overflowing) {
      ept.overflowing = true
      const which = ept.buffered + n > ENDPOINT_QUEUE_BYTES ? `its ${ENDPOINT_QUEUE_BYTES} bytes` : `the connection's ${CONNECTION_QUEUE_BYTES} bytes`
      this.out.control({
        error: {
          requestId: 0,
          code: 'ERR_RPMSG_OVERFLOW',
          addr: ept.addr,
          message: `rpmsg endpoint ${ept.addr}: the client reads too slowly (${which} not yet written): Received messages are being dropped (${ept.counters.dropped} so far)`
        }
      })
    }
    return false
  }

  /** A message for one of our endpoints, subject to the overflow policy. */
  private received (ept: GatewayEndpoint, src: number, payload: Uint8Array): void {
    ept.counters.received++
    if (this.closed || this.socket.readyState !== OPEN) return
    this.out.received(ept, src, payload)
  }

  private error (requestId: number, code: ErrorCode, message: string): void {
    this.out.control({ error: { requestId, code, message } })
  }

  private send (msg: ServerMessage): void { this.out.control(msg) }
}
