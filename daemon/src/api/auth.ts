// Bearer token authentication of the control API (RFC 6750), when the
// daemon has a token file. One onRequest hook on the root instance runs
// before every route, the WebSocket upgrades of /v1/events and /v1/rpmsg
// included (@fastify/websocket routes an upgrade through the same hooks,
// and the upgrade request carries the Authorization header), and before the
// not-found handler, so an unauthenticated client learns nothing of which
// routes exist. A browser's WebSocket cannot set Authorization; its upgrade
// may carry the token as a subprotocol instead (ws-bearer.ts). Refusals are thrown and answered by errors.ts: 401
// ERR_UNAUTHENTICATED or 403 ERR_FORBIDDEN, with WWW-Authenticate.

import type { FastifyInstance, FastifyRequest } from 'fastify'
import { InsufficientScopeError, UnauthenticatedError } from '../errors.js'
import { allows, type ApiTokens, type Scope } from './tokens.js'
import { protocolToken } from './ws-bearer.js'

/** The one route of the rpmsg scope: the gateway, which sends and receives messages. */
export const RPMSG_GATEWAY_URL = '/v1/rpmsg'
/** A GET that needs admin: a frame capture shows every byte on the links (routes/capture.ts says why). */
export const ADMIN_GETS: ReadonlySet<string> = new Set(['/v1/capture'])

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without a token: only the live view's static files (routes/ui.ts), which hold nothing of the daemon. */
    publicAsset?: boolean
  }
}

const REALM = 'realm="soclink"'
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i

/**
 * The scope a request needs: the gateway needs rpmsg; the frame capture
 * admin; any other GET (or the HEAD beside it) only reads, so read; every
 * other method changes something, so admin. `routeUrl` is the matched
 * route's pattern (undefined: no route).
 */
export function requiredScope (method: string, routeUrl: string | undefined): Scope {
  if (routeUrl === RPMSG_GATEWAY_URL) return 'rpmsg'
  if (routeUrl !== undefined && ADMIN_GETS.has(routeUrl)) return 'admin'
  return method === 'GET' || method === 'HEAD' ? 'read' : 'admin'
}

/** The token of an Authorization: Bearer header, or of an upgrade's bearer subprotocol; null when there is none. */
function bearerToken (request: FastifyRequest, name: string): string | null {
  const header = request.headers.authorization
  if ((header === undefined || header === '') && (request as FastifyRequest & { ws?: boolean }).ws === true) {
    const token = protocolToken(request.headers['sec-websocket-protocol'])
    if (token === null) {
      throw new UnauthenticatedError(`the bearer subprotocol of ${name}'s API is base64url.bearer.soclink. and the token as base64url`,
        `Bearer ${REALM}, error="invalid_request"`)
    }
    if (token !== undefined) return token
  }
  if (header === undefined || header === '') return null
  const m = BEARER.exec(header)
  if (m === null) {
    throw new UnauthenticatedError(`the control API of ${name} takes Authorization: Bearer TOKEN, not this Authorization header`,
      `Bearer ${REALM}, error="invalid_request"`)
  }
  return m[1]!
}

/** Adds the hook: call it on the root instance before any route or plugin. */
export function installAuth (app: FastifyInstance, tokens: ApiTokens, name: string): void {
  app.addHook('onRequest', async (request) => {
    // The live view's page and files (routes/ui.ts): the package's own bytes, nothing of this daemon.
    if (request.routeOptions.config.publicAsset === true) return
    const token = bearerToken(request, name)
    if (token === null) {
      throw new UnauthenticatedError(`the control API of ${name} requires a bearer token (Authorization: Bearer TOKEN)`,
        `Bearer ${REALM}`)
    }
    const scope = tokens.scopeOf(token)
    if (scope === null) {
      throw new UnauthenticatedError(`the bearer token is not one of ${name}'s API tokens`, `Bearer ${REALM}, error="invalid_token"`)
    }
    const needed = requiredScope(request.method, request.routeOptions.url)
    if (!allows(scope, needed)) {
      const what = `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0] ?? ''}`
      throw new InsufficientScopeError(`a ${scope} token may not ${what}: it needs an ${needed} token`,
        `Bearer ${REALM}, error="insufficient_scope", scope="${needed}"`)
    }
  })
}
