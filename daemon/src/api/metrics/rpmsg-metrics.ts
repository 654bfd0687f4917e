// The rpmsg metrics: each bus's messages and failures and how long sends
// waited for a buffer; each endpoint (local address) and what it sent,
// received and the gateway dropped; each rpmsg gateway connection (an
// application on ws /v1/rpmsg) with its endpoints, drops, waiting sends and
// unwritten bytes. Read from RpmsgBusCore's, the endpoint table's and the
// gateway's own counters, as GET /v1/rpmsg/endpoints and /connections show.

import type { Registry } from 'prom-client'
import type { SoclinkNode } from '../../node.js'
import type { RpmsgBusCore } from '../../rpmsg/core.js'
import { RPMSG_AS_ADDR, RPMSG_NS_ADDR } from '../../rpmsg/wire.js'
import { rpmsgGateway } from '../rpmsg-gateway.js'
import type { GatewayConnectionView } from '../gateway-connection.js'
import { counter, gauge, histogram, type Labels, type Sample } from './families.js'

const BUS = ['side', 'device'] as const
const ENDPOINT = ['side', 'device', 'addr', 'channel', 'owner'] as const
const CONNECTION = ['connection', 'client'] as const
const GATEWAY_ENDPOINT = ['connection', 'client', 'addr', 'name'] as const

interface BusEntry { labels: Labels, bus: RpmsgBusCore }

type BusCounter = 'sent' | 'received' | 'malformed' | 'serviceErrors' | 'noBuffer' | 'timeouts' | 'delivered' | 'unknown' | 'failed'

const BUS_COUNTERS: Array<{ name: string, help: string, key: BusCounter }> = [
  { name: 'messages_sent', help: 'Messages the bus put in buffers for the other side', key: 'sent' },
  { name: 'messages_received', help: 'Messages the bus took from the other side\'s buffers', key: 'received' },
  { name: 'messages_malformed', help: 'Received buffers that were not a well-formed rpmsg message', key: 'malformed' },
  { name: 'service_errors', help: 'Name or address service messages refused', key: 'serviceErrors' },
  { name: 'no_buffer', help: 'Sends that found no free buffer and could not wait (trySend)', key: 'noBuffer' },
  { name: 'send_timeouts', help: 'Sends that waited for a buffer longer than their timeout', key: 'timeouts' },
  { name: 'messages_delivered', help: 'Received messages delivered to an endpoint', key: 'delivered' },
  { name: 'messages_unknown_destination', help: 'Received messages for an address with no endpoint', key: 'unknown' },
  { name: 'messages_failed', help: 'Received messages whose endpoint callback threw', key: 'failed' }
]

const busCount = (bus: RpmsgBusCore, key: BusCounter): number =>
  key === 'delivered' || key === 'unknown' || key === 'failed' ? bus.endpoints.counters[key] : bus.counters[key]

export function rpmsgMetrics (registry: Registry, node: SoclinkNode): void {
  const buses = (): BusEntry[] => (node.rpmsg?.attachedBuses() ?? []).map(({ bus, parent }) => ({ labels: { side: parent.side, device: parent.device }, bus }))
  const perBus = (read: (bus: RpmsgBusCore) => number) => function * (): Iterable<Sample> {
    for (const b of buses()) yield [b.labels, read(b.bus)]
  }
  for (const m of BUS_COUNTERS) counter(registry, { name: `soclink_rpmsg_${m.name}_total`, help: m.help, labels: BUS }, perBus((bus) => busCount(bus, m.key)))
  gauge(registry, { name: 'soclink_rpmsg_sends_waiting', help: 'Sends waiting for a free buffer on the bus', labels: BUS }, perBus((bus) => bus.waiting))
  gauge(registry, { name: 'soclink_rpmsg_channels', help: 'Channels on the bus', labels: BUS }, perBus((bus) => bus.channels.size))
  histogram(registry, {
    name: 'soclink_rpmsg_send_latency_seconds',
    help: 'From a send to its message being in a buffer the other side sees: 0 when a buffer was free, else the wait for one',
    labels: BUS
  }, function * () {
    for (const b of buses()) yield [b.labels, b.bus.sendLatency]
  })

  const endpoints = (read: (sent: number, received: number, dropped: number) => number) => function * (): Iterable<Sample> {
    const gateway = rpmsgGateway(node)
    for (const { labels, bus } of buses()) {
      const byAddr = new Map([...bus.channels.values()].map((ch) => [ch.src, ch.name]))
      for (const addr of bus.endpoints.addresses()) {
        const ept = bus.endpoints.get(addr)
        if (ept === undefined) continue
        const owner = gateway?.ownerOf(bus, addr)
        const channel = byAddr.get(addr) ?? (addr === RPMSG_NS_ADDR ? 'ns' : addr === RPMSG_AS_ADDR ? 'as' : '')
        yield [{ ...labels, addr, channel, owner: owner === undefined ? 'bus' : 'gateway' },
          read(ept.traffic.sent, ept.traffic.received, owner?.endpoint.counters.dropped ?? 0)]
      }
    }
  }
  counter(registry, { name: 'soclink_rpmsg_endpoint_sent_total', help: 'Messages sent from the endpoint\'s address', labels: ENDPOINT }, endpoints((s) => s))
  counter(registry, { name: 'soclink_rpmsg_endpoint_received_total', help: 'Messages the bus delivered to the endpoint', labels: ENDPOINT }, endpoints((_s, r) => r))
  counter(registry, { name: 'soclink_rpmsg_endpoint_dropped_total', help: 'Of those, messages the gateway dropped because its application read too slowly', labels: ENDPOINT }, endpoints((_s, _r, d) => d))

  const connections = (): GatewayConnectionView[] => rpmsgGateway(node)?.connectionViews() ?? []
  gauge(registry, { name: 'soclink_rpmsg_gateway_connections', help: 'Applications connected to the rpmsg gateway (ws /v1/rpmsg)', labels: [] }, function * () {
    yield [{}, connections().length]
  })
  const perConnection = (read: (c: GatewayConnectionView) => number) => function * (): Iterable<Sample> {
    for (const c of connections()) yield [{ connection: c.id, client: c.client }, read(c)]
  }
  counter(registry, { name: 'soclink_rpmsg_gateway_dropped_total', help: 'Received messages the gateway dropped for the connection (all its endpoints, destroyed ones too)', labels: CONNECTION }, perConnection((c) => c.dropped))
  gauge(registry, { name: 'soclink_rpmsg_gateway_sends_waiting', help: 'The connection\'s sends waiting for a free buffer', labels: CONNECTION }, perConnection((c) => c.waiting))
  gauge(registry, { name: 'soclink_rpmsg_gateway_buffered_bytes', help: 'Bytes the connection\'s WebSocket has not yet written', labels: CONNECTION }, perConnection((c) => c.buffered))
  const perGatewayEndpoint = (read: (e: GatewayConnectionView['endpoints'][number]) => number) => function * (): Iterable<Sample> {
    for (const c of connections()) for (const e of c.endpoints) yield [{ connection: c.id, client: c.client, addr: e.addr, name: e.name }, read(e)]
  }
  counter(registry, { name: 'soclink_rpmsg_gateway_endpoint_sent_total', help: 'The application\'s Sends from the endpoint that went into a buffer', labels: GATEWAY_ENDPOINT }, perGatewayEndpoint((e) => e.sent))
  counter(registry, { name: 'soclink_rpmsg_gateway_endpoint_received_total', help: 'Messages the bus delivered to the application\'s endpoint', labels: GATEWAY_ENDPOINT }, perGatewayEndpoint((e) => e.received))
  counter(registry, { name: 'soclink_rpmsg_gateway_endpoint_dropped_total', help: 'Received messages dropped because the application read too slowly', labels: GATEWAY_ENDPOINT }, perGatewayEndpoint((e) => e.dropped))
  counter(registry, { name: 'soclink_rpmsg_gateway_endpoint_lost_total', help: 'Sends answered Sent that the peer daemon never acknowledged before its link session ended', labels: GATEWAY_ENDPOINT }, perGatewayEndpoint((e) => e.lost))
}
