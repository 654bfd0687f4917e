// A bearer token carried in the WebSocket handshake's subprotocol list, for
// browsers: the WebSocket API of a browser cannot set an Authorization
// header on the upgrade, only the Sec-WebSocket-Protocol values (RFC 6455
// §4.1, §11.3.4). The page offers the stream's own protocol and, beside it,
// base64url.bearer.soclink.<token as base64url, no padding> (a subprotocol is
// an RFC 7230 token, which cannot hold a bearer token's / + =). The daemon
// takes the token from it only on an upgrade without an Authorization
// header, and never selects it, so it is not echoed back. Kubernetes'
// API server reads browser tokens the same way
// (base64url.bearer.authorization.k8s.io.).

import type { IncomingMessage } from 'node:http'
import { selectProtocol as selectRpmsgProtocol } from './rpmsg-gateway.js'

export const BEARER_PROTOCOL_PREFIX = 'base64url.bearer.soclink.'

/** What a client of GET /v1/events may offer (with a bearer entry) and is answered. */
export const EVENTS_PROTOCOL = 'soclink.events'

const BASE64URL = /^[A-Za-z0-9_-]+$/

/** The subprotocol that carries `token` (the page builds the same in JavaScript). */
export function bearerProtocol (token: string): string {
  return BEARER_PROTOCOL_PREFIX + Buffer.from(token, 'utf8').toString('base64url')
}

/**
 * The token of a Sec-WebSocket-Protocol header's bearer entry: undefined when
 * there is none, null when there is one that is not base64url (the caller
 * refuses it as it refuses a malformed Authorization header).
 */
export function protocolToken (header: string | undefined): string | null | undefined {
  if (header === undefined) return undefined
  const entry = header.split(',').map((p) => p.trim()).find((p) => p.startsWith(BEARER_PROTOCOL_PREFIX))
  if (entry === undefined) return undefined
  const encoded = entry.slice(BEARER_PROTOCOL_PREFIX.length)
  if (!BASE64URL.test(encoded)) return null
  return Buffer.from(encoded, 'base64url').toString('utf8')
}

/**
 * The API's handleProtocols: the events stream answers its own protocol when
 * offered; otherwise the rpmsg gateway's choice of version (rpmsg-gateway.ts)
 * answers, on every route as it did before; a bearer entry is never chosen.
 */
export function selectApiProtocol (offered: Set<string>, request: IncomingMessage): string | false {
  // Any other offer is answered as before the events protocol existed (a client that offered the gateway's gets it).
  if (request.url?.split('?')[0] === '/v1/events' && offered.has(EVENTS_PROTOCOL)) return EVENTS_PROTOCOL
  return selectRpmsgProtocol(offered)
}
