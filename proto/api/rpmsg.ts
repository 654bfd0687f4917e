// Contracts of the rpmsg buses over REST (daemon/src/api/routes/rpmsg.ts):
// channels, endpoints (local addresses) with their owners, the buses'
// counters, and the rpmsg gateway's connections.

import { Type, count, record, str, type Static } from './schema.js'

const side = Type.Unsafe<'virtio' | 'vhost'>({ type: 'string', enum: ['virtio', 'vhost'], description: 'virtio: the rc\'s virtio_rpmsg_bus; vhost: the ep\'s vhost_rpmsg_bus' })
const addr = Type.Integer({ minimum: 0, maximum: 0xffff_ffff })
const countOf = (description: string): ReturnType<typeof Type.Integer> => Type.Integer({ minimum: 0, description })
const addrOrNull = (description: string): ReturnType<typeof Type.Unsafe<number | null>> => Type.Unsafe<number | null>({ anyOf: [addr, { type: 'null' }], description })
const stringOrNull = (description: string): ReturnType<typeof Type.Unsafe<string | null>> => Type.Unsafe<string | null>({ type: ['string', 'null'], description })

export const RpmsgChannelSchema = record({
  name: str,
  src: addrOrNull('local address; null while unbound (virtio side, rpmsgBind kernel: until a driver, an application (ClaimChannel) or rpmsgBindChannels claims it)'),
  dst: addrOrNull('remote address; null until bound (vhost side: by the address service)'),
  side,
  device: Type.String({ description: 'the virtio or vhost device the bus runs on' }),
  driver: stringOrNull('who holds the channel (rpdev->dev.driver): an rpmsg driver (rpmsg_client_sample), an application\'s claim (soclink_gateway, or the driver name it gave), soclink_config (rpmsgBindChannels), soclink_eager (rpmsgBind eager); null: none')
})

export const RpmsgChannelListSchema = record({ channels: Type.Array(RpmsgChannelSchema) })

export const RpmsgEndpointSchema = record({
  addr,
  side,
  device: str,
  channel: stringOrNull('the channel whose local address this is'),
  service: Type.Unsafe<'ns' | 'as' | null>({ type: ['string', 'null'], enum: ['ns', 'as', null], description: 'the bus\'s own name service (53) or address service (54) endpoint' }),
  owner: Type.Unsafe<'gateway' | 'bus'>({ type: 'string', enum: ['gateway', 'bus'], description: 'gateway: made by an application through ws /v1/rpmsg; bus: the bus\'s own (a service, or a channel)' }),
  connection: Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 1, description: 'the owning gateway connection (GET /v1/rpmsg/connections)' }),
  client: stringOrNull('the owning gateway connection\'s remote address'),
  counters: record({
    sent: countOf('messages sent from this address on this bus'),
    received: countOf('messages the bus delivered to it'),
    dropped: countOf('of those, Received messages the gateway dropped because its client read too slowly (over its whole life)')
  })
})

const BUS_COUNTERS = ['sent', 'received', 'malformed', 'serviceErrors', 'noBuffer', 'timeouts', 'delivered', 'unknown', 'failed'] as const

export const RpmsgBusSchema = record({
  side,
  device: str,
  counters: record(Object.fromEntries(BUS_COUNTERS.map((c) => [c, count])) as Record<typeof BUS_COUNTERS[number], typeof count>)
})

export const RpmsgEndpointListSchema = record({ endpoints: Type.Array(RpmsgEndpointSchema), buses: Type.Array(RpmsgBusSchema) })

export const GatewayEndpointSchema = record({
  addr,
  name: Type.String({ description: 'the channel name (announced), or what the application gave' }),
  announce: Type.Boolean(),
  state: Type.Unsafe<'attached' | 'detached'>({ type: 'string', enum: ['attached', 'detached'], description: 'detached: the rpmsg bus went away; made again at the same address when one comes' }),
  remote: addrOrNull('announced: the remote address the address service gave; null until bound'),
  buffered: countOf('bytes of its Received messages handed to the WebSocket and not yet written (at most 1 MiB)'),
  sent: countOf('Sends that went into a buffer'),
  received: countOf('messages the bus delivered to it'),
  dropped: countOf('Received messages dropped (overflow)'),
  lost: countOf('Sends answered Sent that the peer daemon never acknowledged before its link session ended (reported with ERR_RPMSG_LOST)')
})

export const GatewayConnectionSchema = record({
  id: Type.Integer({ minimum: 1 }),
  client: Type.String({ description: 'the application\'s address (host:port)' }),
  endpoints: Type.Array(GatewayEndpointSchema),
  dropped: countOf('Received messages dropped, all its endpoints together'),
  buffered: countOf('bytes the WebSocket has not yet written (Received messages, replies, events)'),
  waiting: countOf('sends (timeout_ms > 0) waiting for a free buffer, at most 1024')
})

export const GatewayConnectionListSchema = record({ connections: Type.Array(GatewayConnectionSchema) })

export type RpmsgChannelInfo = Static<typeof RpmsgChannelSchema>
export type RpmsgEndpointInfo = Static<typeof RpmsgEndpointSchema>
export type RpmsgBusInfo = Static<typeof RpmsgBusSchema>
export type RpmsgEndpointList = Static<typeof RpmsgEndpointListSchema>
export type GatewayConnectionInfo = Static<typeof GatewayConnectionSchema>
