// OpenAPI at /docs, made on its first request. @fastify/swagger and
// @fastify/swagger-ui (with @fastify/static and a YAML writer) cost a tenth of
// the daemon's start-up and a few MiB it keeps for good, for a page few people
// open. So the API records its routes as they are registered, and the first
// request under /docs builds a small fastify of its own holding the same
// shared schemas and the same routes (schemas only, never run) with swagger
// and swagger-ui registered as they were before; /docs requests are handed to
// it as they arrive. The document is the one swagger built at start.

import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { Fastify, docsPlugins } from './packages.js'
import { installErrorHandling } from './errors.js'
import { lazyCompilers } from './lazy-compilers.js'
import { requiredScope } from './auth.js'

export const DOCS_PREFIX = '/docs'

export interface DocsInfo {
  title: string
  version: string
  description: string
  tags: string[]
  /** The API takes bearer tokens (auth.ts): the document says so, and which scope each route needs. */
  bearerTokens?: boolean
}

/** What swagger reads of a route. */
type DocumentedRoute = Pick<RouteOptions, 'method' | 'url' | 'schema' | 'config'>

/**
 * Registers /docs and starts recording routes: call it before any route is
 * registered. `logger` is the API's.
 */
export function docsRoutes (app: FastifyInstance, info: DocsInfo, logger: FastifyBaseLogger): void {
  const routes: DocumentedRoute[] = []
  let docs: Promise<FastifyInstance> | undefined

  const serve = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    // A failed build is not kept: the next request tries again.
    docs ??= buildDocsApp(app, routes, info, logger).catch((err: unknown) => { docs = undefined; throw err })
    const inner = await docs
    reply.hijack()
    inner.routing(request.raw, reply.raw)
  }
  // Hidden, as swagger-ui's own routes are.
  app.get(DOCS_PREFIX, { schema: { hide: true } }, serve)
  app.get(`${DOCS_PREFIX}/*`, { schema: { hide: true } }, serve)

  app.addHook('onClose', async () => {
    const built = await docs?.catch(() => undefined)
    await built?.close()
  })

  app.addHook('onRoute', (route) => {
    // fastify adds a HEAD route beside each GET; the docs app makes its own, and swagger leaves them out.
    if (route.method === 'HEAD' || route.url.startsWith(DOCS_PREFIX)) return
    const { method, url, schema, config } = route
    routes.push({ method, url, schema, config })
  })
}

async function buildDocsApp (api: FastifyInstance, routes: DocumentedRoute[], info: DocsInfo, logger: FastifyBaseLogger): Promise<FastifyInstance> {
  const { swagger, swaggerUi } = docsPlugins()
  // The route schemas are compiled only if called, and they never are: the docs app runs no route of the API.
  // The API logs each request already; the docs app adds only its warnings and errors.
  const docs = Fastify({ loggerInstance: logger.child({}, { level: 'warn' }), schemaController: { compilersFactory: lazyCompilers().compilersFactory } })
  installErrorHandling(docs)
  for (const schema of Object.values(api.getSchemas())) docs.addSchema(schema)
  await docs.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: info.title, version: info.version, description: info.description },
      tags: info.tags.map((name) => ({ name })),
      ...(info.bearerTokens === true && {
        components: { securitySchemes: { [SECURITY_SCHEME]: { type: 'http', scheme: 'bearer', description: BEARER_DOC } } },
        security: [{ [SECURITY_SCHEME]: [] }]
      })
    },
    // Shared schemas appear in components under their own $id.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
  })
  await docs.register(swaggerUi, { routePrefix: DOCS_PREFIX })
  const never = async (): Promise<never> => { throw new Error('the docs app serves no API route') }
  for (const r of routes) docs.route({ ...r, schema: info.bearerTokens === true ? withAuthReplies(r) : r.schema, handler: never } as RouteOptions)
  await docs.ready()
  return docs
}

const SECURITY_SCHEME = 'bearerToken'
const BEARER_DOC = 'Authorization: Bearer TOKEN, a token of the daemon\'s --api-token-file. Scope read may GET (the event stream ' +
  'included); rpmsg may also use the rpmsg gateway (/v1/rpmsg); admin may do everything. No or an unknown token: 401 ' +
  'ERR_UNAUTHENTICATED with WWW-Authenticate: Bearer; a scope that may not: 403 ERR_FORBIDDEN.'

/** A route's schema with its 401 and 403 answers and the scope it needs. */
function withAuthReplies (route: DocumentedRoute): Record<string, unknown> {
  const schema = (route.schema ?? {}) as Record<string, unknown>
  const method = Array.isArray(route.method) ? route.method[0]! : route.method
  const scope = requiredScope(method, route.url)
  const note = `Needs a bearer token of scope ${scope}${scope === 'admin' ? '' : ' or above'}.`
  return {
    ...schema,
    description: typeof schema.description === 'string' ? `${schema.description} ${note}` : note,
    response: { ...(schema.response as Record<string, unknown> | undefined), 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' } }
  }
}
