// Liveness and this daemon's identity.

import type { FastifyInstance } from 'fastify'
import type { SoclinkNode, NodeView } from '../../node.js'
import { errorReplies, noFields } from '../schemas.js'
import { HealthSchema, NodeSchema, ref } from '../../../../proto/api/index.js'

export function nodeRoutes (app: FastifyInstance, node: SoclinkNode): void {
  app.get('/healthz', {
    // Health checks poll every few seconds (Docker HEALTHCHECK): not worth a log line each.
    logLevel: 'warn',
    schema: {
      summary: 'Liveness',
      tags: ['node'],
      querystring: noFields,
      response: { 200: HealthSchema, ...errorReplies(400) }
    }
  }, async () => ({ status: 'ok' }))

  app.get('/v1/node', {
    schema: {
      summary: 'This daemon: name, role, version, incarnation, link URL',
      tags: ['node'],
      querystring: noFields,
      response: { 200: ref(NodeSchema), ...errorReplies(400) }
    }
  }, async (): Promise<NodeView> => node.nodeView())
}
