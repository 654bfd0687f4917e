// The requests of one gateway connection that make or list endpoints and
// channels: CreateEndpoint, ClaimChannel (rpmsg_dev_probe() for an
// application) and ListChannels (proto/rpmsg.proto). Kept apart from
// gateway-connection.ts, which decodes the frames and hands these requests
// here; the endpoints made go into its table (gateway-endpoint-table.ts).

import type { soclink } from '../../../proto/gen/rpmsg.js'
import { SoclinkError, type ErrorCode } from '../errors.js'
import type { RpmsgBusCore, RpmsgChannel } from '../rpmsg/core.js'
import { RPMSG_ADDR_ANY } from '../rpmsg/wire.js'
import { VirtioRpmsgBus } from '../rpmsg/virtio-rpmsg.js'
import { VhostRpmsgBus } from '../rpmsg/vhost-rpmsg.js'
import { GatewayEndpoint, type Delivery } from './gateway-endpoint.js'
import type { GatewayEndpointTable } from './gateway-endpoint-table.js'
import type { ServerMessage } from './gateway-output.js'

/** What a request needs of its connection. */
export interface RequestTarget {
  /** The gateway's bus now, if any. */
  readonly bus: () => RpmsgBusCore | null
  readonly endpoints: GatewayEndpointTable
  /** Where the new endpoint's Received messages go (the overflow policy). */
  readonly deliver: Delivery
  /** The endpoint's send queue owner (the connection). */
  readonly queue: object
  error: (requestId: number, code: ErrorCode, message: string) => void
  send: (msg: ServerMessage) => void
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

export function createEndpoint (t: RequestTarget, req: soclink.rpmsg.v1.CreateEndpoint.$Properties): void {
  const requestId = req.requestId ?? 0
  const bus = busOrRefuse(t, requestId)
  if (bus === null) return
  if (!underLimits(t, requestId)) return
  try {
    const ept = GatewayEndpoint.create(bus, { name: req.name ?? '', addr: req.addr ?? 0, announce: req.announce === true }, t.deliver, t.queue)
    t.endpoints.add(ept)
    t.send({ endpointCreated: { requestId, addr: ept.addr, maxPayload: bus.maxPayload } })
  } catch (err) {
    t.error(requestId, codeOf(err), messageOf(err))
  }
}

/** ClaimChannel: rpmsg_dev_probe() for an application (proto/rpmsg.proto, "Claiming channels"). */
export function claimChannel (t: RequestTarget, req: soclink.rpmsg.v1.ClaimChannel.$Properties): void {
  const requestId = req.requestId ?? 0
  const bus = busOrRefuse(t, requestId)
  if (bus === null) return
  if (!(bus instanceof VirtioRpmsgBus)) {
    t.error(requestId, 'ERR_RPMSG_UNSUPPORTED', 'channels are claimed on the virtio side; on the vhost side an application announces its own (CreateEndpoint with announce)')
    return
  }
  if (!underLimits(t, requestId)) return
  const name = req.name ?? ''
  const dst = req.dst ?? 0
  const ch = bus.channel(name)
  if (ch === undefined || (dst !== 0 && dst !== RPMSG_ADDR_ANY && ch.dst !== dst)) {
    t.error(requestId, 'ERR_NOT_FOUND', `no rpmsg channel ${JSON.stringify(name)}${dst !== 0 && dst !== RPMSG_ADDR_ANY ? ` at remote ${dst}` : ''} on this bus`)
    return
  }
  try {
    const driver = req.driver !== undefined && req.driver !== null && req.driver !== '' ? req.driver : GATEWAY_DRIVER
    const ept = GatewayEndpoint.claim(bus, ch, driver, t.deliver, t.queue)
    t.endpoints.add(ept)
    t.send({ channelClaimed: { requestId, addr: ept.addr, remote: ch.dst, maxPayload: bus.maxPayload, name: ch.name } })
  } catch (err) {
    t.error(requestId, codeOf(err), messageOf(err))
  }
}

/** ListChannels: every channel on the bus now. */
export function listChannels (t: RequestTarget, requestId: number): void {
  const bus = busOrRefuse(t, requestId)
  if (bus === null) return
  t.send({ channelList: { requestId, channels: [...bus.channels.values()].map(channelInfo) } })
}

/** The rpmsg bus now, or Error ERR_NOT_FOUND (the request waits for none) and null. */
function busOrRefuse (t: RequestTarget, requestId: number): ReturnType<RequestTarget['bus']> {
  const bus = t.bus()
  if (bus === null) t.error(requestId, 'ERR_NOT_FOUND', 'no rpmsg bus now: the other side is not linked yet, or restarting; try again when it is')
  return bus
}

/** Room for one more endpoint, or Error ERR_RPMSG_LIMIT and false. */
function underLimits (t: RequestTarget, requestId: number): boolean {
  const over = t.endpoints.overLimits()
  if (over !== null) t.error(requestId, 'ERR_RPMSG_LIMIT', over)
  return over === null
}
