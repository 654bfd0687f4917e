// The control API with bearer tokens (--api-token-file): every route fastify
// has registered, and both WebSockets, answer 401 without a token or with a
// wrong one, 403 to a read token on anything but a read (and on the frame
// capture, which needs admin), and neither to an
// admin token; the rpmsg scope reaches the gateway and no change route. The
// walk takes the routes from the API itself (apiRoutes), so a route added
// later is walked too. Against a real listening API, so the upgrades carry
// real headers.

import t from 'tap'
import { PUBLIC_ASSETS } from '../support/public-assets.js'
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { connect } from 'node:net'
import { join } from 'node:path'
import WebSocket from 'ws'
import { apiRoutes, buildApi } from '../../daemon/src/api/server.js'
import { ApiTokens } from '../../daemon/src/api/tokens.js'
import { ADMIN_GETS } from '../../daemon/src/api/auth.js'
import { RPMSG_V2_PROTOCOL } from '../../proto/rpmsg-batch.js'
import { ControlClient, RpmsgClient } from '../../client/src/index.js'
import { startNode } from '../support/nodes.js'
import { within } from '../support/daemon.js'

const ADMIN = 'admin-0123456789abcdef0123456789abcdef'
const READ = 'read-0123456789abcdef0123456789abcdef'
const RPMSG = 'rpmsg-0123456789abcdef0123456789abcdef'
const WRONG = 'wrong-0123456789abcdef0123456789abcdef'

const dir = mkdtempSync(join(tmpdir(), 'soclink-api-auth-'))
const tokenFile = join(dir, 'tokens')
writeFileSync(tokenFile, `# the API's tokens\nadmin ${ADMIN}\n\nread ${READ}\nrpmsg ${RPMSG}\n`)

const node = await startNode('a', ['--role', 'rc', '--fault-injection', '--api-token-file', tokenFile])
const app = await buildApi(node)
const base = await app.listen({ host: '127.0.0.1', port: 0 })
t.teardown(async () => { await app.close(); await node.stop('test'); rmSync(dir, { recursive: true, force: true }) })

const WEBSOCKETS = new Set(['/v1/events', '/v1/rpmsg', '/v1/capture'])

/** A URL for a route pattern: every parameter 1, a wildcard x. */
const urlOf = (pattern: string): string => pattern.replace(/:[A-Za-z]+/g, '1').replace(/\*$/, 'x')

/** The routes to walk: each method and pattern once. */
const routes = [...new Map(apiRoutes(app).map((r) => [`${r.method} ${r.url}`, r])).values()]

/**
 * The only routes served without a token: the live view's page and files
 * (routes/ui.ts). A browser's navigation cannot carry a bearer header; they
 * are the package's own bytes and hold nothing of the daemon (checked below).
 */

async function status (method: string, path: string, token?: string): Promise<{ status: number, body: unknown, challenge: string | null }> {
  const res = await fetch(base + path, { method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
  const text = await res.text()
  const json = res.headers.get('content-type')?.startsWith('application/json') === true && text !== ''
  return { status: res.status, body: json ? JSON.parse(text) : text, challenge: res.headers.get('www-authenticate') }
}

/** Opens a WebSocket; the upgrade's status (101 when it opened). */
async function upgrade (path: string, token?: string, protocols: string[] = []): Promise<{ status: number, body: unknown }> {
  const ws = new WebSocket(base.replace(/^http/, 'ws') + path, protocols, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
  return await within(new Promise((resolve, reject) => {
    ws.once('open', () => { ws.close(); resolve({ status: 101, body: null }) })
    ws.once('unexpected-response', (_req, res) => {
      let text = ''
      res.on('data', (d: Buffer) => { text += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }); ws.terminate() })
    })
    ws.on('error', (err) => { if (ws.readyState !== WebSocket.CLOSING) reject(err) })
  }), `upgrade of ${path}`)
}

const unauthenticated = { error: { code: 'ERR_UNAUTHENTICATED', message: String } }
const forbidden = { error: { code: 'ERR_FORBIDDEN', message: String } }
const isRead = (method: string): boolean => method === 'GET' || method === 'HEAD'

t.test('the walk covers the API', async (t) => {
  t.ok(routes.length > 60, `${routes.length} routes`)
  for (const must of ['GET /healthz', 'GET /docs', 'GET /docs/*', 'GET /v1/events', 'GET /v1/rpmsg', 'PUT /v1/regions/:id/memory', 'DELETE /v1/peers/:peer']) {
    t.ok(routes.some((r) => `${r.method} ${r.url}` === must), must)
  }
})

t.test('every route: 401 without a token and with a wrong one', async (t) => {
  for (const r of routes) {
    if (PUBLIC_ASSETS.has(`${r.method} ${r.url}`)) continue
    const path = urlOf(r.url)
    const none = await status(r.method, path)
    t.equal(none.status, 401, `${r.method} ${r.url} without a token`)
    t.equal(none.challenge, 'Bearer realm="soclink"', 'the challenge names the scheme')
    if (r.method !== 'HEAD') t.match(none.body, unauthenticated)
    const wrong = await status(r.method, path, WRONG)
    t.equal(wrong.status, 401, `${r.method} ${r.url} with a wrong token`)
    t.match(wrong.challenge, /error="invalid_token"/)
  }
})

t.test('every route: a read token reads, and is refused 403 anything else', async (t) => {
  for (const r of routes) {
    const a = await status(r.method, urlOf(r.url), READ)
    if (isRead(r.method) && r.url !== '/v1/rpmsg' && !ADMIN_GETS.has(r.url)) {
      t.notOk(a.status === 401 || a.status === 403, `${r.method} ${r.url}: ${a.status}`)
    } else {
      t.equal(a.status, 403, `${r.method} ${r.url} with a read token`)
      t.match(a.challenge, /error="insufficient_scope", scope="(admin|rpmsg)"/)
      if (r.method !== 'HEAD') t.match(a.body, forbidden)
    }
  }
})

t.test('every route: an rpmsg token reads and reaches the gateway, and changes nothing', async (t) => {
  for (const r of routes) {
    const a = await status(r.method, urlOf(r.url), RPMSG)
    if (isRead(r.method) && !ADMIN_GETS.has(r.url)) t.notOk(a.status === 401 || a.status === 403, `${r.method} ${r.url}: ${a.status}`)
    else t.equal(a.status, 403, `${r.method} ${r.url} with an rpmsg token`)
  }
})

t.test('every route: an admin token is neither 401 nor 403', async (t) => {
  for (const r of routes) {
    const a = await status(r.method, urlOf(r.url), ADMIN)
    t.notOk(a.status === 401 || a.status === 403, `${r.method} ${r.url}: ${a.status}`)
  }
})

t.test('the public routes: only the live view\'s files, as in the package, without a token', async (t) => {
  t.same(routes.filter((r) => PUBLIC_ASSETS.has(`${r.method} ${r.url}`)).length, PUBLIC_ASSETS.size, 'each is a route')
  const ui = new URL('../../daemon/src/api/ui/', import.meta.url)
  const page = await fetch(base + '/')
  t.equal(page.status, 200)
  t.equal(await page.text(), readFileSync(new URL('index.html', ui), 'utf8'), 'GET / is index.html, byte for byte')
  t.match(page.headers.get('content-security-policy'), /default-src 'self'.*frame-ancestors 'none'/)
  for (const name of ['app.js', 'api.js', 'render.js', 'style.css']) {
    const res = await fetch(`${base}/ui/${name}`)
    t.equal(res.status, 200, name)
    t.equal(await res.text(), readFileSync(new URL(name, ui), 'utf8'), `${name} as in the package`)
  }
  for (const path of ['/ui/', '/ui/index.html', '/ui/..%2f..%2fauth.ts', '/ui/%2e%2e%2fpackage.json', '/ui/nothing.js']) {
    t.equal((await status('GET', path)).status, 400, `${path}: no other file`)
  }
  for (const path of ['/ui', '/index.html', '/ui/app.js/x']) t.equal((await status('GET', path)).status, 401, `${path}: guarded as any other path`)
})

t.test('a path no route serves: 401 first, so routes cannot be probed; 404 with a token', async (t) => {
  t.equal((await status('GET', '/v1/nothing-here')).status, 401)
  t.equal((await status('POST', '/v1/nothing-here', READ)).status, 403)
  t.equal((await status('GET', '/v1/nothing-here', READ)).status, 404)
})

t.test('an Authorization header of another scheme is 401 invalid_request', async (t) => {
  const res = await fetch(base + '/v1/node', { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } })
  t.equal(res.status, 401)
  t.match(res.headers.get('www-authenticate'), /error="invalid_request"/)
  t.equal((await fetch(base + '/v1/node', { headers: { authorization: `bearer ${READ}` } })).status, 200, 'the scheme name is case-insensitive (RFC 7235)')
})

t.test('the WebSockets: /v1/events, /v1/rpmsg and /v1/capture take the same tokens on their upgrade', async (t) => {
  for (const path of WEBSOCKETS) {
    t.match(await upgrade(path), { status: 401, body: unauthenticated }, `${path} without a token`)
    t.match(await upgrade(path, WRONG), { status: 401, body: unauthenticated }, `${path} with a wrong token`)
    t.equal((await upgrade(path, ADMIN)).status, 101, `${path} with an admin token`)
  }
  t.equal((await upgrade('/v1/events', READ)).status, 101, 'a read token follows the events')
  t.match(await upgrade('/v1/rpmsg', READ), { status: 403, body: forbidden }, 'a read token may not use the rpmsg gateway')
  t.equal((await upgrade('/v1/rpmsg', RPMSG, [RPMSG_V2_PROTOCOL])).status, 101, 'an rpmsg token may')
  t.equal((await upgrade('/v1/events', RPMSG)).status, 101, 'and may follow the events')
  t.match(await upgrade('/v1/capture', READ), { status: 403, body: forbidden }, 'a read token may not capture the links\' bytes')
  t.match(await upgrade('/v1/capture', RPMSG), { status: 403, body: forbidden }, 'nor may an rpmsg token')
})

t.test('a refused upgrade is answered and its connection closed by the daemon', async (t) => {
  // The socket of an upgrade is the websocket plugin's to close: the refusal must come after it has marked the request.
  const { port } = new URL(base)
  const answer = await within(new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write('GET /v1/rpmsg HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
    })
    let got = ''
    socket.on('data', (d: Buffer) => { got += d.toString() })
    socket.on('close', () => { resolve(got) })
    socket.on('error', reject)
  }), 'the daemon closing a refused upgrade')
  t.match(answer, /^HTTP\/1\.1 401 /)
  t.match(answer, /ERR_UNAUTHENTICATED/)
})

t.test('the clients send the token and turn refusals into clear errors', async (t) => {
  t.match(await new ControlClient(base, { token: READ }).node(), { name: 'a' })
  await t.rejects(new ControlClient(base).node(), { code: 'ERR_UNAUTHENTICATED', status: 401, message: /--token-file/ })
  await t.rejects(new ControlClient(base, { token: WRONG }).node(), { code: 'ERR_UNAUTHENTICATED', message: /the token was refused/ })
  await t.rejects(new ControlClient(base, { token: READ }).createRegion('r', 4096), { code: 'ERR_FORBIDDEN', status: 403, message: /--token-file/ })
  t.throws(() => new ControlClient(base, { tokenFile: join(dir, 'missing') }), { code: 'ERR_CONFIG', message: /cannot read token file/ }, 'an unreadable token file')
  writeFileSync(join(dir, 'admin'), `admin ${ADMIN}\n`)
  t.match(await new ControlClient(base, { tokenFile: join(dir, 'admin') }).createRegion('r', 4096), { name: 'r' }, 'a "SCOPE TOKEN" line')

  await t.rejects(RpmsgClient.connect(base), { code: 'ERR_UNAUTHENTICATED', message: /rpmsg gateway.*--token-file/ })
  await t.rejects(RpmsgClient.connect(base, { token: READ }), { code: 'ERR_FORBIDDEN' })
  const app = await RpmsgClient.connect(base, { token: RPMSG })
  t.equal(app.protocol, 2, 'an rpmsg token opens the gateway')
  await app.close()

  await t.rejects(new ControlClient(base).events(), { code: 'ERR_UNAUTHENTICATED' })
  const stream = await new ControlClient(base, { token: READ }).events()
  stream.close()
})

t.test('/docs: the document says bearer, and each route\'s 401 and 403', async (t) => {
  const doc = await (await fetch(base + '/docs/json', { headers: { authorization: `Bearer ${READ}` } })).json() as {
    components: { securitySchemes: Record<string, unknown> }, security: unknown[], paths: Record<string, Record<string, { responses: Record<string, unknown>, description?: string }>>
  }
  t.match(doc.components.securitySchemes, { bearerToken: { type: 'http', scheme: 'bearer' } })
  t.same(doc.security, [{ bearerToken: [] }])
  t.ok(doc.paths['/v1/regions']!.post!.responses['401'] !== undefined && doc.paths['/v1/regions']!.post!.responses['403'] !== undefined)
  t.match(doc.paths['/v1/regions']!.post!.description, /scope admin/)
  t.match(doc.paths['/v1/regions']!.get!.description, /scope read or above/)
})

t.test('tokens reread: a new file takes effect, a bad one keeps the tokens held', async (t) => {
  const tokens = ApiTokens.load(tokenFile)
  const other = await buildApi(node, { tokens })
  t.teardown(async () => { await other.close() })
  const ask = async (token: string): Promise<number> => (await other.inject({ url: '/v1/node', headers: { authorization: `Bearer ${token}` } })).statusCode
  t.equal(await ask(READ), 200)
  writeFileSync(tokenFile, `read ${WRONG}\n`)
  t.equal(tokens.reload(), 1)
  t.equal(await ask(READ), 401, 'a token taken out of the file is refused')
  t.equal(await ask(WRONG), 200, 'one put in is taken')
  writeFileSync(tokenFile, 'read short\n')
  t.throws(() => tokens.reload(), { code: 'ERR_CONFIG', message: /line 1/ })
  t.equal(await ask(WRONG), 200, 'a bad file changes nothing')
})
