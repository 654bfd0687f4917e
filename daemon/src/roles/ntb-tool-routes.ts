// ntb_tool and ntb_perf over REST, on an NTB host (roles ntb-virtio and
// ntb-vhost): the debugfs files of drivers/ntb/test/ntb_tool.c (link, db,
// mask, peer_db, spad, peer_spad, mw_trans, peer_mw_trans) as resources,
// and runs of ntb_perf (transport/ntb-perf.ts), registered by the host
// roles; other roles: 404 (not-served.ts). A host whose board function is
// not enumerated now has no device: 503. What the transport and ntb_perf
// own of the device is the role's to refuse (ntb-tool.ts, 409 ERR_BUSY
// naming the owner unless the request says force); these routes parse and
// answer.

import type { FastifyInstance } from 'fastify'
import type { NtbHostRole } from './ntb-host.js'
import { parseNumber } from '../api/numbers.js'
import { errorReplies, forceQuery, indexParams, noFields } from '../api/schemas.js'
import * as C from '../../../proto/api/ntb-tool.js'

const TAGS = ['ntb']
const HOST_ONLY = 'On an NTB host (ntb-virtio, ntb-vhost); other roles: 404. No NTB device now (the board\'s function not enumerated): 503 ERR_UNAVAILABLE.'
const FORCE = 'What the transport or ntb_perf owns is refused with 409 ERR_BUSY naming the owner, unless force is true.'
const index = (text: string, what: string): number => parseNumber(what, text)

export function ntbToolRoutes (app: FastifyInstance, role: NtbHostRole): void {
  app.post<{ Body: C.NtbLinkRequest }>('/v1/ntb/link', {
    schema: {
      summary: 'ntb_tool link: link_enable (up: true) or link_disable (up: false)',
      description: `The link is up once both hosts have enabled it. Disabling it ends the transport's session (409 ERR_BUSY unless force). ${HOST_ONLY}`,
      tags: TAGS,
      querystring: noFields,
      body: C.NtbLinkRequestSchema,
      response: { 200: C.NtbLinkResultSchema, ...errorReplies(400, 404, 409, 413, 415, 503, 504) }
    }
  }, async (request) => await role.tool.setLink(request.body.up, request.body.force))

  app.get('/v1/ntb/db', {
    schema: { summary: 'ntb_tool db and mask: doorbell bits rung, masked, valid', description: HOST_ONLY, tags: TAGS, querystring: noFields, response: { 200: C.NtbDoorbellsSchema, ...errorReplies(400, 404, 503) } }
  }, async () => role.tool.db())

  app.post<{ Body: C.NtbDbRequest }>('/v1/ntb/db', {
    schema: {
      summary: 'ntb_tool db and mask writes: db_clear, db_set_mask, db_clear_mask (in that order)',
      description: 'Bits outside the valid mask: 400, and nothing is done. The transports take (read and clear) every unmasked bit that rings; mask a bit to see it stay set. ' +
        'There is no db_set: ntb_hw_epf has none (drivers/ntb/hw/epf/ntb_hw_epf.c: ntb_db_set() answers -EINVAL), so a body naming set is refused as any unknown field is (400); ' +
        `ring the bits from the other host (POST /v1/ntb/peer-db there). ${FORCE} ${HOST_ONLY}`,
      tags: TAGS,
      querystring: noFields,
      body: C.NtbDbRequestSchema,
      response: { 200: C.NtbDoorbellsSchema, ...errorReplies(400, 404, 409, 413, 415, 503) }
    }
  }, async (request) => role.tool.writeDb(request.body))

  app.post<{ Body: C.NtbPeerDbRequest }>('/v1/ntb/peer-db', {
    schema: {
      summary: 'ntb_tool peer_db: peer_db_set, ringing doorbell bits on the other host',
      description: `Rung after every write this host made before. ${FORCE} ${HOST_ONLY}`,
      tags: TAGS,
      querystring: noFields,
      body: C.NtbPeerDbRequestSchema,
      response: { 200: C.NtbPeerDbResultSchema, ...errorReplies(400, 404, 409, 413, 415, 503) }
    }
  }, async (request) => role.tool.peerDb(request.body.bits, request.body.force))

  app.get('/v1/ntb/spad', {
    schema: { summary: 'ntb_tool spad and peer_spad: every scratchpad of both hosts', description: HOST_ONLY, tags: TAGS, querystring: noFields, response: { 200: C.NtbSpadsSchema, ...errorReplies(400, 404, 503) } }
  }, async () => role.tool.spads())

  for (const [path, what, peer] of [['/v1/ntb/spad/:idx', 'scratchpad', false], ['/v1/ntb/peer-spad/:idx', 'peer scratchpad', true]] as const) {
    app.put<{ Params: { idx: string }, Body: C.NtbSpadRequest }>(path, {
      schema: {
        summary: peer ? 'ntb_tool peer_spad: peer_spad_write (the other host reads it with spad_read)' : 'ntb_tool spad: spad_write (the other host reads it with peer_spad_read)',
        description: `An index outside spad_count: 400. ${FORCE} ${HOST_ONLY}`,
        tags: TAGS,
        params: indexParams('idx', `${what} index`),
        querystring: noFields,
        body: C.NtbSpadRequestSchema,
        response: { 200: C.NtbSpadWriteSchema, ...errorReplies(400, 404, 409, 413, 415, 503) }
      }
    }, async (request) => {
      // No device (503) is said before a bad index (400), as the device was looked at first.
      role.tool.device()
      return role.tool.writeSpad(index(request.params.idx, what), request.body.value, peer, request.body.force)
    })
  }

  app.get('/v1/ntb/mw', {
    schema: {
      summary: 'ntb_tool mw_trans and peer_mw_trans: this host\'s inbound windows and translations, the peer\'s windows',
      description: HOST_ONLY,
      tags: TAGS,
      querystring: noFields,
      response: { 200: C.NtbWindowsSchema, ...errorReplies(400, 404, 503) }
    }
  }, async () => role.tool.windows())

  app.put<{ Params: { widx: string }, Body: C.NtbWindowRequest }>('/v1/ntb/mw/:widx', {
    schema: {
      summary: 'ntb_tool mw_trans: mw_set_trans, the peer\'s writes to its window widx land at [addr, addr + size) of this host\'s memory',
      description: `addr must be aligned to addrAlign and size at most sizeMax (400); the board refusing the command: 409. ${FORCE} ${HOST_ONLY}`,
      tags: TAGS,
      params: indexParams('widx', 'memory window index, from 0'),
      querystring: noFields,
      body: C.NtbWindowRequestSchema,
      response: { 200: C.NtbWindowSchema, ...errorReplies(400, 404, 409, 413, 415, 503, 504) }
    }
  }, async (request) => {
    role.tool.device()
    return await role.tool.setTranslation(index(request.params.widx, 'memory window'), request.body.addr, request.body.size, request.body.force)
  })

  app.delete<{ Params: { widx: string }, Querystring: { force?: 'true' | 'false' } }>('/v1/ntb/mw/:widx', {
    schema: {
      summary: 'ntb_tool mw_trans: mw_clear_trans; the peer\'s writes to the window are refused again',
      description: `${FORCE.replace('force is true', '?force=true')} ${HOST_ONLY}`,
      tags: TAGS,
      params: indexParams('widx', 'memory window index, from 0'),
      querystring: forceQuery,
      response: { 200: C.NtbWindowSchema, ...errorReplies(400, 404, 409, 503, 504) }
    }
  }, async (request) => {
    role.tool.device()
    return await role.tool.clearTranslation(index(request.params.widx, 'memory window'), request.query.force === 'true')
  })

  app.get('/v1/ntb/perf', {
    schema: {
      summary: 'ntb_perf on this host: its state, memory window, doorbell bits, buffer and counters',
      description: HOST_ONLY,
      tags: TAGS,
      querystring: noFields,
      response: { 200: C.NtbPerfStateSchema, ...errorReplies(400, 404, 503) }
    }
  }, async () => role.tool.perf().view())

  app.post<{ Body: C.NtbPerfRequest }>('/v1/ntb/perf', {
    schema: {
      summary: 'ntb_perf: write bandwidth into the peer\'s memory window 1, then doorbell round trips',
      description: 'Writes bytes into the peer\'s MW 1 in chunk-sized writes, rings the peer\'s ntb_perf and waits for its answer (which comes after every write has landed), ' +
        'then rings it pings times, one at a time. A run going already: 409 ERR_BUSY. Link down, ntb_perf unavailable here, or no answer from the peer\'s ntb_perf: 503 ERR_UNAVAILABLE; ' +
        `an answer lost during the run: 504 ERR_TIMEOUT. ${HOST_ONLY}`,
      tags: TAGS,
      querystring: noFields,
      body: C.NtbPerfRequestSchema,
      response: { 200: C.NtbPerfResultSchema, ...errorReplies(400, 404, 409, 413, 415, 503, 504) }
    }
  }, async (request) => await role.tool.perf().run(request.body))
}
