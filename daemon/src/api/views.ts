// What the API shows of regions, windows and doorbells: plain objects of
// the contracts' types (proto/api/node.ts), which the routes' schemas are.

import type { NodeEvent as NodeEventOf, NodeView, SoclinkNode } from '../node.js'
import type { Region as MemRegion } from '../mem/region.js'
import type { Window } from '../mem/window.js'
import type { GatewayConnectionView } from './gateway-connection.js'
import type { Doorbell, GatewayConnectionInfo, NodeEvent, NodeInfo, Region, Window as WindowReply } from '../../../proto/api/index.js'
import type { DoorbellTarget } from '../link/doorbells.js'

export type RegionView = Region

export function regionView (node: SoclinkNode, r: MemRegion): RegionView {
  return { id: r.id, name: r.name, size: r.size, populatedPages: r.populatedPages, writes: r.writes, peers: node.regions.peersOf(r), subscribers: node.completer.subscribers(r) }
}

export type WindowView = WindowReply

export function windowView (w: Window): WindowView {
  const s = w.spec
  return {
    id: w.id,
    peer: s.peer,
    region: s.region,
    offset: s.offset,
    size: s.size,
    replica: s.replica,
    state: w.state,
    regionId: w.regionId,
    regionName: w.regionName,
    lastError: w.lastError,
    unordered: w.unordered,
    counters: { ...w.counters }
  }
}

export type DoorbellView = Doorbell

export function doorbellView (t: DoorbellTarget): DoorbellView {
  return { name: t.name, rings: t.rings, lastValue: t.lastValue }
}

/** `T`, checked to be one of `U`: what node.ts builds is what the contracts say. */
type Checked<T extends U, U> = T
/** GET /v1/node's reply (SoclinkNode.nodeView), the event stream's messages and the gateway's connections, as the contracts type them. */
export type NodeReply = Checked<NodeView, NodeInfo>
export type NodeEventMessage = Checked<NodeEventOf, NodeEvent>
export type GatewayConnectionReply = Checked<GatewayConnectionView, GatewayConnectionInfo>
