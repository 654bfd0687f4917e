// Peers: the links to other daemons, and dialing a new one.

import type { FastifyInstance } from 'fastify'
import type { SoclinkNode, PeerView } from '../../node.js'
import { normalizePeerUrl } from '../../config/settings.js'
import { ConflictError } from '../../errors.js'
import { errorReplies, fields, noFields, record, ref } from '../schemas.js'

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
}
