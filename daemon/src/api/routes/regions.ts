// Regions: memory this daemon owns. Their bytes are served by memory.ts.

import type { FastifyInstance } from 'fastify'
import type { SoclinkNode } from '../../node.js'
import { regionView, type RegionView } from '../views.js'
import { errorReplies, fields, noContent, noFields, record } from '../schemas.js'
import { NODE_NAME_MAX } from '../bounded-strings.js'
import { RegionListSchema, RegionSchema, ref } from '../../../../proto/api/index.js'

/** Node names a region's peers list may hold. */
const MAX_REGION_PEERS = 1024

/** The rule RegionTable enforces, repeated here so a bad name is a 400, not a 409. */
const REGION_NAME = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'

const idParams = fields({ id: { type: 'string', minLength: 1, description: 'the region\'s id or name' } })

export function regionRoutes (app: FastifyInstance, node: SoclinkNode): void {
  app.get('/v1/regions', {
    schema: {
      summary: 'Every region',
      tags: ['regions'],
      querystring: noFields,
      response: { 200: RegionListSchema, ...errorReplies(400) }
    }
  }, async () => ({ regions: node.regions.list().map((r) => regionView(node, r)) }))

  app.post<{ Body: { name: string, size: number, peers?: string[] } }>('/v1/regions', {
    schema: {
      summary: 'Create a region (sparse: pages are allocated when first written)',
      description: 'At most maxRegionSize bytes, and all the regions created this way (and by the regions setting) at most maxRegionMemory together: beyond, 409 ERR_LIMIT. ' +
        'With peers, only those peers may open windows onto it (and so read or write it); another peer\'s window is refused (ERR_FORBIDDEN on its side). Without, every peer may.',
      tags: ['regions'],
      querystring: noFields,
      body: record({
        name: { type: 'string', pattern: REGION_NAME },
        size: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'bytes' },
        peers: {
          type: 'array',
          maxItems: MAX_REGION_PEERS,
          items: { type: 'string', minLength: 1, maxLength: NODE_NAME_MAX },
          description: 'node names of the peers that may open windows onto the region (default: every peer)'
        }
      }, { required: ['name', 'size'] }),
      response: { 201: ref(RegionSchema), ...errorReplies(400, 409, 413, 415) }
    }
  }, async (request, reply): Promise<RegionView> => {
    const r = node.regions.createUser(request.body.name, request.body.size, request.body.peers)
    reply.code(201)
    return regionView(node, r)
  })

  app.get<{ Params: { id: string } }>('/v1/regions/:id', {
    schema: {
      summary: 'One region, by id or name',
      tags: ['regions'],
      params: idParams,
      querystring: noFields,
      response: { 200: ref(RegionSchema), ...errorReplies(400, 404) }
    }
  }, async (request): Promise<RegionView> => regionView(node, node.regions.get(request.params.id)))

  app.delete<{ Params: { id: string } }>('/v1/regions/:id', {
    schema: {
      summary: 'Delete a region; peers\' windows onto it are dropped',
      description: 'Only regions made by POST /v1/regions or the regions setting: one a role made for its hardware model (pcie.sysmem, BARs, config spaces, NTB windows) is refused with 409 ERR_REGION_INTERNAL.',
      tags: ['regions'],
      params: idParams,
      querystring: noFields,
      response: { 204: noContent, ...errorReplies(400, 404, 409) }
    }
  }, async (request, reply) => {
    node.regions.removeUser(request.params.id)
    return reply.code(204).send()
  })
}
