// The client side of TLS: ControlClient, the event stream, RpmsgClient and
// the soclink CLI reach an https:// / wss:// server whose certificate a CA
// of their own signed (--ca, SOCLINK_CA_FILE; ca / caFile in the library),
// send the bearer token, and present a client certificate where the server
// asks for one. The server is node:https with a certificate made here at run
// time with openssl (a CA, and a server certificate with SAN IP:127.0.0.1):
// the daemon's own TLS is tested where it is built.

import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server, type ServerOptions } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocketServer } from 'ws'
import { ControlClient, RpmsgClient } from '../../client/src/index.js'
import { RPMSG_V2_PROTOCOL } from '../../proto/rpmsg-batch.js'
import { cli, SOCLINK } from '../support/daemon.js'
import { run } from '../support/children.js'
import { scaled } from '../support/time.js'

const TOKEN = 'tls-test-token-0123456789abcdef'
const dir = mkdtempSync(join(tmpdir(), 'soclink-client-tls-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
const file = (name: string): string => join(dir, name)

function openssl (...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

/** A key and a certificate for `cn` signed by the CA, with `ext` (SAN, usage). */
function issue (name: string, cn: string, ext: string): void {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`)
  writeFileSync(file(`${name}.ext`), ext)
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(Date.now()), '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`)
}

openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=soclink test CA')
issue('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
issue('client', 'app', 'extendedKeyUsage=clientAuth\n')
writeFileSync(file('token'), `# the CLI's token\nadmin ${TOKEN}\n`)
const pem = (name: string): string => readFileSync(file(name), 'utf8')

interface Fake { base: string, server: Server, seen: string[] }

/** An https server that answers the routes the tests call, and WebSockets on /v1/events and /v1/rpmsg; each wants the token. */
async function fakeDaemon (options: ServerOptions = {}): Promise<Fake> {
  const seen: string[] = []
  const authorized = (req: IncomingMessage): boolean => req.headers.authorization === `Bearer ${TOKEN}`
  const server = createServer({ key: pem('server.key'), cert: pem('server.pem'), ...options }, (req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method ?? ''} ${req.url ?? ''}`)
    const reply = (status: number, body: unknown): void => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)) }
    if (!authorized(req)) { reply(401, { error: { code: 'ERR_UNAUTHENTICATED', message: 'no token' } }); return }
    if (req.url === '/healthz') reply(200, { status: 'ok' })
    else reply(404, { error: { code: 'ERR_ROUTE_NOT_FOUND', message: `no route ${req.url ?? ''}` } })
  })
  const wss = new WebSocketServer({
    server,
    verifyClient: (info: { req: IncomingMessage }) => authorized(info.req),
    handleProtocols: (protocols: Set<string>) => protocols.has(RPMSG_V2_PROTOCOL) ? RPMSG_V2_PROTOCOL : false
  })
  wss.on('connection', (ws, req) => {
    seen.push(`WS ${req.url ?? ''}`)
    if (req.url === '/v1/events') ws.send(JSON.stringify({ type: 'link', peer: 'ep', state: 'up' }) + '\n')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    for (const c of wss.clients) c.terminate()
    wss.close()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return { base: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, server, seen }
}

const fake = await fakeDaemon()

t.test('ControlClient: https with a CA of its own and the token', async (t) => {
  t.same(await new ControlClient(fake.base, { caFile: file('ca.pem'), tokenFile: file('token') }).health(), { status: 'ok' })
  t.same(await new ControlClient(fake.base, { ca: pem('ca.pem'), token: TOKEN }).health(), { status: 'ok' }, 'the CA and token given inline')
  await t.rejects(new ControlClient(fake.base, { token: TOKEN }).health(), { code: 'ERR_CONNECT', message: /certificate/ }, 'without the CA the certificate is not trusted')
  await t.rejects(new ControlClient(fake.base, { caFile: file('ca.pem') }).health(), { code: 'ERR_UNAUTHENTICATED', message: /--token-file/ }, 'without the token')
  t.throws(() => new ControlClient(fake.base, { caFile: file('nope.pem') }), { code: 'ERR_CONFIG', message: /cannot read CA file/ })
})

t.test('the event stream and the rpmsg gateway: wss with the CA and the token', async (t) => {
  const client = new ControlClient(fake.base, { caFile: file('ca.pem'), tokenFile: file('token') })
  const stream = await client.events()
  for await (const e of stream) {
    t.match(e, { type: 'link', peer: 'ep' })
    break
  }
  const app = await RpmsgClient.connect(fake.base, { caFile: file('ca.pem'), tokenFile: file('token') })
  t.equal(app.protocol, 2)
  await app.close()
  t.ok(fake.seen.includes('WS /v1/events') && fake.seen.includes('WS /v1/rpmsg'), 'both upgrades reached the server')
  await t.rejects(RpmsgClient.connect(fake.base, { token: TOKEN }), { code: 'ERR_CONNECT', message: /certificate/ }, 'without the CA')
  await t.rejects(RpmsgClient.connect(fake.base, { caFile: file('ca.pem') }), { code: 'ERR_UNAUTHENTICATED' }, 'without the token')
})

t.test('the CLI: --ca and --token-file, or SOCLINK_CA_FILE and SOCLINK_TOKEN_FILE', async (t) => {
  const flags = await cli(fake.base, '--ca', file('ca.pem'), '--token-file', file('token'), 'health')
  t.equal(flags.code, 0, flags.stderr)
  t.equal(flags.stdout.trim(), 'ok')
  const env = await run(process.execPath, [SOCLINK, '--api', fake.base, '--json', 'health'], scaled(20_000),
    { env: { ...process.env, SOCLINK_CA_FILE: file('ca.pem'), SOCLINK_TOKEN_FILE: file('token') } })
  t.equal(env.code, 0, env.stderr)
  t.same(JSON.parse(env.stdout), { status: 'ok' })
  const noCa = await cli(fake.base, '--token-file', file('token'), 'health')
  t.equal(noCa.code, 1)
  t.match(noCa.stderr, /^soclink: ERR_CONNECT: cannot reach the control API at https:\/\/127\.0\.0\.1:\d+: .*certificate/)
  const noToken = await cli(fake.base, '--ca', file('ca.pem'), 'health')
  t.equal(noToken.code, 1)
  t.match(noToken.stderr, /^soclink: ERR_UNAUTHENTICATED: .*pass --token-file FILE/)

})

t.test('a server that requires a client certificate (mutual TLS): --cert and --key', async (t) => {
  const mutual = await fakeDaemon({ ca: pem('ca.pem'), requestCert: true, rejectUnauthorized: true })
  const trust = { caFile: file('ca.pem'), tokenFile: file('token') }
  t.same(await new ControlClient(mutual.base, { ...trust, certFile: file('client.pem'), keyFile: file('client.key') }).health(), { status: 'ok' })
  await t.rejects(new ControlClient(mutual.base, trust).health(), { code: 'ERR_CONNECT' }, 'no client certificate')
  const app = await RpmsgClient.connect(mutual.base, { ...trust, certFile: file('client.pem'), keyFile: file('client.key') })
  await app.close()
  const run = await cli(mutual.base, '--ca', file('ca.pem'), '--token-file', file('token'), '--cert', file('client.pem'), '--key', file('client.key'), 'health')
  t.equal(run.code, 0, run.stderr)
})
