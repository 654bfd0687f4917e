// Requests fastify or Node's HTTP parser refuse before any route runs get the
// API's documented error shape, {"error":{"code","message"}}, like every
// other error: a bad URL, a path parameter too long, headers too large, a
// malformed request line, and (through the route's error handler) bad JSON
// and a wrong content type. Against a real listening API: the parser's errors
// never reach app.inject.

import t from 'tap'
import { connect } from 'node:net'
import { buildApi } from '../../daemon/src/api/server.js'
import { startNode } from '../support/nodes.js'
import { within } from '../support/daemon.js'

const node = await startNode('a', ['--role', 'rc'])
const app = await buildApi(node)
const base = await app.listen({ host: '127.0.0.1', port: 0 })
t.teardown(async () => { await app.close(); await node.stop('test') })

interface Answer { status: number, body: unknown }

/** Sends `raw` on a fresh connection; the status line and JSON body of the answer. */
async function rawRequest (raw: string): Promise<Answer> {
  const { port } = new URL(base)
  const text = await within(new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => { socket.end(raw) })
    let got = ''
    socket.on('data', (d: Buffer) => { got += d.toString() })
    socket.on('close', () => { resolve(got) })
    socket.on('error', reject)
  }), 'an answer')
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1])
  return { status, body: JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) }
}

async function request (path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(base + path, init)
  return { status: res.status, body: await res.json() }
}

const shape = (code: string): unknown => ({ error: { code, message: String } })

t.test('a URL that does not decode: 400 ERR_BAD_URL', async (t) => {
  const a = await request('/v1/regions/%E0%A4%A')
  t.equal(a.status, 400)
  t.match(a.body, shape('ERR_BAD_URL'))
  t.same(Object.keys(a.body as object), ['error'], 'nothing but the error')
})

t.test('a path parameter longer than the router takes: 414 ERR_URI_TOO_LONG', async (t) => {
  const a = await request(`/v1/regions/${'a'.repeat(500)}`)
  t.equal(a.status, 414)
  t.match(a.body, shape('ERR_URI_TOO_LONG'))
})

t.test('headers larger than Node accepts: 431 ERR_HEADERS_TOO_LARGE', async (t) => {
  const a = await rawRequest(`GET /v1/regions HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
  t.equal(a.status, 431)
  t.match(a.body, shape('ERR_HEADERS_TOO_LARGE'))
  const q = await rawRequest(`GET /v1/regions?${'a'.repeat(20_000)}=1 HTTP/1.1\r\nHost: x\r\n\r\n`)
  t.equal(q.status, 431, 'a query string too long is the same')
  t.match(q.body, shape('ERR_HEADERS_TOO_LARGE'))
})

t.test('a malformed request: 400 ERR_BAD_REQUEST', async (t) => {
  const a = await rawRequest('GET /v1/regions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n')
  t.equal(a.status, 400)
  t.match(a.body, shape('ERR_BAD_REQUEST'))
  const b = await rawRequest('NOT A REQUEST\r\n\r\n')
  t.equal(b.status, 400)
  t.match(b.body, shape('ERR_BAD_REQUEST'))
})

t.test('bad JSON, an empty JSON body and a content type no route reads', async (t) => {
  const json = { 'content-type': 'application/json' }
  t.match(await request('/v1/regions', { method: 'POST', headers: json, body: '{bad' }), { status: 400, body: shape('ERR_BAD_JSON') })
  t.match(await request('/v1/regions', { method: 'POST', headers: json, body: '' }), { status: 400, body: shape('ERR_BAD_JSON') })
  t.match(await request('/v1/regions', { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<a/>' }), { status: 415, body: shape('ERR_MEDIA_TYPE') })
})

t.test('the API still serves', async (t) => {
  t.match(await request('/healthz'), { status: 200, body: { status: 'ok' } })
})
