// rpmsg channels and endpoints over the PCIe virtio devices: the rc's
// virtio_rpmsg_bus and the ep's vhost_rpmsg_bus. Channels are created and
// destroyed on the vhost side (ep), as the RFC's rpmsg configfs does, and
// announced to the virtio side by the name service; on an rc they are only
// listed. A daemon with no rpmsg bus answers 404. Endpoints show who owns
// them (an rpmsg gateway connection, or the bus itself) and their own
// counters; /v1/rpmsg/connections shows the gateway's connections.

import type { FastifyInstance } from 'fastify'
import { ConflictError, NotFoundError } from '../../errors.js'
import type { SoclinkNode } from '../../node.js'
import type { RpmsgBusCore, RpmsgCounters } from '../../rpmsg/core.js'
import type { EndpointCounters } from '../../rpmsg/endpoints.js'
import { RPMSG_ADDR_ANY, RPMSG_AS_ADDR, RPMSG_NS_ADDR, RpmsgError } from '../../rpmsg/wire.js'
import type { VhostRpmsgBus } from '../../rpmsg/vhost-rpmsg.js'
import type { VirtioRpmsgBus } from '../../rpmsg/virtio-rpmsg.js'
import type { GatewayConnectionView } from '../gateway-connection.js'
import { rpmsgGateway } from '../rpmsg-gateway.js'
import { errorReplies, fields, noContent, noFields, record } from '../schemas.js'
import { noRpmsgBus } from '../no-bus.js'

type Side = 'virtio' | 'vhost'

interface BusEntry { side: Side, device: string, bus: RpmsgBusCore }

export interface RpmsgChannelView { name: string, src: number | null, dst: number | null, side: Side, device: string, driver: string | null }
export interface RpmsgEndpointView {
  addr: number
  side: Side
  device: string
  channel: string | null
  service: 'ns' | 'as' | null
  /** gateway: an rpmsg gateway connection's (connection, client); bus: the bus's own (name service, address service, a channel). */
  owner: 'gateway' | 'bus'
  connection: number | null
  client: string | null
  counters: { sent: number, received: number, dropped: number }
}
export interface RpmsgBusView { side: Side, device: string, counters: RpmsgCounters & EndpointCounters }

/** At most 31 bytes of UTF-8 with no NUL (the 32-byte name field); the byte count is checked by the handler. */
const channelName = { type: 'string', minLength: 1, maxLength: 31, pattern: '^[^\\u0000]+$', description: 'channel name (rpmsg_ns_msg.name): 1..31 bytes of UTF-8' }
const nameParams = fields({ name: channelName })
const side = { type: 'string', enum: ['virtio', 'vhost'], description: 'virtio: the rc\'s virtio_rpmsg_bus; vhost: the ep\'s vhost_rpmsg_bus' }
const addr = { type: 'integer', minimum: 0, maximum: 0xffff_ffff }
const count = { type: 'integer', minimum: 0 }

const ChannelSchema = record({
  name: { type: 'string' },
  src: { anyOf: [addr, { type: 'null' }], description: 'local address; null while unbound (virtio side, rpmsgBind kernel: until a driver, an application (ClaimChannel) or rpmsgBindChannels claims it)' },
  dst: { anyOf: [addr, { type: 'null' }], description: 'remote address; null until bound (vhost side: by the address service)' },
  side,
  device: { type: 'string', description: 'the virtio or vhost device the bus runs on' },
  driver: { type: ['string', 'null'], description: 'who holds the channel (rpdev->dev.driver): an rpmsg driver (rpmsg_client_sample), an application\'s claim (soclink_gateway, or the driver name it gave), soclink_config (rpmsgBindChannels), soclink_eager (rpmsgBind eager); null: none' }
})

const EndpointSchema = record({
  addr,
  side,
  device: { type: 'string' },
  channel: { type: ['string', 'null'], description: 'the channel whose local address this is' },
  service: { type: ['string', 'null'], enum: ['ns', 'as', null], description: 'the bus\'s own name service (53) or address service (54) endpoint' },
  owner: { type: 'string', enum: ['gateway', 'bus'], description: 'gateway: made by an application through ws /v1/rpmsg; bus: the bus\'s own (a service, or a channel)' },
  connection: { type: ['integer', 'null'], minimum: 1, description: 'the owning gateway connection (GET /v1/rpmsg/connections)' },
  client: { type: ['string', 'null'], description: 'the owning gateway connection\'s remote address' },
  counters: record({
    sent: { ...count, description: 'messages sent from this address on this bus' },
    received: { ...count, description: 'messages the bus delivered to it' },
    dropped: { ...count, description: 'of those, Received messages the gateway dropped because its client read too slowly (over its whole life)' }
  })
})

const GatewayEndpointSchema = record({
  addr,
  name: { type: 'string', description: 'the channel name (announced), or what the application gave' },
  announce: { type: 'boolean' },
  state: { type: 'string', enum: ['attached', 'detached'], description: 'detached: the rpmsg bus went away; made again at the same address when one comes' },
  remote: { anyOf: [addr, { type: 'null' }], description: 'announced: the remote address the address service gave; null until bound' },
  buffered: { ...count, description: 'bytes of its Received messages handed to the WebSocket and not yet written (at most 1 MiB)' },
  sent: { ...count, description: 'Sends that went into a buffer' },
  received: { ...count, description: 'messages the bus delivered to it' },
  dropped: { ...count, description: 'Received messages dropped (overflow)' },
  lost: { ...count, description: 'Sends answered Sent that the peer daemon never acknowledged before its link session ended (reported with ERR_RPMSG_LOST)' }
})

const ConnectionSchema = record({
  id: { type: 'integer', minimum: 1 },
  client: { type: 'string', description: 'the application\'s address (host:port)' },
  endpoints: { type: 'array', items: GatewayEndpointSchema },
  dropped: { ...count, description: 'Received messages dropped, all its endpoints together' },
  buffered: { ...count, description: 'bytes the WebSocket has not yet written (Received messages, replies, events)' },
  waiting: { ...count, description: 'sends (timeout_ms > 0) waiting for a free buffer, at most 1024' }
})

const BusSchema = record({
  side,
  device: { type: 'string' },
  counters: record({
    sent: count, received: count, malformed: count, serviceErrors: count, noBuffer: count, timeouts: count, delivered: count, unknown: count, failed: count
  })
})

const NO_BUS = 'A daemon with no rpmsg bus (the NTB board, or no rpmsg device bound yet) answers 404 ERR_NOT_FOUND.'
const VHOST_ONLY = 'channels are created on the vhost side, as the RFC\'s rpmsg configfs does'

function buses (node: SoclinkNode): BusEntry[] {
  const out: BusEntry[] = (node.rpmsg?.attachedBuses() ?? []).map(({ bus, parent }) => ({ side: parent.side, device: parent.device, bus }))
  if (out.length === 0) throw noRpmsgBus(node.settings)
  return out
}

/** The ep's vhost rpmsg bus; 409 ERR_RPMSG_UNSUPPORTED on an rc (channels are made on the vhost side, as the gateway answers), 404 with none. */
function vhostBus (node: SoclinkNode): VhostRpmsgBus {
  const all = node.rpmsg?.attachedBuses() ?? []
  const vhost = all.find((a) => a.parent.side === 'vhost')
  if (vhost === undefined && (node.settings.role === 'rc' || node.settings.role === 'ntb-virtio' || all.length > 0)) throw new RpmsgError('ERR_RPMSG_UNSUPPORTED', VHOST_ONLY)
  if (vhost === undefined) throw noRpmsgBus(node.settings, 'vhost rpmsg bus')
  return vhost.bus as VhostRpmsgBus
}

/** The driver name of a REST claim (POST /v1/rpmsg/channels/:name/claim). */
export const REST_DRIVER = 'soclink_rest'

/** The virtio side's rpmsg bus; 409 ERR_RPMSG_UNSUPPORTED on a vhost-only daemon (channels are claimed on the virtio side, as the gateway answers), 404 with none. */
function virtioBus (node: SoclinkNode): { bus: VirtioRpmsgBus, device: string } {
  const all = buses(node)
  const virtio = all.find((b) => b.side === 'virtio')
  if (virtio === undefined) throw new RpmsgError('ERR_RPMSG_UNSUPPORTED', 'channels are claimed on the virtio side (an rc, an ntb-virtio host); on the vhost side their announcer makes them')
  return { bus: virtio.bus as VirtioRpmsgBus, device: virtio.device }
}

function channelViews (node: SoclinkNode): RpmsgChannelView[] {
  return buses(node).flatMap(({ side, device, bus }) => [...bus.channels.values()].map((ch) =>
    ({ name: ch.name, src: ch.src === RPMSG_ADDR_ANY ? null : ch.src, dst: ch.dst === RPMSG_ADDR_ANY ? null : ch.dst, side, device, driver: ch.driver })))
}

function endpointViews (node: SoclinkNode): { endpoints: RpmsgEndpointView[], buses: RpmsgBusView[] } {
  const all = buses(node)
  const gateway = rpmsgGateway(node)
  const endpoints = all.flatMap(({ side, device, bus }) => {
    const byAddr = new Map([...bus.channels.values()].map((ch) => [ch.src, ch.name]))
    return bus.endpoints.addresses().map((a): RpmsgEndpointView => {
      const owner = gateway?.ownerOf(bus, a)
      const traffic = bus.endpoints.get(a)!.traffic
      return {
        addr: a,
        side,
        device,
        channel: byAddr.get(a) ?? null,
        service: a === RPMSG_NS_ADDR ? 'ns' : a === RPMSG_AS_ADDR ? 'as' : null,
        owner: owner === undefined ? 'bus' : 'gateway',
        connection: owner?.connection ?? null,
        client: owner?.client ?? null,
        counters: { sent: traffic.sent, received: traffic.received, dropped: owner?.endpoint.counters.dropped ?? 0 }
      }
    })
  })
  return {
    endpoints,
    buses: all.map(({ side, device, bus }) => ({ side, device, counters: { ...bus.counters, ...bus.endpoints.counters } }))
  }
}

export function rpmsgRoutes (app: FastifyInstance, node: SoclinkNode): void {
  app.get('/v1/rpmsg/channels', {
    schema: {
      summary: 'rpmsg channels on this daemon\'s rpmsg bus(es)',
      description: NO_BUS,
      tags: ['rpmsg'],
      querystring: noFields,
      response: { 200: record({ channels: { type: 'array', items: ChannelSchema } }), ...errorReplies(400, 404) }
    }
  }, async () => ({ channels: channelViews(node) }))

  app.post<{ Body: { name: string } }>('/v1/rpmsg/channels', {
    schema: {
      summary: 'Create a channel on the ep\'s vhost rpmsg bus, announced to the rc by the name service',
      description: `On an rc: 409 ERR_RPMSG_UNSUPPORTED (${VHOST_ONLY}). A name in use: 409 ERR_CONFLICT; a name rpmsg cannot carry: 400 ERR_RPMSG_FORMAT; no free address: 409 ERR_RPMSG_ADDR. ${NO_BUS}`,
      tags: ['rpmsg'],
      querystring: noFields,
      body: record({ name: channelName }),
      response: { 201: ChannelSchema, ...errorReplies(400, 404, 409, 413, 415) }
    }
  }, async (request, reply): Promise<RpmsgChannelView> => {
    const bus = vhostBus(node)
    const ch = bus.createChannel(request.body.name)
    reply.code(201)
    return { name: ch.name, src: ch.src, dst: ch.dst === RPMSG_ADDR_ANY ? null : ch.dst, side: 'vhost', device: bus.dev.name, driver: ch.driver }
  })

  app.delete<{ Params: { name: string } }>('/v1/rpmsg/channels/:name', {
    schema: {
      summary: 'Destroy a channel on the ep\'s vhost rpmsg bus (NS DESTROY to the rc)',
      description: `On an rc: 409 ERR_RPMSG_UNSUPPORTED (${VHOST_ONLY}). A channel an application announced through ws /v1/rpmsg: 409 ERR_CONFLICT. ${NO_BUS}`,
      tags: ['rpmsg'],
      params: nameParams,
      querystring: noFields,
      response: { 204: noContent, ...errorReplies(400, 404, 409) }
    }
  }, async (request, reply) => {
    const bus = vhostBus(node)
    const ch = bus.channels.get(request.params.name)
    // An application's announced endpoint goes with its gateway connection (or DestroyEndpoint), not from here.
    if (ch !== undefined && rpmsgGateway(node)?.ownsChannel(ch) === true) {
      throw new ConflictError(`rpmsg channel ${ch.name} belongs to an rpmsg gateway connection (GET /v1/rpmsg/connections)`)
    }
    bus.destroyChannel(request.params.name)
    return reply.code(204).send()
  })

  app.post<{ Params: { name: string } }>('/v1/rpmsg/channels/:name/claim', {
    schema: {
      summary: 'Bind an announced channel on the virtio side, as a driver claiming it would (rpmsg_dev_probe(): its endpoint, AS ASSIGN)',
      description: 'The REST claim is a binding with no reader (driver soclink_rest), as --rpmsg-bind-channel is, for this channel ' +
        'while it lives: messages to its endpoint are counted and dropped, and an application may still claim it (ClaimChannel); ' +
        'it stays bound when the application lets go. 409 ERR_BUSY if the configuration, eager binding or another REST claim ' +
        `holds it already; 409 ERR_RPMSG_UNSUPPORTED on the vhost side (channels are claimed on the virtio side). ${NO_BUS}`,
      tags: ['rpmsg'],
      params: nameParams,
      querystring: noFields,
      response: { 200: ChannelSchema, ...errorReplies(400, 404, 409) }
    }
  }, async (request) => {
    const { bus, device } = virtioBus(node)
    const ch = bus.channel(request.params.name)
    if (ch === undefined) throw new NotFoundError('rpmsg channel', request.params.name)
    bus.claimChannel(ch, REST_DRIVER, true)
    return { name: ch.name, src: ch.src, dst: ch.dst, side: 'virtio', device, driver: ch.driver }
  })

  app.delete<{ Params: { name: string } }>('/v1/rpmsg/channels/:name/claim', {
    schema: {
      summary: 'Release a REST claim (rpmsg_dev_remove(): AS FREE, unless an application or the configuration still holds the channel)',
      description: `404 ERR_NOT_FOUND if the channel has no REST claim. ${NO_BUS}`,
      tags: ['rpmsg'],
      params: nameParams,
      querystring: noFields,
      response: { 204: noContent, ...errorReplies(400, 404, 409) }
    }
  }, async (request, reply) => {
    const { bus } = virtioBus(node)
    const ch = bus.channel(request.params.name)
    if (ch?.keeper !== REST_DRIVER) throw new NotFoundError('REST claim on rpmsg channel', request.params.name)
    bus.releaseChannel(ch, REST_DRIVER)
    return reply.code(204).send()
  })

  app.get('/v1/rpmsg/endpoints', {
    schema: {
      summary: 'rpmsg endpoints (local addresses) on this daemon\'s rpmsg bus(es), with their owners and counters, and each bus\'s counters',
      description: 'Each endpoint: who owns it (an rpmsg gateway connection, or the bus) and its messages sent, received and ' +
        'dropped by the gateway. Each bus: sent and received messages, malformed buffers, refused NS/AS ' +
        `messages, trySend and send failures, and messages delivered, to no endpoint, or to a callback that threw. ${NO_BUS}`,
      tags: ['rpmsg'],
      querystring: noFields,
      response: {
        200: record({ endpoints: { type: 'array', items: EndpointSchema }, buses: { type: 'array', items: BusSchema } }),
        ...errorReplies(400, 404)
      }
    }
  }, async () => endpointViews(node))

  app.get('/v1/rpmsg/connections', {
    schema: {
      summary: 'Applications connected to the rpmsg gateway (ws /v1/rpmsg) and the endpoints each owns',
      description: 'Endpoints are listed while detached too (no rpmsg bus now). Empty on a daemon whose role has no rpmsg.',
      tags: ['rpmsg'],
      querystring: noFields,
      response: { 200: record({ connections: { type: 'array', items: ConnectionSchema } }), ...errorReplies(400) }
    }
  }, async (): Promise<{ connections: GatewayConnectionView[] }> => ({ connections: rpmsgGateway(node)?.connectionViews() ?? [] }))
}
