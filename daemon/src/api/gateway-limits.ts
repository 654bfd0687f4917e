// The bounds of the rpmsg gateway's connections (settings
// maxEndpointsPerConnection, maxEndpoints, maxGatewayBufferedBytes,
// gatewayStallMs, and the fixed queue sizes) and what the gateway needs of
// the daemon's links for back-pressure. Kept apart from
// gateway-connection.ts so the connection, its reading gate
// (gateway-reading.ts) and the gateway (rpmsg-gateway.ts) share one place
// for them.

import type { DeliveryMark } from '../link/delivery.js'

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
