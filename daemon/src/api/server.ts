// The control API: fastify with strict JSON Schema on every route (no type
// coercion, no silently dropped fields), one error shape, OpenAPI at /docs
// and live events over a WebSocket. buildApi registers everything; the
// caller decides where it listens. Route schemas are compiled (or loaded from
// the build) on first use and /docs is made on its first request, so a
// daemon starts and idles without what it does not serve.
//
// With the daemon's TLS material (tlsCert, tlsKey) the API is HTTPS, and its
// WebSockets (/v1/rpmsg, /v1/events) wss://, with the link port's
// certificate, reloaded with it on SIGHUP. It asks for no client
// certificate: API clients authenticate with tokens. A plain HTTP request
// to it is answered 400 with the https:// URL to use.

import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Server as TlsServer } from 'node:tls'
import { answerPlainClients } from '../link/plain-clients.js'
import { requestedUrl } from '../link/tls-reasons.js'
import { Fastify, websocket } from './packages.js'
import { VERSION, type SoclinkNode } from '../node.js'
import { errorOptions, installErrorHandling, refuseUpgradesToPlainRoutes } from './errors.js'
import { boundRequestStrings } from './bounded-strings.js'
import { addSharedSchemas } from './schemas.js'
import { nodeRoutes } from './routes/node.js'
import { regionRoutes } from './routes/regions.js'
import { memoryRoutes } from './routes/memory.js'
import { peerRoutes } from './routes/peers.js'
import { windowRoutes } from './routes/windows.js'
import { doorbellRoutes } from './routes/doorbells.js'
import { eventRoutes } from './routes/events.js'
import { captureRoutes } from './routes/capture.js'
import { rpmsgRoutes } from './routes/rpmsg.js'
import { rpmsgCfsRoutes } from './routes/rpmsg-cfs.js'
import { rpmsgGatewayRoutes } from './rpmsg-gateway.js'
import { selectApiProtocol } from './ws-bearer.js'
import { MAX_BATCH_BYTES } from '../../../proto/rpmsg-batch.js'
import { uiRoutes } from './routes/ui.js'
import { docsRoutes } from './docs.js'
import { lazyCompilers, type LazyCompilers, type SchemaCodeOptions } from './lazy-compilers.js'
import { BUILT_SCHEMA_DIR, SchemaCodeStore } from './schema-code.js'
import { installAuth } from './auth.js'
import { ApiTokens } from './tokens.js'
import { metricsRoutes } from './routes/metrics.js'
import { DaemonMetrics } from './metrics/daemon-metrics.js'
import { RequestLog } from './request-log.js'

const compilersOf = new WeakMap<FastifyInstance, LazyCompilers>()

/** An HTTPS API closes a connection that has sent nothing for this long. */
export const API_FIRST_BYTE_MS = 10_000

/** What an HTTPS API answers a plain HTTP request: 400 in the API's error shape, saying which URL to use. */
export function plainApiAnswer (head: Buffer): string {
  const body = JSON.stringify({ error: { code: 'ERR_BAD_REQUEST', message: `this control API is HTTPS: use ${requestedUrl(head, 'https') ?? 'https:// URLs'}` } })
  return `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
}

/** The API's schema compilers: tests force every route schema to compile through them. */
export function apiCompilers (app: FastifyInstance): LazyCompilers {
  const c = compilersOf.get(app)
  if (c === undefined) throw new Error('not an API built by buildApi')
  return c
}

const routesOf = new WeakMap<FastifyInstance, Array<{ method: string, url: string }>>()

/** Every method and URL pattern the API serves, as registered: tests walk them all (auth.ts must guard each). */
export function apiRoutes (app: FastifyInstance): ReadonlyArray<{ method: string, url: string }> {
  const r = routesOf.get(app)
  if (r === undefined) throw new Error('not an API built by buildApi')
  return r
}

export interface ApiOptions {
  /** Validator and serializer code saved ahead of time; by default what the build saved, read only. */
  schemaCode?: SchemaCodeOptions
  /** Bearer tokens every request must carry; by default read from the node's apiTokenFile; null: open. */
  tokens?: ApiTokens | null
}

export async function buildApi (node: SoclinkNode, options: ApiOptions = {}): Promise<FastifyInstance> {
  // Typed as fastify's logger so the instance has the plain FastifyInstance type.
  const logger: FastifyBaseLogger = node.logger.child({ layer: 'api' })
  const compilers = lazyCompilers(options.schemaCode ?? { store: new SchemaCodeStore(BUILT_SCHEMA_DIR), mode: 'read' })
  const tls = node.tls
  // An HTTPS instance's type differs from an HTTP one's only in its server; the routes use neither.
  const app = Fastify({
    ...(tls !== null ? { https: tls.serverOptions(false) } : {}),
    loggerInstance: logger,
    // One line per request instead of fastify's two.
    logController: new RequestLog(),
    // JSON bodies; the memory routes' octet-stream bodies have their own limit (memory.ts).
    bodyLimit: node.settings.maxBodyBytes,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true } },
    schemaController: { compilersFactory: compilers.compilersFactory },
    ...errorOptions
  }) as unknown as FastifyInstance
  if (tls !== null) {
    const server = app.server as unknown as TlsServer
    tls.serve(server, false)
    const plain = answerPlainClients(server, { answer: plainApiAnswer, firstByteTimeoutMs: API_FIRST_BYTE_MS, logger: node.logger.child({ layer: 'api' }), what: 'control API' })
    app.addHook('preClose', async () => { plain.drop() })
  }
  compilersOf.set(app, compilers)
  const routes: Array<{ method: string, url: string }> = []
  routesOf.set(app, routes)
  app.addHook('onRoute', (route) => {
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) routes.push({ method, url: route.url })
  })
  installErrorHandling(app, node.role.api.notServed)
  const tokens = options.tokens !== undefined ? options.tokens : node.settings.apiTokenFile !== '' ? ApiTokens.load(node.settings.apiTokenFile) : null
  // Before any route, so the checks, the saved code and /docs all see the bounds.
  app.addHook('onRoute', (route) => { boundRequestStrings(route.schema) })
  addSharedSchemas(app)

  // Room beyond the gateway's largest batch, so that an oversized one is answered ERR_RPMSG_BATCH_SIZE, not cut off by ws.
  await app.register(websocket, { options: { maxPayload: 4 * MAX_BATCH_BYTES, perMessageDeflate: false, handleProtocols: selectApiProtocol } })
  // Before any route, so that it guards every route, upgrade and not-found answer; after the
  // websocket plugin's own onRequest hook, which marks an upgrade so that a refused one's socket is closed.
  if (tokens !== null) installAuth(app, tokens, node.settings.name)
  refuseUpgradesToPlainRoutes(app)

  docsRoutes(app, {
    title: 'soclink control API',
    version: VERSION,
    description: `Control API of soclinkd ${node.settings.name}.`,
    tags: ['node', 'regions', 'windows', 'peers', 'doorbells', ...node.role.api.tags, ...(node.rpmsg !== null ? ['rpmsg'] : [])],
    bearerTokens: tokens !== null
  }, logger)

  nodeRoutes(app, node)
  regionRoutes(app, node)
  peerRoutes(app, node)
  windowRoutes(app, node)
  doorbellRoutes(app, node)
  eventRoutes(app, node)
  captureRoutes(app, { capture: node.links.capture, logger })
  // The node's rpmsg buses, on every role that runs rpmsg (all but the NTB board).
  if (node.rpmsg !== null) {
    rpmsgRoutes(app, node)
    rpmsgCfsRoutes(app, node)
    rpmsgGatewayRoutes(app, node)
  }
  // The role's own routes (roles/*-api.ts); another role's answer 404 saying what this daemon is.
  await app.register(node.role.api.routes)
  metricsRoutes(app, { metrics: new DaemonMetrics(node) })
  uiRoutes(app)
  await app.register(async (memory) => { await memoryRoutes(memory, node) })
  return app
}
