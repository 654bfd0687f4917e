// GET /v1/rpmsg: remote rpmsg endpoints over a WebSocket (proto/rpmsg.proto).
// The handshake chooses the version: the subprotocol soclink.rpmsg.v2 is
// version 2 (batches of records, one cumulative SENT; gateway-batches.ts),
// soclink.rpmsg.v1 or none is version 1 (one protobuf message per WebSocket
// message). A plain HTTP GET is answered 426.
//
// Each connection owns the endpoints it creates (gateway-connection.ts,
// gateway-endpoint.ts); they are all destroyed when the connection closes.
// CreateEndpoint with announce makes a channel on the vhost side (NS CREATE
// | AS_ANNOUNCE to the rc); the virtio side cannot announce and answers
// ERR_RPMSG_UNSUPPORTED. ClaimChannel, on the virtio side, binds a channel
// the other side announced as a driver would (rpmsg_dev_probe(): its
// endpoint, AS ASSIGN) and makes that endpoint the connection's;
// DestroyEndpoint or closing releases it (AS FREE). Channel events (name
// service) and ChannelBinding go to every connection; EndpointBound goes to
// the owner of the announced endpoint when the address service names its
// remote, or takes it back.
//
// Following the bus
//   The gateway (one per daemon) serves on the daemon's first rpmsg bus and
//   follows the role's rpmsg driver table (rpmsg/driver.ts): a bus is
//   attached when a virtio or vhost rpmsg device is probed and detached when
//   it is removed (the other side restarted or unlinked). A connection may
//   come before any bus; CreateEndpoint then answers ERR_NOT_FOUND and the
//   connection stays. When the bus goes, the connections' endpoints are
//   detached (EndpointState DETACHED) and kept; when one comes, they are
//   made again on it at the same addresses (EndpointState ATTACHED), before
//   anything else there takes addresses: the gateway listens first, and a
//   virtio bus is attached before DRIVER_OK, so before the name service
//   makes channels. An endpoint whose address is taken anyway is destroyed
//   (EndpointState DESTROYED).
//
// Flow control
//   Send with timeout_ms 0 is rpmsg_trysend(): a full ring answers Error
//   ERR_RPMSG_NO_BUFFER at once. With a timeout it is rpmsg_send(): the
//   connection's FIFO of waiting sends on the bus holds it until a buffer comes back (Sent) or
//   the time is up (ERR_RPMSG_TIMEOUT); a trySend never overtakes a waiting
//   send, so one connection's messages leave in the order they came and an
//   application can keep many in flight. A version 1 connection may have at
//   most MAX_WAITING_SENDS waiting; beyond that, ERR_RPMSG_NO_BUFFER at
//   once. A version 2 connection is refused none for that: the gateway
//   stops reading it (ws pause) while that many wait, and the application's
//   batches wait in TCP.
//   While a link of the daemon has no room left for edge writers in its
//   replay buffer (link/credit.ts), the gateway stops reading every
//   connection (either version) until acks free some: sends wait in TCP
//   instead of ending the session.
//   Loss: a send answered Sent rides on link frames; if the link session
//   ends before the peer acknowledged them, the message is lost, and the
//   endpoint's owner is told once per endpoint and session (Error
//   ERR_RPMSG_LOST with addr and a count; counter lost).
//   A payload over the bus's max_payload answers ERR_RPMSG_SIZE. That size
//   can change under an endpoint (the vhost side learns the negotiated one
//   at DRIVER_OK and falls back to 512-byte buffers at a reset): the bus says
//   so ('buf-size') and each owner is told (EndpointMaxPayload).
//   Received messages cannot be refused: rpmsg has no back-pressure toward
//   the sender (the virtio side's rx buffer goes back to the ring whatever
//   the endpoint does), and the kernel's own character device,
//   drivers/rpmsg/rpmsg_char.c, queues every message for its reader without
//   a limit (rpmsg_ept_cb(): alloc_skb(len, GFP_ATOMIC), skb_queue_tail()),
//   dropping one only when that allocation fails, and the bus ignores the
//   callback's -ENOMEM. The gateway bounds what it holds instead, and drops
//   the newest:
//   - per endpoint, the bytes of its Received messages handed to the socket
//     and not yet written (ws calls back when written) stay at most
//     ENDPOINT_QUEUE_BYTES (1 MiB); a Received message that would go over is
//     dropped;
//   - per connection, as a backstop for a client with many endpoints, a
//     Received message is dropped while the socket holds more than
//     CONNECTION_QUEUE_BYTES (4 MiB) not yet written, replies included.
//   Each drop is counted on its endpoint (GET /v1/rpmsg/endpoints,
//   /v1/rpmsg/connections); the first drop of an overflow episode is
//   reported once with Error ERR_RPMSG_OVERFLOW naming the endpoint
//   (Error.addr); the episode ends when a Received message for it is
//   accepted again. Replies, channel events, EndpointBound and EndpointState
//   are never dropped.
//
// Limits
//   A connection owns at most maxEndpointsPerConnection endpoints, and all of
//   them together maxEndpoints: CreateEndpoint beyond answers
//   ERR_RPMSG_LIMIT. While more than maxGatewayBufferedBytes wait to be
//   written to an application, the gateway stops reading it; past
//   gatewayStallMs so, it is disconnected (close 1008 ERR_RPMSG_SLOW_READER).
//   Sends waiting for a buffer are served round-robin between connections
//   (rpmsg/core.ts), so one application's backlog does not hold up another's.
//
// A text message, or a binary one that does not decode to a ClientMessage
// with a body, answers Error ERR_RPMSG_FORMAT and closes the socket with
// code 1008. A daemon whose role runs no rpmsg (the NTB board) answers
// Error ERR_NOT_FOUND and closes with 1011.

import type { FastifyInstance } from 'fastify'
import type { WebSocket } from 'ws'
import type { SoclinkNode } from '../node.js'
import type { RpmsgBusCore, RpmsgChannel } from '../rpmsg/core.js'
import type { RpmsgDriverTable } from '../rpmsg/driver.js'
import { UpgradeRequiredError } from './errors.js'
import { closeCodeOf } from '../errors.js'
import { DEFAULT_GATEWAY_LIMITS, NO_LINKS, RpmsgGatewayConnection, rpmsgWire, type GatewayBudget, type GatewayConnectionView, type GatewayLimits, type GatewayLinks, type GatewaySocket, type GatewayVersion } from './gateway-connection.js'
import type { AckedSession, DeliveryMark } from '../link/delivery.js'
import type { PeerLink } from '../link/peer-link.js'
import { RPMSG_V1_PROTOCOL, RPMSG_V2_PROTOCOL } from '../../../proto/rpmsg-batch.js'
import type { GatewayEndpoint } from './gateway-endpoint.js'
import { errorReplies, noFields } from './schemas.js'

export { rpmsgWire, ENDPOINT_QUEUE_BYTES, CONNECTION_QUEUE_BYTES } from './gateway-connection.js'

/** Where the gateway finds buses: the role's rpmsg driver table, and the buses already running. */
export interface BusSource {
  table: RpmsgDriverTable
  running: () => RpmsgBusCore[]
}

/** The owner of one endpoint on the gateway's bus. */
export interface GatewayOwner { connection: number, client: string, endpoint: GatewayEndpoint }

export class RpmsgGateway {
  private current: RpmsgBusCore | null = null
  private offBus: () => void = () => {}
  private readonly connections = new Set<RpmsgGatewayConnection>()
  private nextId = 1
  /** The limits every connection keeps, and the endpoints they own together. */
  private readonly budget: GatewayBudget

  constructor (private readonly source: BusSource, limits: GatewayLimits = DEFAULT_GATEWAY_LIMITS, private readonly links: GatewayLinks = NO_LINKS) {
    this.budget = { limits, endpoints: 0 }
    // prepend: the gateway's endpoints take their addresses back before other listeners make channels.
    source.table.prependListener('attached', (bus) => { if (this.current === null) this.follow(bus) })
    source.table.on('detached', (bus) => { if (bus === this.current) this.lose(bus) })
  }

  /** The bus the gateway serves on now, if any (taking up a running one it has not heard of, if it has none). */
  serving (): RpmsgBusCore | null {
    if (this.current === null) {
      const running = this.source.running()[0]
      if (running !== undefined) this.follow(running)
    }
    return this.current
  }

  /**
   * A new connection hears every channel on the bus now as a ChannelEvent
   * (created), as if each had just appeared: an application learns what is
   * there from the stream it already follows, with no REST call. The bus is
   * taken up first, so that a running one's channels go to it once.
   */
  connect (socket: GatewaySocket, client: string, version: GatewayVersion = 1): RpmsgGatewayConnection {
    const bus = this.serving()
    const conn = new RpmsgGatewayConnection(this.nextId++, client, socket, () => this.serving(), version, this.budget, this.links)
    this.connections.add(conn)
    for (const ch of bus?.channels.values() ?? []) conn.channelEvent(ch, true)
    return conn
  }

  disconnect (conn: RpmsgGatewayConnection): void {
    conn.close()
    this.connections.delete(conn)
  }

  /** A link has room for edge writers again: connections paused for it read again. */
  roomCame (): void { for (const c of this.connections) c.roomCame() }

  /** A link session ended: each connection tells its applications what they lost. */
  sessionLost (session: AckedSession, peer: string, reason: string): void {
    for (const c of this.connections) c.sessionLost(session, peer, reason)
  }

  connectionViews (): GatewayConnectionView[] { return [...this.connections].map((c) => c.view()) }

  /** Which connection owns the endpoint at `addr` on `bus`, if one does. */
  ownerOf (bus: RpmsgBusCore, addr: number): GatewayOwner | undefined {
    for (const c of this.connections) {
      const endpoint = c.endpointOn(bus, addr)
      if (endpoint !== undefined) return { connection: c.id, client: c.client, endpoint }
    }
    return undefined
  }

  /** Whether a connection owns the channel (an announced endpoint). */
  ownsChannel (ch: RpmsgChannel): boolean { return [...this.connections].some((c) => c.ownsChannel(ch)) }

  private follow (bus: RpmsgBusCore): void {
    this.current = bus
    const created = (ch: RpmsgChannel): void => { for (const c of this.connections) c.channelEvent(ch, true) }
    const destroyed = (ch: RpmsgChannel): void => { for (const c of this.connections) c.channelDestroyed(ch) }
    const binding = (ch: RpmsgChannel): void => { for (const c of this.connections) c.channelBinding(ch) }
    const resized = (): void => { for (const c of this.connections) c.busResized(bus) }
    const bindingChanged = (ch: RpmsgChannel): void => { for (const c of this.connections) c.channelBindingChanged(ch) }
    bus.on('channel-binding', bindingChanged)
    bus.on('channel-created', created)
    bus.on('channel-destroyed', destroyed)
    bus.on('channel-bound', binding)
    bus.on('channel-unbound', binding)
    bus.on('buf-size', resized)
    this.offBus = () => {
      bus.off('channel-created', created)
      bus.off('channel-destroyed', destroyed)
      bus.off('channel-bound', binding)
      bus.off('channel-unbound', binding)
      bus.off('buf-size', resized)
      bus.off('channel-binding', bindingChanged)
    }
    for (const c of this.connections) c.busCame(bus)
  }

  private lose (bus: RpmsgBusCore): void {
    this.offBus()
    this.offBus = () => {}
    this.current = null
    for (const c of this.connections) c.busGone()
    const next = this.source.running().find((b) => b !== bus)
    if (next !== undefined) this.follow(next)
  }
}

/**
 * The WebSocket subprotocol the API's WebSocket server selects: version 2
 * of the gateway if offered, in whatever order; else version 1 if offered;
 * else none (version 1 too, and every other route).
 */
export function selectProtocol (offered: Set<string>): string | false {
  if (offered.has(RPMSG_V2_PROTOCOL)) return RPMSG_V2_PROTOCOL
  return offered.has(RPMSG_V1_PROTOCOL) ? RPMSG_V1_PROTOCOL : false
}

const gateways = new WeakMap<SoclinkNode, RpmsgGateway>()

/** The daemon's gateway, made on first use; null if its role runs no rpmsg (the NTB board). */
export function rpmsgGateway (node: SoclinkNode): RpmsgGateway | null {
  let gw = gateways.get(node)
  if (gw !== undefined) return gw
  const table = node.rpmsg
  if (table === null) return null
  const s = node.settings
  gw = new RpmsgGateway({ table, running: () => table.attachedBuses().map((a) => a.bus) }, {
    endpointsPerConnection: s.maxEndpointsPerConnection,
    endpoints: s.maxEndpoints,
    bufferedBytes: s.maxGatewayBufferedBytes,
    stallMs: s.gatewayStallMs
  }, nodeLinks(node))
  const g = gw
  node.links.on('room', () => { g.roomCame() })
  // Before 'down' tears the devices down: the connections still know their endpoints.
  node.links.on('lost', (link, loss) => { g.sessionLost(loss.session, link.label, loss.reason) })
  gateways.set(node, gw)
  return gw
}

/**
 * The daemon's links as the gateway sees them. The links with a session are
 * listed again only when a link changes state (a send asks for their marks,
 * on the hot path).
 */
function nodeLinks (node: SoclinkNode): GatewayLinks {
  let live: PeerLink[] | null = null
  const current = (): PeerLink[] => (live ??= node.links.list().filter((l) => l.hasSession))
  node.links.on('state', () => { live = null })
  return {
    hasRoom: () => current().every((l) => !l.hasSession || l.hasRoom(1)),
    marks: () => {
      const out: DeliveryMark[] = []
      for (const l of current()) {
        const m = l.mark()
        if (m !== null) out.push(m)
      }
      return out
    }
  }
}

export function rpmsgGatewayRoutes (app: FastifyInstance, node: SoclinkNode): void {
  // Made now, not at the first connection, so that it sees every bus come and go.
  const gateway = rpmsgGateway(node)
  app.route({
    method: 'GET',
    url: '/v1/rpmsg',
    schema: {
      summary: 'Remote rpmsg endpoints (WebSocket, proto/rpmsg.proto)',
      description: 'Upgrade to a WebSocket; each binary message is one ClientMessage or ServerMessage of ' +
        'proto/rpmsg.proto (version 1), or, with the subprotocol soclink.rpmsg.v2, one batch of records (version 2). Endpoints belong to the connection and are destroyed when it closes; they outlive the rpmsg bus ' +
        '(detached, then made again at the same address on the next one). Send with timeout_ms 0 never waits (ERR_RPMSG_NO_BUFFER means retry); ' +
        'with a timeout it waits for a buffer, in order. ' +
        'An endpoint with more than 1 MiB of Received messages not yet written to its client (or a connection with more than ' +
        '4 MiB) loses the newest ones, counted per endpoint and reported once per episode (ERR_RPMSG_OVERFLOW). ' +
        'A request without Upgrade is answered 426.',
      tags: ['rpmsg'],
      querystring: noFields,
      response: { ...errorReplies(400, 426) }
    },
    handler: async () => {
      throw new UpgradeRequiredError('GET /v1/rpmsg is a WebSocket: send Upgrade: websocket')
    },
    // Synchronous up to the listeners, so no client message or bus event is missed.
    wsHandler: (socket: WebSocket, request) => {
      if (gateway === null) {
        socket.send(rpmsgWire.ServerMessage.encode({
          error: { requestId: 0, code: 'ERR_NOT_FOUND', message: `no rpmsg on ${node.settings.name} (role ${node.settings.role})` }
        }).finish(), { binary: true })
        socket.close(closeCodeOf('ERR_NOT_FOUND'), 'no rpmsg bus')
        return
      }
      const version = socket.protocol === RPMSG_V2_PROTOCOL ? 2 : 1
      const conn = gateway.connect(socket, `${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? 0}`, version)
      socket.on('message', (data, isBinary) => { conn.onMessage(data, isBinary) })
      socket.on('close', () => { gateway.disconnect(conn) })
      socket.on('error', () => { gateway.disconnect(conn) })
    }
  })
}
