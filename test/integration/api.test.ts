// The control API against real in-process daemons: node a owns regions and
// doorbells, node b dials a and opens windows and rings doorbells on it.
// Requests go through app.inject; the event stream through a real socket.

import t from 'tap'
import WebSocket from 'ws'
import type { LightMyRequestResponse } from 'fastify'
import type { NodeEvent } from '../../daemon/src/node.js'
import { buildApi } from '../../daemon/src/api/server.js'
import { linkUrl, startNode } from '../support/nodes.js'
import { until, within } from '../support/daemon.js'
import { scaled } from '../support/time.js'

interface ErrorBody { error: { code: string, message: string } }
interface RegionBody { id: number, name: string, size: number, populatedPages: number, writes: number, subscribers: Array<{ peer: string, window: number }> }
interface WindowBody { id: number, peer: string, region: string | number, state: string, regionName: string }
interface DoorbellBody { name: string, rings: number, lastValue: number }

const octets = { 'content-type': 'application/octet-stream' }
const errorCode = (res: LightMyRequestResponse): string => res.json<ErrorBody>().error.code

// Plain memory daemons: an NTB board owns no regions until an NTB host links, and these two are boards.
// Their link is not under test here: a starved test process (both nodes live in it) must not
// have it declared dead between heartbeats, so dead-after is generous; the tests that use the
// link wait for it to be up first.
const quiet = ['--dead-after-ms', String(scaled(60_000))]
const a = await startNode('a', ['--role', 'ntb', ...quiet])
const b = await startNode('b', ['--role', 'ntb', '--peer', linkUrl(a), ...quiet])
const apiA = await buildApi(a)
const apiB = await buildApi(b)
t.teardown(async () => {
  await apiA.close()
  await apiB.close()
  await b.stop('test')
  await a.stop('test')
})
const linked = async (): Promise<void> => { await until('b linked to a', () => b.links.get('a')?.state === 'up') }
await linked()

t.test('health and node', async (t) => {
  const health = await apiA.inject({ url: '/healthz' })
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok' })
  const res = await apiA.inject({ url: '/v1/node' })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { name: 'a', role: 'ntb', listen: linkUrl(a) })
})

t.test('regions: create, list, get by id and name, delete', async (t) => {
  const created = await apiA.inject({ method: 'POST', url: '/v1/regions', payload: { name: 'ram', size: 8192 } })
  t.equal(created.statusCode, 201)
  const r = created.json<RegionBody>()
  t.match(r, { name: 'ram', size: 8192, populatedPages: 0, writes: 0, subscribers: [] })
  t.type(r.id, 'number')

  const list = await apiA.inject({ url: '/v1/regions' })
  t.equal(list.statusCode, 200)
  t.same(list.json<{ regions: RegionBody[] }>().regions.map((x) => x.name), ['ram'])

  t.same((await apiA.inject({ url: `/v1/regions/${r.id}` })).json(), r, 'by id')
  t.same((await apiA.inject({ url: '/v1/regions/ram' })).json(), r, 'by name')

  const del = await apiA.inject({ method: 'DELETE', url: '/v1/regions/ram' })
  t.equal(del.statusCode, 204)
  t.equal(del.body, '')
  const gone = await apiA.inject({ url: '/v1/regions/ram' })
  t.equal(gone.statusCode, 404)
  t.equal(errorCode(gone), 'ERR_NOT_FOUND')
  t.equal(a.regions.find('ram'), undefined)
})

t.test('memory: PUT then GET round trip, decimal and hex offsets', async (t) => {
  t.equal((await apiA.inject({ method: 'POST', url: '/v1/regions', payload: { name: 'mem', size: 4096 } })).statusCode, 201)
  const data = Buffer.from('hello, region')
  const put = await apiA.inject({ method: 'PUT', url: `/v1/regions/mem/memory?offset=0x10&length=${data.length}`, headers: octets, payload: data })
  t.equal(put.statusCode, 200)
  t.same(put.json(), { offset: 16, length: data.length })

  const get = await apiA.inject({ url: `/v1/regions/mem/memory?offset=16&length=${data.length}` })
  t.equal(get.statusCode, 200)
  t.match(get.headers['content-type'], /^application\/octet-stream/)
  t.same(get.rawPayload, data)
  t.same(Buffer.from(a.regions.get('mem').read(16, data.length)), data, 'the region holds the bytes')
})

t.test('memory: out-of-range GET and PUT are 400 ERR_OUT_OF_RANGE and change nothing', async (t) => {
  const region = a.regions.get('mem')
  const before = Buffer.from(region.read(0, region.size))
  const writes = region.writes

  const get = await apiA.inject({ url: '/v1/regions/mem/memory?offset=4090&length=7' })
  t.equal(get.statusCode, 400)
  t.equal(errorCode(get), 'ERR_OUT_OF_RANGE')

  const put = await apiA.inject({ method: 'PUT', url: '/v1/regions/mem/memory?offset=4094', headers: octets, payload: Buffer.from('xyz') })
  t.equal(put.statusCode, 400)
  t.equal(errorCode(put), 'ERR_OUT_OF_RANGE')

  const mismatch = await apiA.inject({ method: 'PUT', url: '/v1/regions/mem/memory?offset=0&length=5', headers: octets, payload: Buffer.from('xyz') })
  t.equal(mismatch.statusCode, 400)
  t.equal(errorCode(mismatch), 'ERR_VALIDATION')

  const json = await apiA.inject({ method: 'PUT', url: '/v1/regions/mem/memory?offset=0', payload: { bytes: 'xyz' } })
  t.equal(json.statusCode, 415)
  t.equal(errorCode(json), 'ERR_MEDIA_TYPE')

  t.equal(region.writes, writes, 'no write happened')
  t.same(Buffer.from(region.read(0, region.size)), before, 'bytes unchanged')
})

t.test('validation: every malformed request is 400 ERR_VALIDATION and creates nothing', async (t) => {
  const names = (): string[] => a.regions.list().map((r) => r.name).sort()
  const before = names()
  const cases: Array<[string, object]> = [
    ['unknown body field', { name: 'v1', size: 10, colour: 'red' }],
    ['size as a string', { name: 'v2', size: '10' }],
    ['missing size', { name: 'v3' }],
    ['bad name', { name: '-v4', size: 10 }]
  ]
  for (const [what, payload] of cases) {
    const res = await apiA.inject({ method: 'POST', url: '/v1/regions', payload })
    t.equal(res.statusCode, 400, what)
    t.equal(errorCode(res), 'ERR_VALIDATION', what)
  }
  const unknown = await apiA.inject({ method: 'POST', url: '/v1/regions', payload: { name: 'v1', size: 10, colour: 'red' } })
  t.match(unknown.json<ErrorBody>().error.message, /colour/, 'the message names the unknown field')

  const query = await apiA.inject({ url: '/v1/regions/mem/memory?offset=abc&length=4' })
  t.equal(query.statusCode, 400)
  t.equal(errorCode(query), 'ERR_VALIDATION')
  t.match(query.json<ErrorBody>().error.message, /offset/)

  const badJson = await apiA.inject({ method: 'POST', url: '/v1/regions', headers: { 'content-type': 'application/json' }, payload: '{"name": ' })
  t.equal(badJson.statusCode, 400)
  t.equal(errorCode(badJson), 'ERR_BAD_JSON')

  t.same(names(), before, 'no region was created')
})

t.test('conflict, not found and unknown routes', async (t) => {
  const dup = await apiA.inject({ method: 'POST', url: '/v1/regions', payload: { name: 'mem', size: 10 } })
  t.equal(dup.statusCode, 409)
  t.equal(errorCode(dup), 'ERR_CONFLICT')
  t.equal(a.regions.get('mem').size, 4096, 'the existing region is untouched')

  const missing = await apiA.inject({ url: '/v1/regions/nosuch' })
  t.equal(missing.statusCode, 404)
  t.equal(errorCode(missing), 'ERR_NOT_FOUND')

  const route = await apiA.inject({ url: '/v1/nothing-here' })
  t.equal(route.statusCode, 404)
  t.equal(errorCode(route), 'ERR_ROUTE_NOT_FOUND')

  const plain = await apiA.inject({ url: '/v1/events' })
  t.equal(plain.statusCode, 426)
  t.equal(errorCode(plain), 'ERR_UPGRADE_REQUIRED')
})

t.test('OpenAPI document', async (t) => {
  const res = await apiA.inject({ url: '/docs/json' })
  t.equal(res.statusCode, 200)
  const doc = res.json<{ paths: Record<string, unknown>, components: { schemas: Record<string, unknown> } }>()
  t.ok(doc.paths['/v1/regions'], 'lists /v1/regions')
  t.ok(doc.paths['/v1/windows/{id}/memory'], 'lists window memory')
  t.ok(doc.components.schemas.Region, 'Region is a component')
})

t.test('windows: b opens a window onto a\'s region, writes and reads through it', async (t) => {
  await linked()
  const opened = await apiB.inject({ method: 'POST', url: '/v1/windows', payload: { peer: 'a', region: 'mem', size: 4096 } })
  t.equal(opened.statusCode, 201)
  const w = opened.json<WindowBody>()
  t.match(w, { peer: 'a', region: 'mem', state: 'open', regionName: 'mem' })
  const regionA = (await apiA.inject({ url: '/v1/regions/mem' })).json<RegionBody>()
  t.match(regionA.subscribers, [{ peer: 'b', window: w.id }], 'a lists b\'s subscription')

  const data = Buffer.from('through the window')
  const put = await apiB.inject({ method: 'PUT', url: `/v1/windows/${w.id}/memory?offset=0x100`, headers: octets, payload: data })
  t.equal(put.statusCode, 200)
  t.same(put.json(), { offset: 256, length: data.length })
  await until('the write on a\'s region', async () => {
    const res = await apiA.inject({ url: `/v1/regions/mem/memory?offset=256&length=${data.length}` })
    return res.rawPayload.equals(data)
  })

  const uncached = await apiB.inject({ url: `/v1/windows/${w.id}/memory?offset=256&length=${data.length}&uncached=true` })
  t.equal(uncached.statusCode, 200)
  t.same(uncached.rawPayload, data, 'uncached read answered by the owner')

  const fromA = Buffer.from('written by the owner')
  t.equal((await apiA.inject({ method: 'PUT', url: '/v1/regions/mem/memory?offset=512', headers: octets, payload: fromA })).statusCode, 200)
  await until('the owner\'s write in b\'s replica', async () => {
    const res = await apiB.inject({ url: `/v1/windows/${w.id}/memory?offset=512&length=${fromA.length}` })
    return res.rawPayload.equals(fromA)
  })

  const outside = await apiB.inject({ url: `/v1/windows/${w.id}/memory?offset=4095&length=2` })
  t.equal(outside.statusCode, 400)
  t.equal(errorCode(outside), 'ERR_OUT_OF_RANGE')

  t.equal((await apiB.inject({ url: `/v1/windows/${w.id}` })).json<WindowBody>().id, w.id)
  t.equal((await apiB.inject({ method: 'DELETE', url: `/v1/windows/${w.id}` })).statusCode, 204)
  t.equal((await apiB.inject({ url: `/v1/windows/${w.id}` })).statusCode, 404)
})

t.test('windows: a window onto a missing region is refused and leaves nothing behind', async (t) => {
  await linked()
  const before = b.requester.list().length
  const res = await apiB.inject({ method: 'POST', url: '/v1/windows', payload: { peer: 'a', region: 'nosuch', size: 64 } })
  t.equal(res.statusCode, 404)
  t.equal(errorCode(res), 'ERR_UNSUPPORTED_REQUEST')
  t.equal(b.requester.list().length, before, 'no window left')
  t.same((await apiB.inject({ url: '/v1/windows' })).json(), { windows: [] })
})

t.test('windows: a window past the end of its region is a completer abort', async (t) => {
  await linked()
  const res = await apiB.inject({ method: 'POST', url: '/v1/windows', payload: { peer: 'a', region: 'mem', offset: 1 << 30, size: 64 } })
  t.equal(res.statusCode, 400)
  t.equal(errorCode(res), 'ERR_OUT_OF_RANGE')
  t.same((await apiB.inject({ url: '/v1/windows' })).json(), { windows: [] }, 'no window left')
})

t.test('doorbells: a declares kick, b rings it', async (t) => {
  await linked()
  const declared = await apiA.inject({ method: 'POST', url: '/v1/doorbells', payload: { name: 'kick' } })
  t.equal(declared.statusCode, 201)
  t.same(declared.json(), { name: 'kick', rings: 0, lastValue: 0 })

  const ring = await apiB.inject({ method: 'POST', url: '/v1/peers/a/doorbells/kick' })
  t.equal(ring.statusCode, 202)
  t.same(ring.json(), { peer: 'a', target: 'kick', value: 1 })
  const kick = async (): Promise<DoorbellBody | undefined> =>
    (await apiA.inject({ url: '/v1/doorbells' })).json<{ doorbells: DoorbellBody[] }>().doorbells.find((d) => d.name === 'kick')
  await until('one ring on a', async () => (await kick())?.rings === 1)

  const valued = await apiB.inject({ method: 'POST', url: '/v1/peers/a/doorbells/kick', payload: { value: 7 } })
  t.equal(valued.statusCode, 202)
  await until('the second ring with its value', async () => { const d = await kick(); return d?.rings === 2 && d.lastValue === 7 })

  const bad = await apiB.inject({ method: 'POST', url: '/v1/peers/a/doorbells/kick', payload: { value: -1 } })
  t.equal(bad.statusCode, 400)
  t.equal(errorCode(bad), 'ERR_VALIDATION')
  const unknownPeer = await apiB.inject({ method: 'POST', url: '/v1/peers/nobody/doorbells/kick' })
  t.equal(unknownPeer.statusCode, 404)
  t.equal(errorCode(unknownPeer), 'ERR_NOT_FOUND')
  t.equal((await kick())?.rings, 2, 'rejected rings did not ring')
})

t.test('doorbells: ringing an undeclared target is reported back to b', async (t) => {
  await linked()
  const reported = new Promise<NodeEvent>((resolve) => {
    const onEvent = (e: NodeEvent): void => {
      if (e.type === 'error') { b.off('event', onEvent); resolve(e) }
    }
    b.on('event', onEvent)
  })
  const res = await apiB.inject({ method: 'POST', url: '/v1/peers/a/doorbells/nosuch' })
  t.equal(res.statusCode, 202)
  const e = await within(reported, 'an error event on b')
  t.match(e, { type: 'error', peer: 'a', message: /nosuch/ })
})

t.test('events: a WebSocket client sees a doorbell ring as a JSON line', async (t) => {
  await linked()
  await apiA.listen({ host: '127.0.0.1', port: 0 })
  const address = apiA.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  t.equal((await apiA.inject({ method: 'POST', url: '/v1/doorbells', payload: { name: 'wake' } })).statusCode, 201)

  const ws = new WebSocket(`ws://127.0.0.1:${address.port}/v1/events`)
  t.teardown(() => { ws.close() })
  const lines: string[] = []
  ws.on('message', (data: Buffer, isBinary: boolean) => { if (!isBinary) lines.push(data.toString()) })
  await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve() }); ws.once('error', reject) })

  t.equal((await apiB.inject({ method: 'POST', url: '/v1/peers/a/doorbells/wake', payload: { value: 5 } })).statusCode, 202)
  const line = await until('the doorbell event', () => lines.find((l) => l.includes('"doorbell"')))
  t.ok(line.endsWith('\n'), 'one JSON object and a newline')
  t.match(JSON.parse(line), { type: 'doorbell', peer: 'b', target: 'wake', value: 5, time: String })
})
