// A browser's WebSocket cannot send Authorization, so an upgrade may carry
// its bearer token as a subprotocol (daemon/src/api/ws-bearer.ts): the events
// stream opens with a good token so carried, answers its own protocol and
// never the token's, refuses a wrong or malformed one as it refuses a header,
// keeps the scopes (a read token so carried does not reach the rpmsg
// gateway), and a plain request is not let in by that header.

import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { buildApi } from '../../daemon/src/api/server.js'
import { bearerProtocol, BEARER_PROTOCOL_PREFIX, EVENTS_PROTOCOL } from '../../daemon/src/api/ws-bearer.js'
import { RPMSG_V2_PROTOCOL } from '../../proto/rpmsg-batch.js'
import { startNode } from '../support/nodes.js'
import { within } from '../support/daemon.js'

// A token with the characters a subprotocol cannot hold (/ + =), as RFC 6750 allows.
const READ = 'read/0123456789+abcdef0123456789abcdef=='
const WRONG = 'wrong-0123456789abcdef0123456789abcdef'

const dir = mkdtempSync(join(tmpdir(), 'soclink-ws-bearer-'))
const tokenFile = join(dir, 'tokens')
writeFileSync(tokenFile, `read ${READ}\n`)
const node = await startNode('a', ['--role', 'rc', '--api-token-file', tokenFile])
const app = await buildApi(node)
const base = await app.listen({ host: '127.0.0.1', port: 0 })
t.teardown(async () => { await app.close(); await node.stop('test'); rmSync(dir, { recursive: true, force: true }) })

/** Opens a WebSocket offering `protocols`: 101 and the protocol chosen, or the refusal's status and body. */
async function upgrade (path: string, protocols: string[]): Promise<{ status: number, protocol?: string, body?: unknown }> {
  const ws = new WebSocket(base.replace(/^http/, 'ws') + path, protocols)
  return await within(new Promise((resolve, reject) => {
    ws.once('open', () => { resolve({ status: 101, protocol: ws.protocol }); ws.close() })
    ws.once('unexpected-response', (_req, res) => {
      let text = ''
      res.on('data', (d: Buffer) => { text += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }); ws.terminate() })
    })
    ws.on('error', (err) => { if (ws.readyState !== WebSocket.CLOSING) reject(err) })
  }), `upgrade of ${path}`)
}

t.test('the events stream takes a bearer subprotocol and answers its own', async (t) => {
  t.match(bearerProtocol(READ), /^base64url\.bearer\.soclink\.[A-Za-z0-9_-]+$/, 'a valid subprotocol token')
  t.same(await upgrade('/v1/events', [EVENTS_PROTOCOL, bearerProtocol(READ)]), { status: 101, protocol: EVENTS_PROTOCOL })
  t.match(await upgrade('/v1/events', [EVENTS_PROTOCOL]), { status: 401, body: { error: { code: 'ERR_UNAUTHENTICATED' } } }, 'none')
  t.match(await upgrade('/v1/events', [EVENTS_PROTOCOL, bearerProtocol(WRONG)]), { status: 401, body: { error: { message: /not one of/ } } }, 'a wrong token')
  t.match(await upgrade('/v1/events', [EVENTS_PROTOCOL, `${BEARER_PROTOCOL_PREFIX}not.base64url`]),
    { status: 401, body: { error: { message: /base64url/ } } }, 'a malformed entry')
})

t.test('the scopes hold: a read token so carried may not use the rpmsg gateway', async (t) => {
  t.match(await upgrade('/v1/rpmsg', [RPMSG_V2_PROTOCOL, bearerProtocol(READ)]), { status: 403, body: { error: { code: 'ERR_FORBIDDEN' } } })
})

t.test('events arrive on a stream opened so', async (t) => {
  const ws = new WebSocket(base.replace(/^http/, 'ws') + '/v1/events', [EVENTS_PROTOCOL, bearerProtocol(READ)])
  t.teardown(() => { ws.terminate() })
  await within(new Promise((resolve) => ws.once('open', resolve)), 'the stream open')
  const got = within(new Promise<string>((resolve) => ws.once('message', (m: Buffer) => { resolve(m.toString()) })), 'an event')
  node.emit('event', { type: 'error', time: new Date().toISOString(), peer: 'x', message: 'through the bearer subprotocol' })
  t.match(JSON.parse(await got), { type: 'error', message: 'through the bearer subprotocol' })
})

t.test('a plain request is not let in by the subprotocol header', async (t) => {
  const res = await fetch(base + '/v1/node', { headers: { 'sec-websocket-protocol': bearerProtocol(READ) } })
  t.equal(res.status, 401)
  t.equal((await fetch(base + '/v1/node', { headers: { authorization: `Bearer ${READ}` } })).status, 200, 'the same token as a header')
})
