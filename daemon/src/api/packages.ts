// fastify and its plugins, loaded with require(). They are CommonJS, and an
// ESM import of a CommonJS package costs more than loading it: the ESM loader
// scans each module's source for its export names and resolves the package's
// own modules its way. Measured on the daemon's start: fastify,
// @fastify/websocket and pino take about 60% of the CPU time by require()
// that they take by import (some 130 ms less).

import { createRequire } from 'node:module'
import type FastifyFactory from 'fastify'
import type WebsocketPlugin from '@fastify/websocket'
import type SwaggerPlugin from '@fastify/swagger'
import type SwaggerUiPlugin from '@fastify/swagger-ui'

const load = createRequire(import.meta.url)

export const Fastify = load('fastify') as typeof FastifyFactory
export const websocket = load('@fastify/websocket') as typeof WebsocketPlugin

/** The OpenAPI plugins, loaded when /docs is first asked for. */
export function docsPlugins (): { swagger: typeof SwaggerPlugin, swaggerUi: typeof SwaggerUiPlugin } {
  return { swagger: load('@fastify/swagger') as typeof SwaggerPlugin, swaggerUi: load('@fastify/swagger-ui') as typeof SwaggerUiPlugin }
}
