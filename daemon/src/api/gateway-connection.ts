// One application connected to the rpmsg gateway (rpmsg-gateway.ts) over a
// WebSocket: its requests, the endpoints it owns, and the overflow policy
// for what the bus delivers to them (described in rpmsg-gateway.ts and
// proto/rpmsg.proto). The gateway tells it when the bus goes and comes.
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
import type { AckedSession, DeliveryMark } from '../link/delivery.js'
import type { RpmsgBusCore, RpmsgChannel } from '../rpmsg/core.js'
import { RPMSG_ADDR_ANY } from '../rpmsg/wire.js'
import { VirtioRpmsgBus } from '../rpmsg/virtio-rpmsg.js'
import { VhostRpmsgBus } from '../rpmsg/vhost-rpmsg.js'
import { GatewayEndpoint, type GatewayEndpointCounters } from './gateway-endpoint.js'
import { V2Output } from './gateway-batches.js'
import { CLOSED, OPEN, rpmsgWire, V1Output, type GatewayOutput, type GatewaySocket, type ServerMessage } from './gateway-output.js'

export { rpmsgWire, type GatewaySocket } from './gateway-output.js'
const State = soclink.rpmsg.v1.EndpointState.State
type ClientMessage = soclink.rpmsg.v1.ClientMessage

/** Bytes of one endpoint's Received messages that may wait to be written; more are dropped. */
export const ENDPOINT_QUEUE_BYTES = 1024 * 1024
/** Bytes a connection may have waiting to be written (everything it is sent) before Received messages are dropped. */
export const CONNECTION_QUEUE_BYTES = 4 * 1024 * 1024
/** Sends of one connection that may wait for a buffer at once (each holds its payload). */
export const MAX_WAITING_SENDS = 1024
/** How long a disconnected slow reader has to end the close handshake before its socket is terminated. */
export const CLOSE_GRACE_MS = 1000

/** Bounds of every connection (settings maxEndpointsPerConnection, maxEndpoints, maxGatewayBufferedBytes, gatewayStallMs). */
export interface GatewayLimits {
  endpointsPerConnection: number
  endpoints: number
  bufferedBytes: number
  stallMs: number
}

export const DEFAULT_GATEWAY_LIMITS: GatewayLimits = { endpointsPerConnection: 1024, endpoints: 8192, bufferedBytes: 16 * 1024 * 1024, stallMs: 30_000 }

/** What the connections of one gateway share: their limits, and the endpoints they own together. */
export interface GatewayBudget {
  readonly limits: GatewayLimits
  endpoints: number
}

export type GatewayVersion = 1 | 2

/**
 * What the gateway needs of the daemon's links (link/credit.ts,
 * link/delivery.ts): whether they have room for more from edge writers,
 * and the marks that a message just sent rides on.
 */
export interface GatewayLinks {
  /** False while a link with a session has no room for edge writers: the gateway stops reading. */
  hasRoom: () => boolean
  /** The mark of every link with a session now. */
  marks: () => readonly DeliveryMark[]
}

/** Links that never push back and track nothing (a gateway with no links, unit tests). */
export const NO_LINKS: GatewayLinks = { hasRoom: () => true, marks: () => [] }

export interface GatewayEndpointView extends GatewayEndpointCounters {
  addr: number
  name: string
  announce: boolean
  state: 'attached' | 'detached'
  /** The address service's remote address (announced, bound), or null. */
  remote: number | null
  /** Bytes of its Received messages not yet written. */
  buffered: number
}

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

/** The driver name of a channel an application claims without naming one (ClaimChannel.driver). */
export const GATEWAY_DRIVER = 'soclink_gateway'

/** A channel as ChannelInfo shows it (driver '' when no one holds it). */
export function channelInfo (ch: RpmsgChannel): soclink.rpmsg.v1.IChannelInfo {
  const bus = ch.bus
  const device = bus instanceof VirtioRpmsgBus || bus instanceof VhostRpmsgBus ? bus.dev.name : ''
  return { name: ch.name, src: ch.src, dst: ch.dst, driver: ch.driver ?? '', device }
}

const codeOf = (err: unknown): ErrorCode => err instanceof SoclinkError ? err.code : 'ERR_INTERNAL'
const messageOf = (err: unknown): string => err instanceof Error ? err.message : String(err)

export class RpmsgGatewayConnection {
  dropped = 0
  /** Sends waiting for a buffer (Send with timeout_ms). */
  private waiting = 0
  private readonly endpoints = new Map<number, GatewayEndpoint>()
  private closed = false
  /** Version 2: reading is paused while too many sends wait. */
  private paused = false
  /** Over limits.bufferedBytes since then (Date.now()): reading is paused; null while under. */
  private fullSince: number | null = null
  private fullTimer: NodeJS.Timeout | null = null
  /** Whether socket.pause() is in force (either reason). */
  private socketPaused = false
  /** Reading is paused while a link is full (back-pressure, any version). */
  private linkFull = false

  private readonly out: GatewayOutput
  /** Version 2: its reader, and its writer (which numbers the SENDs). */
  private readonly reader: BatchReader | null = null
  private readonly batches: V2Output | null = null
  /** Version 2: the CONTROL records of the batch being read, decoded while it is checked. */
  private readonly controls: ClientMessage[] = []

  /** `bus` gives the gateway's bus now, if any. */
  constructor (readonly id: number, readonly client: string, private readonly socket: GatewaySocket, private readonly bus: () => RpmsgBusCore | null,
    readonly version: GatewayVersion = 1, private readonly budget: GatewayBudget = { limits: DEFAULT_GATEWAY_LIMITS, endpoints: 0 },
    private readonly links: GatewayLinks = NO_LINKS) {
    const admit = (ept: GatewayEndpoint, n: number): boolean => this.admit(ept, n)
    if (version === 2) {
      this.reader = new BatchReader('client')
      this.batches = new V2Output(socket, admit)
      this.out = this.batches
    } else {
      this.out = new V1Output(socket, admit)
    }
  }

  /** One WebSocket message from the client. */
  onMessage (data: RawData, isBinary: boolean): void {
    if (this.closed) return
    if (!isBinary) { this.refuse('ERR_RPMSG_FORMAT', 'malformed client message: text messages are not accepted'); return }
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
    if (this.reader !== null) { this.onBatch(this.reader, bytes); this.checkBuffered(); return }
    this.onV1Message(bytes)
    this.checkBuffered()
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
    this.checkLinks()
  }

  /**
   * Back-pressure from the links: while one is full, the application's next
   * messages wait in TCP (the gateway stops reading) instead of filling the
   * replay buffer until the session ends. roomCame() reads again.
   */
  private checkLinks (): void {
    if (this.linkFull || this.closed || this.links.hasRoom()) return
    this.linkFull = true
    this.syncReading()
  }

  /** A link has room again (or lost its session): read again unless waiting sends still hold reading. */
  roomCame (): void {
    if (!this.linkFull || this.links.hasRoom() === false) return
    this.linkFull = false
    this.syncReading()
  }

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
    if (this.waiting >= MAX_WAITING_SENDS && !this.paused) {
      this.paused = true
      this.syncReading()
    }
    this.checkLinks()
  }

  /** Back-pressure on what waits to be written: reading stops past the bound (and the stall clock starts). */
  private checkBuffered (): void {
    if (this.closed || this.fullSince !== null || this.out.buffered() <= this.budget.limits.bufferedBytes) return
    this.fullSince = Date.now()
    this.syncReading()
    // ws says nothing when its buffer drains: look a few times per stall period while over.
    const every = Math.max(10, Math.min(250, this.budget.limits.stallMs / 4))
    this.fullTimer = setInterval(() => { this.whileFull() }, every)
  }

  private whileFull (): void {
    if (this.closed || this.fullSince === null) { this.stopFullTimer(); return }
    const limit = this.budget.limits
    if (this.out.buffered() <= limit.bufferedBytes / 2) {
      this.stopFullTimer()
      this.fullSince = null
      this.syncReading()
      return
    }
    if (Date.now() - this.fullSince < limit.stallMs) return
    this.stopFullTimer()
    this.refuse('ERR_RPMSG_SLOW_READER', `the application read nothing of the ${this.out.buffered()} bytes waiting for it (over ${limit.bufferedBytes}) for ${limit.stallMs} ms`)
    const socket = this.socket
    setTimeout(() => { if (socket.readyState !== CLOSED) socket.terminate?.() }, CLOSE_GRACE_MS).unref()
  }

  private stopFullTimer (): void {
    if (this.fullTimer !== null) clearInterval(this.fullTimer)
    this.fullTimer = null
  }

  /** socket.pause() while any reason holds (too many waiting sends, too much to write, a full link), resume() when none does. */
  private syncReading (): void {
    const pause = !this.closed && (this.paused || this.fullSince !== null || this.linkFull)
    if (pause === this.socketPaused) return
    this.socketPaused = pause
    if (pause) this.socket.pause?.()
    else this.socket.resume?.()
  }

  /** Bad input: one Error, then the socket is closed (with the code's close code) and the connection's endpoints go. */
  private refuse (code: ErrorCode, message: string): void {
    this.out.control({ error: { requestId: 0, code, message } })
    this.out.drain()
    this.socket.close(closeCodeOf(code), code)
    this.close()
  }

  private request (msg: ClientMessage): void {
    if (msg.createEndpoint != null) this.createEndpoint(msg.createEndpoint)
    else if (msg.destroyEndpoint != null) this.destroyEndpoint(msg.destroyEndpoint.addr ?? 0)
    else if (msg.claimChannel != null) this.claimChannel(msg.claimChannel)
    else if (msg.listChannels != null) this.listChannels(msg.listChannels.requestId ?? 0)
  }

  /** Destroys every endpoint this connection owns; idempotent. */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.stopFullTimer()
    this.out.close()
    for (const ept of this.endpoints.values()) ept.destroy()
    this.budget.endpoints -= this.endpoints.size
    this.endpoints.clear()
  }

  /** The endpoint at `addr` on `bus`, if this connection owns it. */
  endpointOn (bus: RpmsgBusCore, addr: number): GatewayEndpoint | undefined {
    const ept = this.endpoints.get(addr)
    return ept?.bus === bus ? ept : undefined
  }

  /** Whether this connection owns the channel `ch`. */
  ownsChannel (ch: RpmsgChannel): boolean { return [...this.endpoints.values()].some((e) => e.owns(ch)) }

  view (): GatewayConnectionView {
    return {
      id: this.id,
      client: this.client,
      endpoints: [...this.endpoints.values()].map((e) => ({
        addr: e.addr,
        name: e.name,
        announce: e.announce,
        state: e.bus === null ? 'detached' : 'attached',
        remote: e.remote === RPMSG_ADDR_ANY ? null : e.remote,
        buffered: e.buffered,
        ...e.counters
      })),
      dropped: this.dropped,
      buffered: this.out.buffered(),
      waiting: this.waiting
    }
  }

  /** The bus went away: each endpoint still on it is detached (its channel, if any, was reported destroyed already); a claimed channel's is gone. */
  busGone (): void {
    for (const ept of [...this.endpoints.values()]) {
      if (ept.claimed) this.lost(ept, 'the rpmsg bus went away with the channel')
      else if (ept.bus !== null) this.detached(ept, 'the rpmsg bus went away')
    }
  }

  /** A claimed channel went (NS DESTROY, or its bus): its endpoint is no longer this connection's. */
  private lost (ept: GatewayEndpoint, reason: string): void {
    ept.detach()
    this.endpoints.delete(ept.addr)
    this.budget.endpoints--
    this.send({ endpointState: { addr: ept.addr, state: State.STATE_DESTROYED, reason } })
  }

  /** A new bus: each detached endpoint is made again on it, or destroyed if its address is taken there. */
  busCame (bus: RpmsgBusCore): void {
    for (const ept of [...this.endpoints.values()]) {
      if (ept.bus !== null) continue
      try {
        ept.attach(bus)
      } catch (err) {
        this.endpoints.delete(ept.addr)
        this.budget.endpoints--
        this.send({ endpointState: { addr: ept.addr, state: State.STATE_DESTROYED, reason: `cannot be made again on the new rpmsg bus: ${messageOf(err)}` } })
        continue
      }
      this.send({ endpointState: { addr: ept.addr, state: State.STATE_ATTACHED, reason: 'on a new rpmsg bus', maxPayload: bus.maxPayload } })
    }
  }

  /** The bus's buffer size changed (vhost side: DRIVER_OK, a reset): each endpoint on it is told its new largest payload. */
  busResized (bus: RpmsgBusCore): void {
    for (const ept of this.endpoints.values()) if (ept.bus === bus) this.send({ endpointMaxPayload: { addr: ept.addr, maxPayload: bus.maxPayload } })
  }

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
    const ept = [...this.endpoints.values()].find((e) => e.owns(ch))
    if (ept?.claimed === true) this.lost(ept, `channel ${ch.name} was destroyed (NS DESTROY, or its rpmsg bus went)`)
    else if (ept !== undefined) this.detached(ept, `channel ${ch.name} was destroyed with its rpmsg bus`)
  }

  /** A channel was bound or released (ChannelBinding, to every connection). */
  channelBindingChanged (ch: RpmsgChannel): void {
    this.send({ channelBinding: { channel: channelInfo(ch) } })
  }

  /** The address service bound (AS ASSIGN) or unbound (AS FREE, a reset) one of our channels. */
  channelBinding (ch: RpmsgChannel): void {
    const ept = [...this.endpoints.values()].find((e) => e.owns(ch))
    if (ept !== undefined) this.send({ endpointBound: { addr: ept.addr, remote: ch.dst } })
  }

  private detached (ept: GatewayEndpoint, reason: string): void {
    const wasBound = ept.remote !== RPMSG_ADDR_ANY
    ept.detach()
    if (wasBound) this.send({ endpointBound: { addr: ept.addr, remote: RPMSG_ADDR_ANY } })
    this.send({ endpointState: { addr: ept.addr, state: State.STATE_DETACHED, reason } })
  }

  private createEndpoint (req: soclink.rpmsg.v1.CreateEndpoint.$Properties): void {
    const requestId = req.requestId ?? 0
    const bus = this.bus()
    if (bus === null) {
      this.error(requestId, 'ERR_NOT_FOUND', 'no rpmsg bus now: the other side is not linked yet, or restarting; try again when it is')
      return
    }
    if (!this.underLimits(requestId)) return
    try {
      const ept = GatewayEndpoint.create(bus, { name: req.name ?? '', addr: req.addr ?? 0, announce: req.announce === true },
        (e, src, payload) => { this.received(e, src, payload) }, this)
      this.endpoints.set(ept.addr, ept)
      this.budget.endpoints++
      this.send({ endpointCreated: { requestId, addr: ept.addr, maxPayload: bus.maxPayload } })
    } catch (err) {
      this.error(requestId, codeOf(err), messageOf(err))
    }
  }

  /** ClaimChannel: rpmsg_dev_probe() for an application (proto/rpmsg.proto, "Claiming channels"). */
  private claimChannel (req: soclink.rpmsg.v1.ClaimChannel.$Properties): void {
    const requestId = req.requestId ?? 0
    const bus = this.bus()
    if (bus === null) {
      this.error(requestId, 'ERR_NOT_FOUND', 'no rpmsg bus now: the other side is not linked yet, or restarting; try again when it is')
      return
    }
    if (!(bus instanceof VirtioRpmsgBus)) {
      this.error(requestId, 'ERR_RPMSG_UNSUPPORTED', 'channels are claimed on the virtio side; on the vhost side an application announces its own (CreateEndpoint with announce)')
      return
    }
    if (!this.underLimits(requestId)) return
    const name = req.name ?? ''
    const dst = req.dst ?? 0
    const ch = bus.channel(name)
    if (ch === undefined || (dst !== 0 && dst !== RPMSG_ADDR_ANY && ch.dst !== dst)) {
      this.error(requestId, 'ERR_NOT_FOUND', `no rpmsg channel ${JSON.stringify(name)}${dst !== 0 && dst !== RPMSG_ADDR_ANY ? ` at remote ${dst}` : ''} on this bus`)
      return
    }
    try {
      const ept = GatewayEndpoint.claim(bus, ch, req.driver !== undefined && req.driver !== null && req.driver !== '' ? req.driver : GATEWAY_DRIVER,
        (e, src, payload) => { this.received(e, src, payload) }, this)
      this.endpoints.set(ept.addr, ept)
      this.budget.endpoints++
      this.send({ channelClaimed: { requestId, addr: ept.addr, remote: ch.dst, maxPayload: bus.maxPayload, name: ch.name } })
    } catch (err) {
      this.error(requestId, codeOf(err), messageOf(err))
    }
  }

  /** ListChannels: every channel on the bus now. */
  private listChannels (requestId: number): void {
    const bus = this.bus()
    if (bus === null) {
      this.error(requestId, 'ERR_NOT_FOUND', 'no rpmsg bus now: the other side is not linked yet, or restarting; try again when it is')
      return
    }
    this.send({ channelList: { requestId, channels: [...bus.channels.values()].map(channelInfo) } })
  }

  /** Room for one more endpoint, or Error ERR_RPMSG_LIMIT and false. */
  private underLimits (requestId: number): boolean {
    const limit = this.budget.limits
    if (this.endpoints.size >= limit.endpointsPerConnection) {
      this.error(requestId, 'ERR_RPMSG_LIMIT', `this connection owns ${this.endpoints.size} endpoints: maxEndpointsPerConnection is ${limit.endpointsPerConnection}`)
      return false
    }
    if (this.budget.endpoints >= limit.endpoints) {
      this.error(requestId, 'ERR_RPMSG_LIMIT', `the gateway's connections own ${this.budget.endpoints} endpoints: maxEndpoints is ${limit.endpoints}`)
      return false
    }
    return true
  }

  private destroyEndpoint (addr: number): void {
    const ept = this.endpoints.get(addr)
    if (ept === undefined) {
      this.error(0, 'ERR_RPMSG_ADDR', `this connection owns no rpmsg endpoint ${addr}`)
      return
    }
    this.endpoints.delete(addr)
    this.budget.endpoints--
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
    if (this.paused && this.waiting <= MAX_WAITING_SENDS / 2) {
      this.paused = false
      this.syncReading()
    }
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
