// ntb_tool and ntb_perf over REST, on an NTB host (roles ntb-virtio and
// ntb-vhost): the debugfs files of drivers/ntb/test/ntb_tool.c (link, db,
// mask, peer_db, spad, peer_spad, mw_trans, peer_mw_trans) as resources,
// and runs of ntb_perf (transport/ntb-perf.ts). Other roles: 404. A host
// whose board function is not enumerated now has no device: 503.
//
// Linux binds one client per NTB device, so ntb_tool never shares one with
// ntb_transport. Here the tool shares the device with the virtio/vhost
// transport and ntb_perf, so what they own is refused with 409 ERR_BUSY,
// naming the owner, unless the request says force: MW0; doorbell bits
// 0..MAX_VQS-1 (queue notifications, whichever queues a session sets up)
// and CONFIG_DB; scratchpads 0..22 (ntb_virtio.h) and 23..31 (device
// config: room for 36 bytes, soclink's devices use 8), on both hosts; the
// link's disabling; and ntb_perf's MW1 and two doorbell bits.

import type { FastifyInstance } from 'fastify'
import type { SoclinkNode } from '../../node.js'
import type { NtbHostRole } from '../../roles/ntb-host.js'
import type { NtbHwEpf } from '../../hw/ntb/ntb-hw-epf.js'
import { checkDbBits } from '../../hw/ntb/doorbell-status.js'
import type { NtbPerf } from '../../transport/ntb-perf.js'
import { PERF_MW } from '../../transport/ntb-perf.js'
import { configDbBit, MAX_VQS, Spad } from '../../transport/ntb-spads.js'
import { BusyError, OutOfRangeError, UnavailableError } from '../../errors.js'
import { NotNtbError } from '../ntb-views.js'
import { parseNumber } from '../numbers.js'
import { errorReplies, forceQuery, indexParams, noFields } from '../schemas.js'
import * as C from '../../../../proto/api/ntb-tool.js'

/** Spads 0..22 are ntb_virtio.h's table; the device config follows, given room up to here. */
export const TRANSPORT_SPADS = 32

const TAGS = ['ntb']
const HOST_ONLY = 'On an NTB host (ntb-virtio, ntb-vhost); other roles: 404. No NTB device now (the board\'s function not enumerated): 503 ERR_UNAVAILABLE.'
const FORCE = 'What the transport or ntb_perf owns is refused with 409 ERR_BUSY naming the owner, unless force is true.'

function hostRole (node: SoclinkNode): NtbHostRole {
  if (node.ntbHost === null) throw new NotNtbError('host', node.settings.role)
  return node.ntbHost
}

function deviceOf (role: NtbHostRole): NtbHwEpf {
  const dev = role.device
  if (dev === null) {
    throw new UnavailableError(`no NTB device on this host now: the board's NTB function is not enumerated${role.lastError !== '' ? ` (last error: ${role.lastError})` : ''}`)
  }
  if (!dev.ready) throw new UnavailableError(`${dev.name} is still initialising`)
  return dev
}

function perfOf (role: NtbHostRole): NtbPerf {
  deviceOf(role)
  if (role.perf === null) throw new UnavailableError('ntb_perf is not running: the transport has not started on this NTB device yet')
  return role.perf
}

const transportName = (role: NtbHostRole): string | null =>
  role.virtio !== null ? 'the ntb-virtio transport' : role.vhost !== null ? 'the ntb-vhost transport' : null

/** Doorbell bits in use, lowest first. */
function dbOwners (role: NtbHostRole, dev: NtbHwEpf): Array<{ bit: number, owner: string }> {
  const out: Array<{ bit: number, owner: string }> = []
  const valid = dev.dbValidMask()
  const t = transportName(role)
  if (t !== null) {
    for (let b = 0; b < MAX_VQS; b++) if (((valid >>> b) & 1) !== 0) out.push({ bit: b, owner: `${t} (queue notifications: vq k rings bit k)` })
  }
  const bits = role.perf?.ownedBits ?? null
  if (bits !== null) out.push({ bit: bits.answer, owner: 'ntb_perf (answers)' }, { bit: bits.request, owner: 'ntb_perf (requests)' })
  const config = configDbBit(valid)
  if (t !== null && config >= 0) out.push({ bit: config, owner: `${t} (CONFIG_DB)` })
  return out
}

function spadOwners (role: NtbHostRole, count: number): Array<{ from: number, to: number, owner: string }> {
  const t = transportName(role)
  if (t === null) return []
  const ranges = [
    { from: 0, to: Spad.VHOST_DEVICE_CFG_SPACE - 1, owner: `${t} (ntb_virtio.h scratchpads)` },
    { from: Spad.VHOST_DEVICE_CFG_SPACE, to: TRANSPORT_SPADS - 1, owner: `${t} (device config)` }
  ]
  return ranges.filter((r) => r.from < count).map((r) => ({ ...r, to: Math.min(r.to, count - 1) }))
}

function mwOwner (role: NtbHostRole, widx: number): string | null {
  const t = transportName(role)
  if (widx === 0 && t !== null) return `${t} (MW0: rings and buffers)`
  const perf = role.perf
  if (widx === PERF_MW && perf !== null && perf.state !== 'unavailable') return 'ntb_perf (its buffer)'
  return null
}

const refuse = (what: string, owner: string): BusyError => new BusyError(`${what} belongs to ${owner}; force: true (soclink ntb ... --force) does it anyway`)

function guardBits (role: NtbHostRole, dev: NtbHwEpf, bits: number, what: string, force: boolean | undefined): void {
  if (force === true) return
  const hit = dbOwners(role, dev).find((o) => ((bits >>> o.bit) & 1) !== 0)
  if (hit !== undefined) throw refuse(`${what}: doorbell bit ${hit.bit}`, hit.owner)
}

function guardSpad (role: NtbHostRole, dev: NtbHwEpf, idx: number, what: string, force: boolean | undefined): void {
  if (force === true) return
  const hit = spadOwners(role, dev.spadCount()).find((r) => idx >= r.from && idx <= r.to)
  if (hit !== undefined) throw refuse(`${what} ${idx}`, hit.owner)
}

function dbView (role: NtbHostRole, dev: NtbHwEpf): Record<string, unknown> {
  return { bits: dev.dbRead(), mask: dev.dbReadMask(), validMask: dev.dbValidMask(), vectorCount: dev.dbVectorCount(), owned: dbOwners(role, dev) }
}

function windowView (role: NtbHostRole, dev: NtbHwEpf, widx: number): Record<string, unknown> {
  const a = dev.mwGetAlign(widx)
  const tr = dev.state().translations.find((t) => t.widx === widx)
  return { widx, addrAlign: a.addrAlign, sizeAlign: a.sizeAlign, sizeMax: a.sizeMax, translation: tr === undefined ? null : { addr: tr.addr, size: tr.size }, owner: mwOwner(role, widx) }
}

const index = (text: string, what: string): number => parseNumber(what, text)

export function ntbToolRoutes (app: FastifyInstance, node: SoclinkNode): void {
  app.post<{ Body: C.NtbLinkRequest }>('/v1/ntb/link', {
    schema: {
      summary: 'ntb_tool link: link_enable (up: true) or link_disable (up: false)',
      description: `The link is up once both hosts have enabled it. Disabling it ends the transport's session (409 ERR_BUSY unless force). ${HOST_ONLY}`,
      tags: TAGS,
      querystring: noFields,
      body: C.NtbLinkRequestSchema,
      response: { 200: C.NtbLinkResultSchema, ...errorReplies(400, 404, 409, 413, 415, 503, 504) }
    }
  }, async (request) => {
    const role = hostRole(node)
    const dev = deviceOf(role)
    const { up, force } = request.body
    const t = transportName(role)
    if (!up && force !== true && t !== null) throw refuse('the link', `${t} (its session ends when the link goes down)`)
    await (up ? dev.linkEnable() : dev.linkDisable())
    return { enabled: up, link: dev.linkIsUp() }
  })

  app.get('/v1/ntb/db', {
    schema: { summary: 'ntb_tool db and mask: doorbell bits rung, masked, valid', description: HOST_ONLY, tags: TAGS, querystring: noFields, response: { 200: C.NtbDoorbellsSchema, ...errorReplies(400, 404, 503) } }
  }, async () => {
    const role = hostRole(node)
    return dbView(role, deviceOf(role))
  })

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
  }, async (request) => {
    const role = hostRole(node)
    const dev = deviceOf(role)
    const { clear, mask, unmask, force } = request.body
    const ops: Array<[number | undefined, string, (bits: number) => void]> = [
      [clear, 'db_clear', (b) => { dev.dbClear(b) }],
      [mask, 'db_set_mask', (b) => { dev.dbSetMask(b) }],
      [unmask, 'db_clear_mask', (b) => { dev.dbClearMask(b) }]
    ]
    for (const [bits, what] of ops) {
      if (bits === undefined) continue
      checkDbBits(bits, dev.dbValidMask(), what)
      guardBits(role, dev, bits, what, force)
    }
    for (const [bits, , apply] of ops) if (bits !== undefined) apply(bits)
    return dbView(role, dev)
  })

  app.post<{ Body: C.NtbPeerDbRequest }>('/v1/ntb/peer-db', {
    schema: {
      summary: 'ntb_tool peer_db: peer_db_set, ringing doorbell bits on the other host',
      description: `Rung after every write this host made before. ${FORCE} ${HOST_ONLY}`,
      tags: TAGS,
      querystring: noFields,
      body: C.NtbPeerDbRequestSchema,
      response: { 200: C.NtbPeerDbResultSchema, ...errorReplies(400, 404, 409, 413, 415, 503) }
    }
  }, async (request) => {
    const role = hostRole(node)
    const dev = deviceOf(role)
    const { bits, force } = request.body
    checkDbBits(bits, dev.dbValidMask(), 'peer_db_set')
    if (bits === 0) throw new OutOfRangeError('peer_db_set: no bits to ring')
    guardBits(role, dev, bits, 'peer_db_set', force)
    dev.peerDbSet(bits)
    return { rang: bits }
  })

  app.get('/v1/ntb/spad', {
    schema: { summary: 'ntb_tool spad and peer_spad: every scratchpad of both hosts', description: HOST_ONLY, tags: TAGS, querystring: noFields, response: { 200: C.NtbSpadsSchema, ...errorReplies(400, 404, 503) } }
  }, async () => {
    const role = hostRole(node)
    const dev = deviceOf(role)
    const st = dev.state()
    return { count: st.spadCount, spads: st.spads, peerSpads: st.peerSpads, owned: spadOwners(role, st.spadCount) }
  })

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
      const role = hostRole(node)
      const dev = deviceOf(role)
      const idx = index(request.params.idx, what)
      guardSpad(role, dev, idx, peer ? 'peer_spad_write: scratchpad' : 'spad_write: scratchpad', request.body.force)
      if (peer) dev.peerSpadWrite(idx, request.body.value)
      else dev.spadWrite(idx, request.body.value)
      return { idx, value: peer ? dev.peerSpadRead(idx) : dev.spadRead(idx) }
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
  }, async () => {
    const role = hostRole(node)
    const dev = deviceOf(role)
    const count = dev.mwCount()
    const widxs = Array.from({ length: count }, (_, w) => w)
    return {
      count,
      windows: widxs.map((w) => windowView(role, dev, w)),
      peerWindows: Array.from({ length: dev.peerMwCount() }, (_, w) => {
        const p = dev.peerMwGetAddr(w)
        return { widx: w, base: p.base, size: p.size }
      })
    }
  })

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
    const role = hostRole(node)
    const dev = deviceOf(role)
    const widx = index(request.params.widx, 'memory window')
    const owner = mwOwner(role, widx)
    if (owner !== null && request.body.force !== true) throw refuse(`memory window ${widx}`, owner)
    await dev.mwSetTrans(widx, request.body.addr, request.body.size)
    return windowView(role, dev, widx)
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
    const role = hostRole(node)
    const dev = deviceOf(role)
    const widx = index(request.params.widx, 'memory window')
    const owner = mwOwner(role, widx)
    if (owner !== null && request.query.force !== 'true') throw refuse(`memory window ${widx}`, owner)
    await dev.mwClearTrans(widx)
    return windowView(role, dev, widx)
  })

  app.get('/v1/ntb/perf', {
    schema: {
      summary: 'ntb_perf on this host: its state, memory window, doorbell bits, buffer and counters',
      description: HOST_ONLY,
      tags: TAGS,
      querystring: noFields,
      response: { 200: C.NtbPerfStateSchema, ...errorReplies(400, 404, 503) }
    }
  }, async () => perfOf(hostRole(node)).view())

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
  }, async (request) => await perfOf(hostRole(node)).run(request.body))
}
