// GET /v1/rpmsg: remote rpmsg endpoints over a WebSocket (proto/rpmsg.proto,
// one binary protobuf message per WebSocket message). A plain HTTP GET is
// answered 426.
//
// Each connection owns the endpoints it creates on the daemon's first rpmsg
// bus (the rc's virtio_rpmsg_bus or the ep's vhost_rpmsg_bus); they are all
// destroyed when the connection closes. CreateEndpoint with announce makes a
// channel on the vhost side (NS CREATE | AS_ANNOUNCE to the rc); the virtio
// side cannot announce and answers ERR_RPMSG_UNSUPPORTED. Channel events
// (name service) go to every connection; EndpointBound goes to the owner of
// the announced endpoint when the address service names its remote.
//
// Flow control
//   Send goes through the bus's trySend and never waits: a full ring answers
//   Error ERR_RPMSG_NO_BUFFER and the application retries (after a Sent or a
//   short delay). A payload over the bus's max_payload answers ERR_RPMSG_SIZE.
//   Outgoing traffic is bounded per connection: while the socket holds more
//   than MAX_BUFFERED (4 MiB) not yet written, Received messages are dropped
//   and counted in the connection's `dropped` counter, and the first drop of
//   each overflow episode is reported once with Error ERR_RPMSG_OVERFLOW. The
//   episode ends when a Received message finds the buffer below the bound
//   again. Replies, channel events and EndpointBound are never dropped.
//
// A text message, or a binary one that does not decode to a ClientMessage
// with a body, answers Error ERR_RPMSG_FORMAT and closes the socket with
// code 1008. A daemon with no rpmsg bus answers Error ERR_NOT_FOUND and
// closes with 1011.

import type { FastifyInstance } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import { soclink } from '../../../proto/gen/rpmsg.js'
import { SoclinkError } from '../errors.js'
import type { SoclinkNode } from '../node.js'
import type { RpmsgBusCore, RpmsgChannel } from '../rpmsg/core.js'
import type { Endpoint } from '../rpmsg/endpoints.js'
import { VhostRpmsgBus } from '../rpmsg/vhost-rpmsg.js'
import { RPMSG_ADDR_ANY } from '../rpmsg/wire.js'
import { UpgradeRequiredError } from './errors.js'
import { errorReplies, noFields } from './schemas.js'

export const rpmsgWire = soclink.rpmsg.v1
type ServerMessage = soclink.rpmsg.v1.ServerMessage.$Properties

/** Bytes a connection may have queued before Received messages are dropped. */
export const MAX_BUFFERED = 4 * 1024 * 1024

/** The daemon's first rpmsg bus (as GET /v1/rpmsg/* finds them), or undefined. */
export function firstRpmsgBus (node: SoclinkNode): RpmsgBusCore | undefined {
  return node.pcieRc?.rpmsgDriver.allBuses()[0] ?? node.pcieEp?.rpmsgDriver.allBuses()[0]
}

const codeOf = (err: unknown): string => err instanceof SoclinkError ? err.code : 'ERR_INTERNAL'
const messageOf = (err: unknown): string => err instanceof Error ? err.message : String(err)

/** One WebSocket client and what it owns. */
export class RpmsgGatewayConnection {
  /** Received messages dropped because the client read too slowly. */
  dropped = 0
  private overflowing = false
  private readonly endpoints = new Map<number, Endpoint>()
  private readonly channels = new Map<number, RpmsgChannel>()
  private readonly offBus: Array<() => void> = []
  private closed = false

  constructor (readonly socket: WebSocket, readonly bus: RpmsgBusCore) {
    const created = (ch: RpmsgChannel): void => { this.channelEvent(ch, true) }
    const destroyed = (ch: RpmsgChannel): void => {
      if (this.channels.get(ch.src) === ch) this.channels.delete(ch.src)
      this.channelEvent(ch, false)
    }
    const bound = (ch: RpmsgChannel): void => {
      if (this.channels.get(ch.src) === ch) this.send({ endpointBound: { addr: ch.src, remote: ch.dst } })
    }
    bus.on('channel-created', created)
    bus.on('channel-destroyed', destroyed)
    bus.on('channel-bound', bound)
    this.offBus.push(() => {
      bus.off('channel-created', created)
      bus.off('channel-destroyed', destroyed)
      bus.off('channel-bound', bound)
    })
  }

  /** One WebSocket message from the client. */
  onMessage (data: RawData, isBinary: boolean): void {
    if (this.closed) return
    let msg
    try {
      if (!isBinary) throw new Error('text messages are not accepted')
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
      msg = rpmsgWire.ClientMessage.decode(bytes)
      if (msg.body === undefined) throw new Error('a ClientMessage with no body')
    } catch (err) {
      this.error(0, 'ERR_RPMSG_FORMAT', `malformed client message: ${messageOf(err)}`)
      this.socket.close(1008, 'malformed client message')
      this.close()
      return
    }
    if (msg.createEndpoint != null) this.createEndpoint(msg.createEndpoint)
    else if (msg.destroyEndpoint != null) this.destroyEndpoint(msg.destroyEndpoint.addr ?? 0)
    else if (msg.send != null) this.sendMessage(msg.send)
  }

  /** Destroys every endpoint and channel this connection owns; idempotent. */
  close (): void {
    if (this.closed) return
    this.closed = true
    for (const off of this.offBus.splice(0)) off()
    for (const ept of this.endpoints.values()) this.bus.destroyEndpoint(ept)
    this.endpoints.clear()
    for (const ch of [...this.channels.values()]) this.dropChannel(ch)
    this.channels.clear()
  }

  private createEndpoint (req: soclink.rpmsg.v1.CreateEndpoint.$Properties): void {
    const requestId = req.requestId ?? 0
    const addr = req.addr ?? 0
    try {
      let local: number
      if (req.announce === true) {
        if (!(this.bus instanceof VhostRpmsgBus)) {
          throw new SoclinkError('ERR_RPMSG_UNSUPPORTED', 'only the vhost side (an ep) announces endpoints; create a plain endpoint and use the channel events')
        }
        if (addr !== RPMSG_ADDR_ANY) throw new SoclinkError('ERR_RPMSG_ADDR', 'an announced endpoint takes its address from 1024 up: addr must be 0xffffffff')
        const ch = this.bus.createChannel(req.name ?? '')
        this.channels.set(ch.src, ch)
        ch.on('message', (payload, src) => { this.received(ch.src, src, payload) })
        local = ch.src
      } else {
        const ept = this.bus.createEndpoint(addr, (payload, src, e) => { this.received(e.addr, src, payload) })
        this.endpoints.set(ept.addr, ept)
        local = ept.addr
      }
      this.send({ endpointCreated: { requestId, addr: local, maxPayload: this.bus.maxPayload } })
    } catch (err) {
      this.error(requestId, codeOf(err), messageOf(err))
    }
  }

  private destroyEndpoint (addr: number): void {
    const ept = this.endpoints.get(addr)
    const ch = this.channels.get(addr)
    if (ept !== undefined) {
      this.endpoints.delete(addr)
      this.bus.destroyEndpoint(ept)
    } else if (ch !== undefined) {
      this.dropChannel(ch)
    } else {
      this.error(0, 'ERR_RPMSG_ADDR', `this connection owns no rpmsg endpoint ${addr}`)
    }
  }

  private sendMessage (req: soclink.rpmsg.v1.Send.$Properties): void {
    const requestId = req.requestId ?? 0
    const src = req.src ?? 0
    const payload = req.payload ?? new Uint8Array(0)
    if (!this.endpoints.has(src) && !this.channels.has(src)) {
      this.error(requestId, 'ERR_RPMSG_ADDR', `this connection owns no rpmsg endpoint ${src}`)
      return
    }
    if (payload.length > this.bus.maxPayload) {
      this.error(requestId, 'ERR_RPMSG_SIZE', `payload of ${payload.length} bytes is over the bus's ${this.bus.maxPayload}`)
      return
    }
    try {
      this.bus.trySend(src, req.dst ?? 0, payload)
    } catch (err) {
      this.error(requestId, codeOf(err), messageOf(err))
      return
    }
    this.send({ sent: { requestId } })
  }

  private dropChannel (ch: RpmsgChannel): void {
    this.channels.delete(ch.src)
    ch.removeAllListeners('message')
    if (this.bus instanceof VhostRpmsgBus && this.bus.channels.get(ch.name) === ch) {
      try { this.bus.destroyChannel(ch.name) } catch { /* already gone */ }
    }
  }

  private channelEvent (ch: RpmsgChannel, created: boolean): void {
    this.send({ channelEvent: { name: ch.name, src: ch.src, dst: ch.dst, created } })
  }

  /** A message for one of our endpoints, subject to the overflow policy. */
  private received (dst: number, src: number, payload: Uint8Array): void {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return
    if (this.socket.bufferedAmount > MAX_BUFFERED) {
      this.dropped++
      if (!this.overflowing) {
        this.overflowing = true
        this.error(0, 'ERR_RPMSG_OVERFLOW', `client too slow: Received messages are being dropped (${this.dropped} so far)`)
      }
      return
    }
    this.overflowing = false
    this.send({ received: { dst, src, payload } })
  }

  private error (requestId: number, code: string, message: string): void {
    this.send({ error: { requestId, code, message } })
  }

  private send (msg: ServerMessage): void {
    if (this.socket.readyState !== this.socket.OPEN) return
    this.socket.send(rpmsgWire.ServerMessage.encode(msg).finish(), { binary: true })
  }
}

export function rpmsgGatewayRoutes (app: FastifyInstance, node: SoclinkNode): void {
  app.route({
    method: 'GET',
    url: '/v1/rpmsg',
    schema: {
      summary: 'Remote rpmsg endpoints (WebSocket, proto/rpmsg.proto)',
      description: 'Upgrade to a WebSocket; each binary message is one ClientMessage or ServerMessage of ' +
        'proto/rpmsg.proto. Endpoints belong to the connection and are destroyed when it closes. Send never waits: ' +
        'ERR_RPMSG_NO_BUFFER means retry. A client more than 4 MiB behind loses Received messages (ERR_RPMSG_OVERFLOW). ' +
        'A request without Upgrade is answered 426.',
      tags: ['rpmsg'],
      querystring: noFields,
      response: { ...errorReplies(400, 426) }
    },
    handler: async () => {
      throw new UpgradeRequiredError('GET /v1/rpmsg is a WebSocket: send Upgrade: websocket')
    },
    // Synchronous up to the listeners, so no client message or bus event is missed.
    wsHandler: (socket: WebSocket) => {
      const bus = firstRpmsgBus(node)
      if (bus === undefined) {
        socket.send(rpmsgWire.ServerMessage.encode({
          error: { requestId: 0, code: 'ERR_NOT_FOUND', message: `no rpmsg bus on ${node.settings.name}` }
        }).finish(), { binary: true })
        socket.close(1011, 'no rpmsg bus')
        return
      }
      const conn = new RpmsgGatewayConnection(socket, bus)
      socket.on('message', (data, isBinary) => { conn.onMessage(data, isBinary) })
      socket.on('close', () => { conn.close() })
      socket.on('error', () => { conn.close() })
    }
  })
}
