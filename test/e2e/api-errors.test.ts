// Errors as users meet them, against real rc and ep daemon processes:
// - what fastify and Node's HTTP parser refuse before any route runs (a body
//   too large, a path parameter too long, headers too large, a URL that does
//   not decode, bad JSON, no such route, a content type no route reads, a
//   malformed request, a WebSocket upgrade to a plain route) answers in the
//   API's shape, {"error":{"code","message"}} and nothing else, with the
//   registry's status for the code;
// - the same fault has the same code over REST and over the rpmsg gateway
//   (an announcement on the virtio side, a claim on the vhost side, a name
//   rpmsg cannot carry, a channel name in use).

import t, { type Test } from 'tap'
import { connect } from 'node:net'
import { WebSocket } from 'ws'
import { RpmsgClient } from '../../client/src/index.js'
import { ERRORS, httpStatusOf, type ErrorCode } from '../../daemon/src/error-codes.js'
import { within } from '../support/daemon.js'
import { startRpmsgPair } from '../support/rpmsg-daemons.js'

const clients: RpmsgClient[] = []
const { rc, ep, stop } = await startRpmsgPair()
t.teardown(async () => {
  for (const c of clients) await c.close()
  await stop()
})

interface Answer { status: number, type: string, body: unknown }

async function request (api: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(api + path, init)
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.json() }
}

/** Sends `raw` on a fresh connection; the status, content type and JSON body of the answer. */
async function rawRequest (api: string, raw: string): Promise<Answer> {
  const { hostname, port } = new URL(api)
  const text = await within(new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => { socket.end(raw) })
    let got = ''
    socket.on('data', (d: Buffer) => { got += d.toString() })
    socket.on('close', () => { resolve(got) })
    socket.on('error', reject)
  }), 'an answer')
  const head = text.slice(0, text.indexOf('\r\n\r\n'))
  return {
    status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]),
    type: /^content-type: (.*)$/im.exec(head)?.[1] ?? '',
    body: JSON.parse(text.slice(head.length + 4))
  }
}

/** A WebSocket upgrade that must be refused: the HTTP answer instead of a socket. */
async function upgrade (api: string, path: string): Promise<Answer> {
  return await within(new Promise<Answer>((resolve, reject) => {
    const ws = new WebSocket(api.replace(/^http/, 'ws') + path, { perMessageDeflate: false })
    ws.on('unexpected-response', (_req, res) => {
      let text = ''
      res.on('data', (d: Buffer) => { text += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body: JSON.parse(text) }) })
    })
    ws.on('open', () => { ws.terminate(); reject(new Error(`${path}: the upgrade was accepted`)) })
    // The refusal comes as unexpected-response; a socket error after it says nothing more.
    ws.on('error', () => {})
  }), `the answer to an upgrade to ${path}`)
}

/** The documented shape, exactly: one key, error, holding code and message; the status is the code's. */
function isShaped (t: Test, a: Answer, code: ErrorCode, what: string): void {
  t.equal(a.status, httpStatusOf(code), `${what}: ${httpStatusOf(code)}`)
  t.match(a.type, /^application\/json/, `${what}: JSON`)
  t.same(Object.keys(a.body as object), ['error'], `${what}: nothing but error`)
  const error = (a.body as { error: Record<string, unknown> }).error
  t.same(Object.keys(error).sort(), ['code', 'message'], `${what}: code and message`)
  t.equal(error.code, code, `${what}: ${code}`)
  t.ok(error.code as string in ERRORS, `${what}: a registry code`)
  t.type(error.message, 'string')
}

t.test('what fastify and Node refuse before any route answers in the documented shape', async (t) => {
  const api = rc.api
  const json = { 'content-type': 'application/json' }
  isShaped(t, await request(api, '/v1/regions', { method: 'POST', headers: json, body: JSON.stringify({ name: 'x'.repeat(100_000), size: 4096 }) }), 'ERR_BODY_TOO_LARGE', 'a body over maxBodyBytes')
  isShaped(t, await request(api, `/v1/regions/${'a'.repeat(500)}`), 'ERR_URI_TOO_LONG', 'a path parameter too long')
  isShaped(t, await rawRequest(api, `GET /v1/regions HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`), 'ERR_HEADERS_TOO_LARGE', 'headers too large')
  isShaped(t, await request(api, '/v1/regions/%E0%A4%A'), 'ERR_BAD_URL', 'a URL that does not decode')
  isShaped(t, await request(api, '/v1/regions', { method: 'POST', headers: json, body: '{bad' }), 'ERR_BAD_JSON', 'bad JSON')
  isShaped(t, await request(api, '/v1/regions', { method: 'POST', headers: json, body: '' }), 'ERR_BAD_JSON', 'an empty JSON body')
  isShaped(t, await request(api, '/v1/nope'), 'ERR_ROUTE_NOT_FOUND', 'no such route')
  isShaped(t, await request(api, '/v1/regions', { method: 'PATCH' }), 'ERR_ROUTE_NOT_FOUND', 'no such method')
  isShaped(t, await request(api, '/v1/regions', { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<a/>' }), 'ERR_MEDIA_TYPE', 'a content type no route reads')
  isShaped(t, await rawRequest(api, 'GET /v1/regions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'), 'ERR_BAD_REQUEST', 'a bad Content-Length')
  isShaped(t, await rawRequest(api, 'NOT A REQUEST\r\n\r\n'), 'ERR_BAD_REQUEST', 'no request line')
  isShaped(t, await upgrade(api, '/v1/regions'), 'ERR_BAD_REQUEST', 'a WebSocket upgrade to a plain route')
  isShaped(t, await upgrade(api, '/v1/nope'), 'ERR_ROUTE_NOT_FOUND', 'a WebSocket upgrade to no route')
  t.match(await request(api, '/healthz'), { status: 200, body: { status: 'ok' } }, 'the daemon still serves')
})

/** The code a gateway request fails with. */
async function gatewayCode (p: Promise<unknown>): Promise<string> {
  try {
    await within(p, 'the gateway\'s answer')
  } catch (err) {
    return (err as { code: string }).code
  }
  throw new Error('the gateway accepted it')
}

t.test('the same fault has the same code over REST and over the gateway', async (t) => {
  const json = { 'content-type': 'application/json' }
  const rcApp = await RpmsgClient.connect(rc.api)
  clients.push(rcApp)
  const epApp = await RpmsgClient.connect(ep.api)
  clients.push(epApp)

  const announceOnRc = await request(rc.api, '/v1/rpmsg/channels', { method: 'POST', headers: json, body: JSON.stringify({ name: 'svc' }) })
  isShaped(t, announceOnRc, 'ERR_RPMSG_UNSUPPORTED', 'REST: a channel made on the virtio side')
  t.equal(await gatewayCode(rcApp.createEndpoint({ name: 'svc', announce: true })), 'ERR_RPMSG_UNSUPPORTED', 'gateway: an announcement on the virtio side')

  const claimOnEp = await request(ep.api, '/v1/rpmsg/channels/svc/claim', { method: 'POST', headers: json, body: '{}' })
  isShaped(t, claimOnEp, 'ERR_RPMSG_UNSUPPORTED', 'REST: a claim on the vhost side')
  t.equal(await gatewayCode(epApp.claimChannel('svc')), 'ERR_RPMSG_UNSUPPORTED', 'gateway: a claim on the vhost side')

  // 16 characters the schema takes, 32 bytes of UTF-8 rpmsg_ns_msg.name cannot hold.
  const long = 'é'.repeat(16)
  isShaped(t, await request(ep.api, '/v1/rpmsg/channels', { method: 'POST', headers: json, body: JSON.stringify({ name: long }) }), 'ERR_RPMSG_FORMAT', 'REST: a name over 31 bytes')
  t.equal(await gatewayCode(epApp.createEndpoint({ name: long, announce: true })), 'ERR_RPMSG_FORMAT', 'gateway: a name over 31 bytes')

  t.equal((await request(ep.api, '/v1/rpmsg/channels', { method: 'POST', headers: json, body: JSON.stringify({ name: 'taken' }) })).status, 201)
  isShaped(t, await request(ep.api, '/v1/rpmsg/channels', { method: 'POST', headers: json, body: JSON.stringify({ name: 'taken' }) }), 'ERR_CONFLICT', 'REST: a channel name in use')
  t.equal(await gatewayCode(epApp.createEndpoint({ name: 'taken', announce: true })), 'ERR_CONFLICT', 'gateway: a channel name in use')
})
