// Doorbells: targets this daemon declares, and ringing a target on a peer.

import type { FastifyInstance } from 'fastify'
import type { SoclinkNode } from '../../node.js'
import { doorbellView, type DoorbellView } from '../views.js'
import { errorReplies, fields, noContent, noFields, record } from '../schemas.js'
import { DOORBELL_NAME, DoorbellListSchema, DoorbellSchema, RingResultSchema, ref } from '../../../../proto/api/index.js'
import { NODE_NAME_MAX } from '../bounded-strings.js'

const name = { type: 'string', pattern: DOORBELL_NAME }

export function doorbellRoutes (app: FastifyInstance, node: SoclinkNode): void {
  app.get('/v1/doorbells', {
    schema: {
      summary: 'Doorbell targets this daemon declares, with their rings',
      tags: ['doorbells'],
      querystring: noFields,
      response: { 200: DoorbellListSchema, ...errorReplies(400) }
    }
  }, async () => ({ doorbells: node.doorbells.list().map(doorbellView) }))

  app.post<{ Body: { name: string } }>('/v1/doorbells', {
    schema: {
      summary: 'Declare a doorbell target peers may ring',
      tags: ['doorbells'],
      querystring: noFields,
      body: record({ name }),
      response: { 201: ref(DoorbellSchema), ...errorReplies(400, 409, 413, 415) }
    }
  }, async (request, reply): Promise<DoorbellView> => {
    const t = node.doorbells.declare(request.body.name)
    reply.code(201)
    return doorbellView(t)
  })

  app.delete<{ Params: { name: string } }>('/v1/doorbells/:name', {
    schema: {
      summary: 'Remove a doorbell target',
      tags: ['doorbells'],
      params: fields({ name }),
      querystring: noFields,
      response: { 204: noContent, ...errorReplies(400, 404) }
    }
  }, async (request, reply) => {
    node.doorbells.remove(request.params.name)
    return reply.code(204).send()
  })

  app.post<{ Params: { peer: string, target: string }, Body: { value?: number } | null }>('/v1/peers/:peer/doorbells/:target', {
    schema: {
      summary: 'Ring a doorbell target on a peer',
      description: 'Posted, in the link\'s order after every earlier write. A target the peer has not ' +
        'declared is reported back by the peer as an `error` event (GET /v1/events). The body may be empty.',
      tags: ['doorbells', 'peers'],
      params: fields({ peer: { type: 'string', minLength: 1, maxLength: NODE_NAME_MAX }, target: name }),
      querystring: noFields,
      body: {
        ...record({ value: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 1, description: 'bits or vector number (default 1)' } }, { required: [] }),
        nullable: true
      },
      response: {
        202: RingResultSchema,
        ...errorReplies(400, 404, 413, 415, 503)
      }
    }
  }, async (request, reply) => {
    const { peer, target } = request.params
    const value = request.body?.value ?? 1
    node.ring(peer, target, value)
    reply.code(202)
    return { peer, target, value }
  })
}
