// Peers: the links to other daemons, dialing a new one, and the fault plan
// a test or an operator puts a link through (fault injection, off unless
// the daemon runs with --fault-injection).

import type { FastifyInstance } from 'fastify'
import type { SoclinkNode, PeerView } from '../../node.js'
import { normalizePeerUrl } from '../../config/settings.js'
import { ConflictError } from '../../errors.js'
import type { FaultPlanSpec } from '../../link/faults.js'
import { errorReplies, fields, noContent, noFields, record } from '../schemas.js'
import { FaultPlanSchema, PeerListSchema, PeerSchema, ref } from '../../../../proto/api/index.js'
import { NODE_NAME_MAX } from '../bounded-strings.js'

const peerParams = fields({ peer: { type: 'string', minLength: 1, maxLength: 2048, description: 'the peer\'s node name, or the URL it is dialed at while it has none' } })

export function peerRoutes (app: FastifyInstance, node: SoclinkNode): void {
  app.get('/v1/peers', {
    schema: {
      summary: 'Every peer: named ones, then dialed ones that never answered',
      tags: ['peers'],
      querystring: noFields,
      response: { 200: PeerListSchema, ...errorReplies(400) }
    }
  }, async () => ({ peers: node.links.list().map((l) => node.peerView(l)) }))

  app.get<{ Params: { peer: string } }>('/v1/peers/:peer', {
    schema: {
      summary: 'One peer, by node name',
      tags: ['peers'],
      params: fields({ peer: { type: 'string', minLength: 1, maxLength: NODE_NAME_MAX } }),
      querystring: noFields,
      response: { 200: ref(PeerSchema), ...errorReplies(400, 404) }
    }
  }, async (request): Promise<PeerView> => node.peerView(node.links.peer(request.params.peer)))

  app.post<{ Body: { url: string } }>('/v1/peers', {
    schema: {
      summary: 'Dial a peer and keep redialing it',
      description: 'The peer\'s name is known once it answers; until then it is listed by URL. ' +
        'A URL that is not ws:// or wss:// with a host (no user, query or fragment) is a 400 ERR_CONFIG; a URL dialed already a 409 ERR_CONFLICT; ' +
        'more than maxPeers dialed peers a 409 ERR_LIMIT.',
      tags: ['peers'],
      querystring: noFields,
      body: record({ url: { type: 'string', minLength: 1, maxLength: 2048, description: 'ws://HOST:PORT[/v1/link], wss://HOST:PORT[/v1/link] or HOST:PORT (wss:// when the daemon has tlsCert)' } }),
      response: { 201: ref(PeerSchema), ...errorReplies(400, 409, 413, 415) }
    }
  }, async (request, reply): Promise<PeerView> => {
    const url = normalizePeerUrl(request.body.url, node.settings.tlsCert !== '')
    if (node.links.list().some((l) => l.url === url)) throw new ConflictError(`${url} is dialed already`)
    const link = node.links.dial(url)
    reply.code(201)
    return node.peerView(link)
  })

  app.delete<{ Params: { peer: string } }>('/v1/peers/:peer', {
    schema: {
      summary: 'Stop dialing a peer, close its link and forget it',
      description: 'By node name, or by the URL it is dialed at while it has no name (URL-encoded). The peer is told Goodbye; ' +
        'its link goes down (windows onto it wait, devices above it are reset as on any link down). An accepted peer may dial again.',
      tags: ['peers'],
      params: peerParams,
      querystring: noFields,
      response: { 204: noContent, ...errorReplies(400, 404) }
    }
  }, async (request, reply) => {
    const ref = request.params.peer
    let key = ref
    if (node.links.get(ref) === undefined && /^wss?:\/\//.test(ref)) key = normalizePeerUrl(ref, node.settings.tlsCert !== '')
    node.links.forget(key, `${node.settings.name} forgot this peer (DELETE /v1/peers)`)
    return reply.code(204).send()
  })

  app.put<{ Params: { peer: string }, Body: FaultPlanSpec }>('/v1/peers/:peer/faults', {
    schema: {
      summary: 'Put the link to a peer through a fault plan (fault injection)',
      description: 'Replaces any plan. Faults act on the link\'s TCP connection as a proxy would; the session above ' +
        'resumes or ends as it would after a real fault. Refused with 403 unless the daemon runs with --fault-injection.',
      tags: ['peers'],
      params: peerParams,
      querystring: noFields,
      body: FaultPlanSchema,
      response: { 200: ref(PeerSchema), ...errorReplies(400, 403, 404, 413, 415) }
    }
  }, async (request): Promise<PeerView> => node.peerView(node.setFaults(request.params.peer, request.body)))

  app.delete<{ Params: { peer: string } }>('/v1/peers/:peer/faults', {
    schema: {
      summary: 'Clear a link\'s fault plan; packets it holds go on at once',
      tags: ['peers'],
      params: peerParams,
      querystring: noFields,
      response: { 204: noContent, ...errorReplies(400, 403, 404) }
    }
  }, async (request, reply): Promise<void> => {
    node.setFaults(request.params.peer, null)
    reply.code(204)
  })
}
