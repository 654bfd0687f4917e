// Real daemons beyond loopback. The link port's start-up rule: listening
// beyond loopback needs mutual TLS or a shared secret, or --link-insecure
// (with a warning). And soclinkd --health-check, the image's HEALTHCHECK,
// against a real daemon with TLS and tokens: healthy with the daemon's own
// settings, unhealthy when the CA is another, the token file holds no
// token the daemon takes, or the daemon is gone.

import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run } from '../support/children.js'
import { startDaemon, SOCLINKD } from '../support/daemon.js'
import { TestPki } from '../support/pki.js'
import { tlsArgs } from '../support/tls-daemons.js'
import { scaled } from '../support/time.js'

const dir = mkdtempSync(join(tmpdir(), 'soclink-e2e-exposure-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
const file = (name: string, text: string): string => { const p = join(dir, name); writeFileSync(p, text); return p }
const pki = await TestPki.create()
t.teardown(async () => { await pki.remove() })
const ca = await pki.ca('soclink test CA')

t.test('a link port beyond loopback: refused without authentication, started with a secret, mutual TLS or --link-insecure', async (t) => {
  await t.rejects(startDaemon('open', ['--role', 'rc', '--listen', '0.0.0.0:0']),
    /open exited with 2: soclinkd: ERR_CONFIG: the link port would listen on 0\.0\.0\.0:0, beyond loopback, with no authentication.*--link-insecure/)
  await t.rejects(startDaemon('server-tls', ['--role', 'rc', '--listen', '0.0.0.0:0', ...tlsArgs(await ca.issue('server-tls'), null)]),
    /exited with 2: soclinkd: ERR_CONFIG: the link port would listen/, 'TLS without tlsCa: anyone may still link')

  const secret = await startDaemon('secret', ['--role', 'rc', '--listen', '0.0.0.0:0', '--secret-file', file('secret', 'e2e-exposure-secret\n')])
  t.teardown(async () => { await secret.stop() })
  t.match(secret.logs.join('\n'), /authenticate with a secret but carry memory in the clear/, 'a secret without TLS: warned')

  const mtls = await startDaemon('mtls', ['--role', 'rc', '--listen', '0.0.0.0:0', ...tlsArgs(await ca.issue('mtls'), ca)])
  t.teardown(async () => { await mtls.stop() })
  t.notMatch(mtls.logs.filter((l) => l.includes('"level":40')).join('\n'), /link port|links on/, 'mutual TLS: no warning about the link port')

  const insecure = await startDaemon('insecure', ['--role', 'rc', '--listen', '0.0.0.0:0', '--link-insecure'])
  t.teardown(async () => { await insecure.stop() })
  t.match(insecure.logs.filter((l) => l.includes('"level":40')).join('\n'), /--link-insecure: the link port listens on 0\.0\.0\.0:0, beyond loopback, with no authentication/)
})

t.test('soclinkd --health-check: the daemon its settings describe, over https with a token', async (t) => {
  const tokens = file('tokens', `admin e2e-health-admin-0123456789abcdef\nread e2e-health-read-0123456789abcdef\n`)
  const cert = await ca.issue('hc')
  const args = ['--role', 'rc', ...tlsArgs(cert, ca), '--api-token-file', tokens]
  const d = await startDaemon('hc', [...args, '--api', '0.0.0.0:0'])
  t.teardown(async () => { await d.stop('SIGKILL') })
  const port = new URL(d.api).port
  // As the image runs it: the daemon's settings, with an unspecified API address.
  const check = async (more: string[] = [], env: Record<string, string> = {}): Promise<{ code: number, stdout: string, stderr: string }> =>
    await run(process.execPath, [SOCLINKD, '--health-check', ...args, '--api', `0.0.0.0:${port}`, ...more], scaled(20_000), { env: { ...process.env, ...env } })

  const ok = await check()
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stdout, `https://127.0.0.1:${port}/healthz: HTTP 200`)

  const other = await pki.ca('another CA')
  const wrongCa = await check(['--tls-ca', other.cert])
  t.equal(wrongCa.code, 1, 'a CA that did not issue the API\'s certificate: unhealthy')
  t.match(wrongCa.stderr, /soclinkd --health-check: https:\/\/127\.0\.0\.1:\d+\/healthz: .*certificate/)

  const wrongToken = await check(['--api-token-file', file('other-tokens', 'read e2e-health-not-held-0123456789\n')])
  t.equal(wrongToken.code, 1, 'a token the daemon does not hold: unhealthy')
  t.match(wrongToken.stderr, /HTTP 401/)

  await d.stop('SIGKILL')
  const gone = await check()
  t.equal(gone.code, 1, 'nothing answers: unhealthy')
  t.match(gone.stderr, /ECONNREFUSED/)
})
