// Real daemons with an authenticated control API (--api-token-file), driven
// by the real CLI and client library: commands work with --token-file or
// SOCLINK_TOKEN_FILE and fail clearly without; a read token reads and may
// not change; applications reach the rpmsg gateway with an rpmsg token; the
// tokens are reread on SIGHUP. And the start-up rule: a daemon whose API
// would listen beyond loopback without tokens and TLS does not start, unless
// --api-insecure says so (with a warning).

import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ControlClient, RpmsgClient, type RpmsgChannelEvent } from '../../client/src/index.js'
import { run } from '../support/children.js'
import { cli, startDaemon, until, within, SOCLINK } from '../support/daemon.js'
import { scaled } from '../support/time.js'

const ADMIN = 'e2e-admin-0123456789abcdef0123456789'
const READ = 'e2e-read-0123456789abcdef0123456789'
const RPMSG = 'e2e-rpmsg-0123456789abcdef0123456789'

const dir = mkdtempSync(join(tmpdir(), 'soclink-e2e-auth-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
const file = (name: string, text: string): string => { const p = join(dir, name); writeFileSync(p, text); return p }

const tokens = file('api-tokens', `# soclinkd --api-token-file\nadmin ${ADMIN}\nread ${READ}\nrpmsg ${RPMSG}\n`)
const adminFile = file('admin', `${ADMIN}\n`)
const readFile = file('read', `read ${READ}\n`)
const rpmsgFile = file('rpmsg', `rpmsg ${RPMSG}\n`)

/** The CLI with an environment of its own. */
async function cliEnv (api: string, env: Record<string, string>, ...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await run(process.execPath, [SOCLINK, '--api', api, ...args], scaled(20_000), { env: { ...process.env, ...env } })
}

t.test('an rc and an ep with tokens: the CLI and the client library', async (t) => {
  const rc = await startDaemon('rc', ['--role', 'rc', '--api-token-file', tokens])
  t.teardown(async () => { await rc.stop() })
  const ep = await startDaemon('ep', ['--role', 'ep', '--api-token-file', tokens, '--peer', rc.link])
  t.teardown(async () => { await ep.stop() })
  t.match(rc.logs.join('\n'), /"tokens":3.*every request needs a bearer token/, 'the daemon says its API takes tokens')

  const open = await cli(rc.api, 'status')
  t.equal(open.code, 1, 'no token: refused')
  t.match(open.stderr, /^soclink: ERR_UNAUTHENTICATED: .*pass --token-file FILE \(or SOCLINK_TOKEN_FILE/)
  t.equal((await cli(rc.api, 'health')).code, 1, '/healthz wants the token too')

  const withFlag = await cli(rc.api, '--token-file', adminFile, 'status')
  t.equal(withFlag.code, 0, withFlag.stderr)
  t.match(withFlag.stdout, /^rc \(rc\)/)
  const health = await cliEnv(rc.api, { SOCLINK_TOKEN_FILE: readFile }, 'health')
  t.equal(health.code, 0, health.stderr)
  t.equal(health.stdout.trim(), 'ok', 'soclink health with SOCLINK_TOKEN_FILE (the image\'s health check)')

  const made = await cliEnv(rc.api, { SOCLINK_TOKEN_FILE: adminFile }, 'region', 'create', 'mem', '64K')
  t.equal(made.code, 0, made.stderr)
  const refused = await cli(rc.api, '--token-file', readFile, 'region', 'create', 'other', '64K')
  t.equal(refused.code, 1)
  t.match(refused.stderr, /^soclink: ERR_FORBIDDEN: a read token may not POST \/v1\/regions: it needs an admin token/)
  const listed = await cli(rc.api, '--token-file', readFile, '--json', 'regions')
  t.equal(listed.code, 0, listed.stderr)
  t.ok((JSON.parse(listed.stdout) as Array<{ name: string }>).some((r) => r.name === 'mem'), 'a read token lists regions')

  // Applications: an rpmsg token on each side, an echo over the link.
  const rcApi = new ControlClient(rc.api, { token: ADMIN })
  const epApi = new ControlClient(ep.api, { tokenFile: adminFile })
  await until('both rpmsg buses', async () => {
    const ok = await Promise.all([rcApi, epApi].map(async (c) => await c.rpmsgEndpoints().then(() => true, () => false)))
    return ok.every((x) => x) ? true : undefined
  }, 20_000)
  await t.rejects(RpmsgClient.connect(rc.api), { code: 'ERR_UNAUTHENTICATED' })
  await t.rejects(RpmsgClient.connect(rc.api, { tokenFile: readFile }), { code: 'ERR_FORBIDDEN' })
  const rcApp = await RpmsgClient.connect(rc.api, { tokenFile: rpmsgFile })
  const epApp = await RpmsgClient.connect(ep.api, { token: RPMSG })
  t.teardown(async () => { await rcApp.close(); await epApp.close() })
  const announced = within(new Promise<RpmsgChannelEvent>((resolve) => {
    rcApp.on('channel', (ev: RpmsgChannelEvent) => { if (ev.name === 'auth-echo' && ev.created) resolve(ev) })
  }), 'channel auth-echo')
  const epEpt = await epApp.createEndpoint({ name: 'auth-echo', announce: true })
  const rcEpt = await rcApp.createEndpoint({ name: 'auth-sender' })
  const dst = (await announced).dst
  await rcEpt.send(dst, Buffer.from('hello with a token'))
  const got = (await within(epEpt[Symbol.asyncIterator]().next(), 'the message')).value!
  t.equal(Buffer.from(got.payload).toString(), 'hello with a token')
  const cliRpmsg = await cli(rc.api, '--token-file', rpmsgFile, 'rpmsg', 'endpoints')
  t.equal(cliRpmsg.code, 0, cliRpmsg.stderr)
  const write = await cli(rc.api, '--token-file', rpmsgFile, 'mem', 'write', 'mem', '0', 'ff')
  t.equal(write.code, 1, 'an rpmsg token may not write memory')
  t.match(write.stderr, /ERR_FORBIDDEN/)
})

t.test('SIGHUP rereads the token file; a broken file keeps the tokens held', async (t) => {
  const file1 = file('hup-tokens', `admin ${ADMIN}\n`)
  const d = await startDaemon('hup', ['--role', 'rc', '--api-token-file', file1])
  t.teardown(async () => { await d.stop() })
  const asks = async (token: string): Promise<number> => (await fetch(d.api + '/v1/node', { headers: { authorization: `Bearer ${token}` } })).status
  t.equal(await asks(ADMIN), 200)
  t.equal(await asks(READ), 401)

  writeFileSync(file1, `read ${READ}\n`)
  d.proc.kill('SIGHUP')
  await until('the tokens reread', () => d.logs.some((l) => l.includes('control API tokens reread')) ? true : undefined)
  t.equal(await asks(READ), 200, 'a new token is taken')
  t.equal(await asks(ADMIN), 401, 'a token taken out is refused')

  writeFileSync(file1, 'read short\n')
  d.proc.kill('SIGHUP')
  await until('the broken file reported', () => d.logs.some((l) => l.includes('control API tokens not reread')) ? true : undefined)
  t.equal(await asks(READ), 200, 'the tokens held are kept')
  t.equal(d.proc.exitCode, null, 'the daemon runs on')
})

t.test('an API beyond loopback: refused without tokens and TLS, started with --api-insecure', async (t) => {
  await t.rejects(startDaemon('exposed', ['--role', 'rc', '--api', '0.0.0.0:0']),
    /exposed exited with 2: soclinkd: ERR_CONFIG: the control API would listen on 0\.0\.0\.0:0, beyond loopback, with no API token file .* --api-insecure/)
  await t.rejects(startDaemon('tokens-only', ['--role', 'rc', '--api', '0.0.0.0:0', '--api-token-file', tokens]),
    /exited with 2: soclinkd: ERR_CONFIG: .*with no TLS/, 'tokens without TLS are refused too')
  await t.rejects(startDaemon('bad-tokens', ['--role', 'rc', '--api-token-file', file('bad', 'root 0123456789abcdef0123\n')]),
    /exited with 2: soclinkd: ERR_CONFIG: .*line 1: unknown scope "root"/, 'a token file that does not parse stops the start')

  const insecure = await startDaemon('insecure', ['--role', 'rc', '--api', '0.0.0.0:0', '--api-insecure'])
  t.teardown(async () => { await insecure.stop() })
  const warnings = insecure.logs.filter((l) => l.includes('"level":40')).join('\n')
  t.match(warnings, /--api-insecure: the control API listens on 0\.0\.0\.0:0, beyond loopback/)
  t.match(warnings, /takes no token/)
  const port = new URL(insecure.api).port
  t.equal((await fetch(`http://127.0.0.1:${port}/v1/node`)).status, 200, 'and it serves, open')
})
