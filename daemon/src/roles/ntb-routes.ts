// The NTB roles' state and configuration. On the board, GET /v1/ntb shows
// the function's settings and every pair of hosts with both interfaces;
// pairs are made and removed configfs-style (a new pci_epf_ntb function
// with its primary and secondary controllers linked; nothing changes while
// a host's interface is started: 409 ERR_BUSY, as configfs answers EBUSY).
// On a host, GET /v1/ntb shows the NTB device and the transport above it.
// The board registers them all, a host GET /v1/ntb alone; elsewhere a 404
// that says what this daemon is (not-served.ts).

import type { FastifyInstance } from 'fastify'
import type { NtbBoardRole } from './ntb-board.js'
import { pairView, type PairView } from './ntb-views.js'
import { errorReplies, fields, noContent, noFields } from '../api/schemas.js'
import { HOST_NAME, NtbPairRequestSchema, NtbPairSchema, NtbStateSchema, ref } from '../../../proto/api/index.js'

const host = { type: 'string', pattern: HOST_NAME, description: 'a host\'s node name' }
const NOT_BOARD = 'On a daemon that is not the NTB board (role ntb): 404 ERR_NOT_FOUND.'

/** `view`: the board's or the host's state; `board`: the board, whose pairs these routes make (null on a host). */
export function ntbRoutes (app: FastifyInstance, view: () => Record<string, unknown>, board: NtbBoardRole | null): void {
  app.get('/v1/ntb', {
    schema: {
      summary: 'The NTB board (pairs, interfaces, windows, doorbells, scratchpads) or an NTB host (device and transport)',
      description: 'Role ntb: an NtbBoard. Roles ntb-virtio and ntb-vhost: an NtbHost. Other roles: 404 ERR_NOT_FOUND.',
      tags: ['ntb'],
      querystring: noFields,
      response: { 200: NtbStateSchema, ...errorReplies(400, 404) }
    }
  }, async () => view())
  if (board === null) return

  app.post<{ Body: { a: string, b: string } }>('/v1/ntb/pairs', {
    schema: {
      summary: 'Pair two hosts on a new NTB function (a: primary interface, b: secondary)',
      description: 'A host already linked starts its interface at once; the other is started when it links. ' +
        'A host in another pair: 409 ERR_BUSY while that pair\'s function is started, else 409 ERR_CONFLICT. ' + NOT_BOARD,
      tags: ['ntb'],
      querystring: noFields,
      body: NtbPairRequestSchema,
      response: { 201: ref(NtbPairSchema), ...errorReplies(400, 404, 409, 413, 415) }
    }
  }, async (request, reply): Promise<PairView> => {
    const p = board.createPair(request.body.a, request.body.b)
    reply.code(201)
    return pairView(p)
  })

  app.delete<{ Params: { a: string } }>('/v1/ntb/pairs/:a', {
    schema: {
      summary: 'Remove the pair that names a host',
      description: `Refused with 409 ERR_BUSY while either host's interface is started (stop that host first); 404 for a host no pair names. ${NOT_BOARD}`,
      tags: ['ntb'],
      params: fields({ a: host }),
      querystring: noFields,
      response: { 204: noContent, ...errorReplies(400, 404, 409) }
    }
  }, async (request, reply) => {
    board.deletePair(request.params.a)
    return reply.code(204).send()
  })
}
