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
import type { RpmsgBusCore } from '../../rpmsg/core.js'
import { RPMSG_ADDR_ANY, RPMSG_AS_ADDR, RPMSG_NS_ADDR, RpmsgError } from '../../rpmsg/wire.js'
import type { VhostRpmsgBus } from '../../rpmsg/vhost-rpmsg.js'
import type { VirtioRpmsgBus } from '../../rpmsg/virtio-rpmsg.js'
import type { GatewayConnectionView } from '../gateway-connection.js'
import { rpmsgGateway } from '../rpmsg-gateway.js'
import { errorReplies, fields, noContent, noFields, record } from '../schemas.js'
import { noRpmsgBus } from '../no-bus.js'
import {
  GatewayConnectionListSchema, RpmsgChannelListSchema, RpmsgChannelSchema, RpmsgEndpointListSchema,
  type RpmsgBusInfo, type RpmsgChannelInfo, type RpmsgEndpointInfo
} from '../../../../proto/api/index.js'

type Side = 'virtio' | 'vhost'

interface BusEntry { side: Side, device: string, bus: RpmsgBusCore }

/** What the routes answer: the contracts' types (proto/api/rpmsg.ts). */
export type RpmsgChannelView = RpmsgChannelInfo
export type RpmsgEndpointView = RpmsgEndpointInfo
export type RpmsgBusView = RpmsgBusInfo

/** At most 31 bytes of UTF-8 with no NUL (the 32-byte name field); the byte count is checked by the handler. */
const channelName = { type: 'string', minLength: 1, maxLength: 31, pattern: '^[^\\u0000]+$', description: 'channel name (rpmsg_ns_msg.name): 1..31 bytes of UTF-8' }
const nameParams = fields({ name: channelName })

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
      response: { 200: RpmsgChannelListSchema, ...errorReplies(400, 404) }
    }
  }, async () => ({ channels: channelViews(node) }))

  app.post<{ Body: { name: string } }>('/v1/rpmsg/channels', {
    schema: {
      summary: 'Create a channel on the ep\'s vhost rpmsg bus, announced to the rc by the name service',
      description: `On an rc: 409 ERR_RPMSG_UNSUPPORTED (${VHOST_ONLY}). A name in use: 409 ERR_CONFLICT; a name rpmsg cannot carry: 400 ERR_RPMSG_FORMAT; no free address: 409 ERR_RPMSG_ADDR. ${NO_BUS}`,
      tags: ['rpmsg'],
      querystring: noFields,
      body: record({ name: channelName }),
      response: { 201: RpmsgChannelSchema, ...errorReplies(400, 404, 409, 413, 415) }
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
      response: { 200: RpmsgChannelSchema, ...errorReplies(400, 404, 409) }
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
        200: RpmsgEndpointListSchema,
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
      response: { 200: GatewayConnectionListSchema, ...errorReplies(400) }
    }
  }, async (): Promise<{ connections: GatewayConnectionView[] }> => ({ connections: rpmsgGateway(node)?.connectionViews() ?? [] }))
}
