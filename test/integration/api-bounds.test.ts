// Bounded everything, in the control API: operators' regions are bounded in
// size one by one and added up, and a role's own regions cannot be deleted;
// windows are bounded in number, request strings in length and JSON bodies
// in bytes; dial targets are checked, bounded in number, and can be
// forgotten (DELETE /v1/peers/:peer). Real daemons in process, requests
// through app.inject.

import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { buildApi } from '../../daemon/src/api/server.js'
import { ROLES } from '../../daemon/src/config/settings.js'
import { linkUrl, startNode } from '../support/nodes.js'
import { until } from '../support/daemon.js'

interface ErrorBody { error: { code: string, message: string } }
const errorOf = (res: LightMyRequestResponse): { status: number, code: string } => ({ status: res.statusCode, code: res.json<ErrorBody>().error.code })

const rc = await startNode('rc', ['--role', 'rc', '--max-region-size', '64K', '--max-region-memory', '128K', '--max-windows', '2', '--max-body-bytes', '8K'])
const a = await startNode('a', ['--role', 'ntb', '--max-peers', '2'])
const b = await startNode('b', ['--role', 'ntb'])
const apiRc = await buildApi(rc)
const apiA = await buildApi(a)
t.teardown(async () => {
  await apiRc.close()
  await apiA.close()
  for (const n of [a, b, rc]) await n.stop('test')
})

t.test('a role\'s own regions are refused to DELETE with 409 ERR_REGION_INTERNAL, and stay', async (t) => {
  for (const name of ['pcie.sysmem']) {
    const res = await apiRc.inject({ method: 'DELETE', url: `/v1/regions/${name}` })
    t.same(errorOf(res), { status: 409, code: 'ERR_REGION_INTERNAL' }, name)
    t.equal((await apiRc.inject({ url: `/v1/regions/${name}` })).statusCode, 200, `${name} is still there`)
  }
  const mine = await apiRc.inject({ method: 'POST', url: '/v1/regions', payload: { name: 'mine', size: 4096 } })
  t.equal(mine.statusCode, 201)
  t.equal((await apiRc.inject({ method: 'DELETE', url: '/v1/regions/mine' })).statusCode, 204, 'an operator\'s region goes')
})

t.test('regions: maxRegionSize each, maxRegionMemory in all (409 ERR_LIMIT); deleting frees room', async (t) => {
  t.same(errorOf(await apiRc.inject({ method: 'POST', url: '/v1/regions', payload: { name: 'big', size: 2 ** 53 - 1 } })), { status: 409, code: 'ERR_LIMIT' })
  t.same(errorOf(await apiRc.inject({ method: 'POST', url: '/v1/regions', payload: { name: 'big', size: 65537 } })), { status: 409, code: 'ERR_LIMIT' })
  t.equal((await apiRc.inject({ method: 'POST', url: '/v1/regions', payload: { name: 'r1', size: 65536 } })).statusCode, 201)
  t.equal((await apiRc.inject({ method: 'POST', url: '/v1/regions', payload: { name: 'r2', size: 65536 } })).statusCode, 201)
  t.same(errorOf(await apiRc.inject({ method: 'POST', url: '/v1/regions', payload: { name: 'r3', size: 4096 } })), { status: 409, code: 'ERR_LIMIT' }, 'the sum is at 128K')
  t.equal((await apiRc.inject({ method: 'DELETE', url: '/v1/regions/r1' })).statusCode, 204)
  t.equal((await apiRc.inject({ method: 'POST', url: '/v1/regions', payload: { name: 'r3', size: 4096 } })).statusCode, 201, 'room again')
  for (const n of ['r2', 'r3']) await apiRc.inject({ method: 'DELETE', url: `/v1/regions/${n}` })
})

t.test('windows: names bounded in length, bodies in bytes, windows in number', async (t) => {
  const long = await apiRc.inject({ method: 'POST', url: '/v1/windows', payload: { peer: 'p'.repeat(4000), region: 'mem', size: 16 } })
  t.same(errorOf(long), { status: 400, code: 'ERR_VALIDATION' }, 'a 4000-character peer name')
  const longRegion = await apiRc.inject({ method: 'POST', url: '/v1/windows', payload: { peer: 'p', region: 'r'.repeat(200), size: 16 } })
  t.same(errorOf(longRegion), { status: 400, code: 'ERR_VALIDATION' }, 'a 200-character region name')
  const huge = await apiRc.inject({ method: 'POST', url: '/v1/windows', payload: { peer: 'p'.repeat(1_000_000), region: 'mem', size: 16 } })
  t.same(errorOf(huge), { status: 413, code: 'ERR_BODY_TOO_LARGE' }, 'a 1 MB body')
  t.equal(rc.requester.size, 0, 'none of them left a window')
  for (let i = 0; i < 2; i++) t.equal((await apiRc.inject({ method: 'POST', url: '/v1/windows', payload: { peer: 'nobody', region: 'mem', size: 16 } })).statusCode, 201)
  t.same(errorOf(await apiRc.inject({ method: 'POST', url: '/v1/windows', payload: { peer: 'nobody', region: 'mem', size: 16 } })), { status: 409, code: 'ERR_LIMIT' }, 'maxWindows')
  for (const w of rc.requester.list()) t.equal((await apiRc.inject({ method: 'DELETE', url: `/v1/windows/${w.id}` })).statusCode, 204)
})

t.test('every string a request may carry is bounded (OpenAPI: maxLength, enum or a bounded pattern)', async (t) => {
  type Doc = { paths: Record<string, Record<string, { parameters?: Array<{ name: string, schema: unknown }>, requestBody?: { content: Record<string, { schema: unknown }> } }>> }
  // Each role documents its own routes: walk every role's document.
  const docs: Doc[] = []
  for (const role of ROLES) {
    const node = await startNode(`bounds-${role}`, ['--role', role])
    const api = await buildApi(node)
    docs.push((await api.inject({ url: '/docs/json' })).json<Doc>())
    await api.close()
    await node.stop('test')
  }
  const unbounded: string[] = []
  const walk = (s: unknown, where: string): void => {
    if (typeof s !== 'object' || s === null) return
    const o = s as Record<string, unknown>
    if (o.type === 'string' && o.maxLength === undefined && o.enum === undefined && o.format !== 'binary') unbounded.push(where)
    for (const [k, v] of Object.entries(o)) {
      if (Array.isArray(v)) v.forEach((x, i) => { walk(x, `${where}.${k}[${i}]`) })
      else if (k !== 'example') walk(v, `${where}.${k}`)
    }
  }
  let strings = 0
  const count = (s: unknown): void => { strings += JSON.stringify(s ?? {}).split('"type":"string"').length - 1 }
  for (const [path, ops] of docs.flatMap((doc) => Object.entries(doc.paths))) {
    for (const [method, op] of Object.entries(ops)) {
      for (const p of op.parameters ?? []) { walk(p.schema, `${method} ${path} ${p.name}`); count(p.schema) }
      const json = op.requestBody?.content['application/json']?.schema
      walk(json, `${method} ${path} body`)
      count(json)
    }
  }
  t.ok(strings > 50, `${strings} request strings`)
  t.same(unbounded, [], 'no unbounded request string')
})

t.test('peers: garbage URLs refused, maxPeers dial targets, DELETE stops dialing and forgets', async (t) => {
  for (const url of ['ws://u:p@h:1', 'ws://h:1/?q', 'ftp://h:1', 'ws://a b:1', 'ws://%zz:1']) {
    t.same(errorOf(await apiA.inject({ method: 'POST', url: '/v1/peers', payload: { url } })), { status: 400, code: 'ERR_CONFIG' }, url)
  }
  t.equal((await apiA.inject({ method: 'POST', url: '/v1/peers', payload: { url: linkUrl(b) } })).statusCode, 201)
  const dead = 'ws://127.0.0.1:9/v1/link'
  t.equal((await apiA.inject({ method: 'POST', url: '/v1/peers', payload: { url: dead } })).statusCode, 201)
  t.same(errorOf(await apiA.inject({ method: 'POST', url: '/v1/peers', payload: { url: 'ws://127.0.0.1:10' } })), { status: 409, code: 'ERR_LIMIT' }, 'maxPeers')
  await until('a linked to b', () => a.links.get('b')?.state === 'up')

  t.same(errorOf(await apiA.inject({ method: 'DELETE', url: '/v1/peers/nobody' })), { status: 404, code: 'ERR_NOT_FOUND' })
  t.equal((await apiA.inject({ method: 'DELETE', url: '/v1/peers/b' })).statusCode, 204, 'by name')
  await until('b saw the link go down', () => b.links.get('a')?.state === 'down')
  t.match(b.links.get('a')?.lastError, /forgot this peer/, 'b was told why')
  t.equal((await apiA.inject({ method: 'DELETE', url: `/v1/peers/${encodeURIComponent(dead)}` })).statusCode, 204, 'by URL while it has no name')
  const left = (await apiA.inject({ url: '/v1/peers' })).json<{ peers: unknown[] }>().peers
  t.same(left, [], 'both forgotten')
  t.equal(a.links.list().length, 0)
  t.equal((await apiA.inject({ method: 'POST', url: '/v1/peers', payload: { url: 'ws://127.0.0.1:11' } })).statusCode, 201, 'room for a dial target again')
})
