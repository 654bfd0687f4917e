// The one place where errors become HTTP replies. Handlers throw (our
// SoclinkError classes, or fastify's own errors for bodies and validation);
// the error handler below takes the status from the code's entry in the
// registry (error-codes.ts), never from the route, and answers with
// { "error": { "code", "message" } }. The errors fastify meets before any
// route (a bad URL, a parameter too long: frameworkErrors) and the ones
// Node's HTTP parser meets before fastify (headers too large, a malformed
// request: clientErrorHandler) get the same shape.

import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import { InsufficientScopeError, LinkFullError, SoclinkError, UnauthenticatedError, httpStatusOf, type ErrorCode } from '../errors.js'

/** A request that breaks the API's rules beyond what its JSON Schema can say. */
export class ValidationError extends SoclinkError {
  constructor (message: string) {
    super('ERR_VALIDATION', message)
  }
}

/** A plain HTTP request to a WebSocket-only route. */
export class UpgradeRequiredError extends SoclinkError {
  constructor (message: string) {
    super('ERR_UPGRADE_REQUIRED', message)
  }
}

/** A route for a role this daemon does not have (PCIe endpoint, root complex). */
export class NotThisRoleError extends SoclinkError {
  constructor (what: string, role: string) {
    super('ERR_NOT_FOUND', `this daemon is not a PCIe ${what} (role ${role})`)
  }
}

/** A method and path that no route serves. */
export class RouteNotFoundError extends SoclinkError {
  constructor (method: string, url: string) {
    super('ERR_ROUTE_NOT_FOUND', `no route ${method} ${url.split('?')[0] ?? url}`)
  }
}

/** fastify's own request errors, renamed into our codes. */
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'ERR_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'ERR_BAD_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'ERR_BAD_JSON',
  FST_ERR_BAD_URL: 'ERR_BAD_URL',
  FST_ERR_MAX_PARAM_LENGTH: 'ERR_URI_TOO_LONG'
}

export interface ErrorBody { error: { code: ErrorCode, message: string } }

interface AjvError { instancePath: string, keyword: string, message?: string, params: Record<string, unknown> }

/** "body/size must be integer; body has unknown property "x"": every failure, named. */
function validationMessage (err: FastifyError): string {
  const where = err.validationContext ?? 'request'
  const parts = (err.validation as AjvError[] | undefined ?? []).map((v) => {
    const path = `${where}${v.instancePath}`
    if (v.keyword === 'additionalProperties') return `${path} has unknown property ${JSON.stringify(v.params.additionalProperty)}`
    return `${path} ${v.message ?? 'is invalid'}`
  })
  return parts.length > 0 ? parts.join('; ') : err.message
}

/** Code and message for any thrown value; null for an internal error (a code whose status is 500, or no code of ours). */
function classify (err: unknown): { code: ErrorCode, message: string } | null {
  if (err instanceof SoclinkError) return httpStatusOf(err.code) === 500 ? null : { code: err.code, message: err.message }
  const e = err as Partial<FastifyError>
  if (e.validation !== undefined) return { code: 'ERR_VALIDATION', message: validationMessage(e as FastifyError) }
  const renamed = FASTIFY_CODES[e.code ?? '']
  if (renamed !== undefined) return { code: renamed, message: e.message ?? renamed }
  // Other malformed requests fastify itself rejects (a bad Content-Length, a bad URL).
  if (e.code?.startsWith('FST_') === true && (e.statusCode ?? 500) >= 400 && (e.statusCode ?? 500) < 500) {
    return { code: 'ERR_BAD_REQUEST', message: e.message ?? 'bad request' }
  }
  return null
}

function errorHandler (err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const known = classify(err)
  if (known === null) {
    request.log.error({ err }, 'internal error')
    const body: ErrorBody = { error: { code: 'ERR_INTERNAL', message: `internal error (request ${request.id}); see the daemon log` } }
    void reply.code(500).send(body)
    return
  }
  request.log.debug({ code: known.code, message: known.message }, 'request failed')
  // Back-pressure (RFC 9110 §10.2.3): the link is full for now; come back later.
  if (err instanceof LinkFullError) void reply.header('retry-after', String(err.retryAfterSeconds))
  // Bearer token authentication (RFC 6750 §3): the challenge says which scheme, and why it failed.
  if (err instanceof UnauthenticatedError || err instanceof InsufficientScopeError) void reply.header('www-authenticate', err.challenge)
  const body: ErrorBody = { error: known }
  void reply.code(httpStatusOf(known.code)).send(body)
}

/**
 * Node's HTTP parser failed before fastify saw a request: the answer is
 * written on the socket as Node's own would be (fastify.js
 * defaultClientErrorHandler), in our shape, and the connection closed.
 */
function clientErrorHandler (this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [code, message]: [ErrorCode, string] = err.code === 'HPE_HEADER_OVERFLOW'
    ? ['ERR_HEADERS_TOO_LARGE', 'the request line and headers are larger than the server accepts']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? ['ERR_REQUEST_TIMEOUT', 'the request did not arrive in time']
      : ['ERR_BAD_REQUEST', `malformed HTTP request: ${err.message}`]
  const status = httpStatusOf(code)
  this.log.debug({ code, err: err.message }, 'client error')
  if (socket.writable) {
    const body = JSON.stringify({ error: { code, message } } satisfies ErrorBody)
    socket.write(`HTTP/1.1 ${status} ${STATUS_TEXT[status]!}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy()
}

const STATUS_TEXT: Readonly<Record<number, string>> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }

/** fastify options that send its pre-route and Node's parser errors through this file. */
export const errorOptions = {
  frameworkErrors: (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void => { errorHandler(err, request, reply) },
  clientErrorHandler
} satisfies Partial<FastifyServerOptions>

/**
 * A WebSocket upgrade to a plain HTTP route is refused in our shape (400
 * ERR_BAD_REQUEST) before @fastify/websocket would accept it and close it at
 * once, answerless. Call it after registering that plugin (its onRequest hook
 * marks upgrades as request.ws) and before any route.
 */
export function refuseUpgradesToPlainRoutes (app: FastifyInstance): void {
  const webSockets = new Set<string>()
  app.addHook('onRoute', (route) => {
    const options = route as typeof route & { websocket?: boolean, wsHandler?: unknown }
    if (options.websocket === true || options.wsHandler !== undefined) webSockets.add(route.url)
  })
  app.addHook('onRequest', async (request) => {
    const url = request.routeOptions.url
    if ((request as FastifyRequest & { ws?: boolean }).ws !== true || url === undefined || webSockets.has(url)) return
    throw new SoclinkError('ERR_BAD_REQUEST', `${request.method} ${url} is plain HTTP, not a WebSocket: ask without Upgrade: websocket`)
  })
}

/**
 * Installs the error and not-found handlers on the root instance.
 * `notServed`: the answer to a path another role serves (role.ts RoleApi), else "no route".
 */
export function installErrorHandling (app: FastifyInstance, notServed: (url: string) => Error | null = () => null): void {
  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler(async (request) => {
    throw notServed(request.url) ?? new RouteNotFoundError(request.method, request.url)
  })
}
