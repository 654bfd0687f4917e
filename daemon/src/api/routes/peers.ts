// Peers: the links to other daemons, dialing a new one, and the fault plan
// a test or an operator puts a link through (fault injection, off unless
// the daemon runs with --fault-injection).

import type { FastifyInstance } from 'fastify'
import type { SoclinkNode, PeerView } from '../../node.js'
import { normalizePeerUrl } from '../../config/settings.js'
import { ConflictError } from '../../errors.js'
import type { FaultPlanSpec } from '../../link/faults.js'
import { FaultPlanBody, errorReplies, fields, noContent, noFields, record, ref } from '../schemas.js'

export function peerRoutes (app: FastifyInstance, node: SoclinkNode): void {
  app.get('/v1/peers', {
    schema: {
      summary: 'Every peer: named ones, then dialed ones that never answered',
      tags: ['peers'],
      querystring: noFields,
      response: { 200: record({ peers: { type: 'array', items: ref('Peer') } }), ...errorReplies(400) }
    }
  }, async () => ({ peers: node.links.list().map((l) => node.peerView(l)) }))

  app.get<{ Params: { peer: string } }>('/v1/peers/:peer', {
    schema: {
      summary: 'One peer, by node name',
      tags: ['peers'],
      params: fields({ peer: { type: 'string', minLength: 1 } }),
      querystring: noFields,
      response: { 200: ref('Peer'), ...errorReplies(400, 404) }
    }
  }, async (request): Promise<PeerView> => node.peerView(node.links.peer(request.params.peer)))

  app.post<{ Body: { url: string } }>('/v1/peers', {
    schema: {
      summary: 'Dial a peer and keep redialing it',
      description: 'The peer\'s name is known once it answers; until then it is listed by URL.',
      tags: ['peers'],
      querystring: noFields,
      body: record({ url: { type: 'string', minLength: 1, maxLength: 2048, description: 'ws://HOST:PORT[/v1/link] or HOST:PORT' } }),
      response: { 201: ref('Peer'), ...errorReplies(400, 409, 413, 415) }
    }
  }, async (request, reply): Promise<PeerView> => {
    const url = normalizePeerUrl(request.body.url)
    if (node.links.list().some((l) => l.url === url)) throw new ConflictError(`${url} is dialed already`)
    const link = node.links.dial(url)
    reply.code(201)
    return node.peerView(link)
  })

  app.put<{ Params: { peer: string }, Body: FaultPlanSpec }>('/v1/peers/:peer/faults', {
    schema: {
      summary: 'Put the link to a peer through a fault plan (fault injection)',
      description: 'Replaces any plan. Faults act on the link\'s TCP connection as a proxy would; the session above ' +
        'resumes or ends as it would after a real fault. Refused with 403 unless the daemon runs with --fault-injection.',
      tags: ['peers'],
      params: fields({ peer: { type: 'string', minLength: 1 } }),
      querystring: noFields,
      body: FaultPlanBody,
      response: { 200: ref('Peer'), ...errorReplies(400, 403, 404, 413, 415) }
    }
  }, async (request): Promise<PeerView> => node.peerView(node.setFaults(request.params.peer, request.body)))

  app.delete<{ Params: { peer: string } }>('/v1/peers/:peer/faults', {
    schema: {
      summary: 'Clear a link\'s fault plan; packets it holds go on at once',
      tags: ['peers'],
      params: fields({ peer: { type: 'string', minLength: 1 } }),
      querystring: noFields,
      response: { 204: noContent, ...errorReplies(400, 403, 404) }
    }
  }, async (request, reply): Promise<void> => {
    node.setFaults(request.params.peer, null)
    reply.code(204)
  })
}
