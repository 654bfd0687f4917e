// Windows: this daemon's views of ranges of peers' regions. Their bytes are
// served by memory.ts.

import type { FastifyInstance } from 'fastify'
import type { SoclinkNode } from '../../node.js'
import type { WindowSpec } from '../../mem/window.js'
import { parseNumber } from '../numbers.js'
import { windowView, type WindowView } from '../views.js'
import { errorReplies, fields, noContent, noFields, numericId } from '../schemas.js'
import { WindowListSchema, WindowRequestSchema, WindowSchema, ref, type WindowRequest } from '../../../../proto/api/index.js'

const idParams = fields({ id: numericId })

export function windowRoutes (app: FastifyInstance, node: SoclinkNode): void {
  app.get('/v1/windows', {
    schema: {
      summary: 'Every window this daemon has on peers\' regions',
      tags: ['windows'],
      querystring: noFields,
      response: { 200: WindowListSchema, ...errorReplies(400) }
    }
  }, async () => ({ windows: node.requester.list().map(windowView) }))

  app.post<{ Body: WindowRequest }>('/v1/windows', {
    schema: {
      summary: 'Open a window onto a peer\'s region',
      description: 'If the peer is up, the reply waits for the owner\'s answer: a refused window ' +
        '(no such region, a range outside it, 403 ERR_FORBIDDEN: a region whose peers list does not name this daemon) is an error and leaves no window behind. If the peer ' +
        'is not up, or no peer of that name is known yet, the window is created in state "opening" ' +
        'and subscribes when a link to that peer comes up. At most maxWindows windows: beyond, 409 ERR_LIMIT.',
      tags: ['windows'],
      querystring: noFields,
      body: WindowRequestSchema,
      response: { 201: ref(WindowSchema), ...errorReplies(400, 403, 404, 409, 413, 415, 503, 504) }
    }
  }, async (request, reply): Promise<WindowView> => {
    const b = request.body
    const spec: WindowSpec = { peer: b.peer, region: b.region, offset: b.offset ?? 0, size: b.size, replica: b.replica ?? true }
    const w = node.openWindow(spec)
    if (node.links.get(spec.peer)?.state === 'up') {
      try {
        await node.requester.opened(w)
      } catch (err) {
        node.requester.close(w.id)
        throw err
      }
    }
    reply.code(201)
    return windowView(w)
  })

  app.get<{ Params: { id: string } }>('/v1/windows/:id', {
    schema: {
      summary: 'One window',
      tags: ['windows'],
      params: idParams,
      querystring: noFields,
      response: { 200: ref(WindowSchema), ...errorReplies(400, 404) }
    }
  }, async (request): Promise<WindowView> => windowView(node.requester.get(parseNumber('window id', request.params.id))))

  app.delete<{ Params: { id: string } }>('/v1/windows/:id', {
    schema: {
      summary: 'Close a window',
      tags: ['windows'],
      params: idParams,
      querystring: noFields,
      response: { 204: noContent, ...errorReplies(400, 404) }
    }
  }, async (request, reply) => {
    node.requester.close(parseNumber('window id', request.params.id))
    return reply.code(204).send()
  })
}
