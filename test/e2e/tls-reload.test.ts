// The control API over HTTPS with the daemon's certificate, and SIGHUP:
// certificate files swapped under a running daemon are read again; the link
// port and the API serve the new certificate to new connections, later
// dials present the new one, a live link stays up on its connection (same
// session, no resume), and a file that cannot be used keeps the old
// material.

import t from 'tap'
import { WebSocket } from 'ws'
import { connect } from 'node:tls'
import { get as httpsGet } from 'node:https'
import { get as httpGet } from 'node:http'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { startDaemon, until, within, type Daemon } from '../support/daemon.js'
import { TestPki, type Issued, type TestCa } from '../support/pki.js'
import { api, dialError, logLine, peerUp, tlsArgs } from '../support/tls-daemons.js'

const pki = await TestPki.create()
t.teardown(async () => { await pki.remove() })
const ca = await pki.ca('soclink test CA')

/** Files a daemon is started with, whose contents a test replaces. */
function liveCopy (c: Issued, stem: string): Issued {
  const live = { cert: pki.path(`${stem}.pem`), key: pki.path(`${stem}.key`) }
  install(c, live)
  return live
}
function install (from: Issued, to: Issued): void {
  copyFileSync(from.cert, to.cert)
  copyFileSync(from.key, to.key)
}
const serial = (c: Issued): string => new X509Certificate(readFileSync(c.cert)).serialNumber

/** The serial number of the certificate a new TLS connection to `url` is shown. */
async function servedSerial (url: string, trust: TestCa): Promise<string> {
  const u = new URL(url)
  return await within(new Promise<string>((resolve, reject) => {
    const s = connect({ host: u.hostname, port: Number(u.port), ca: readFileSync(trust.cert) }, () => {
      const sn = s.getPeerCertificate().serialNumber
      s.destroy()
      resolve(sn)
    })
    s.on('error', reject)
  }), `a TLS connection to ${url}`)
}

/** How many log lines of `d` match `re`. */
const count = (d: Daemon, re: RegExp): number => d.logs.filter((l) => re.test(l)).length

t.test('the control API is HTTPS: reachable with the CA, refused without it, and its WebSockets are wss://', async (t) => {
  const rcCert = await ca.issue('rc')
  const rc = await startDaemon('rc', ['--role', 'rc', ...tlsArgs(rcCert, ca)])
  t.teardown(async () => { await rc.stop('SIGKILL') })
  t.match(rc.api, /^https:\/\/127\.0\.0\.1:\d+$/)

  const node = await api<{ name: string, listen: string }>(rc, ca, 'GET', '/v1/node')
  t.equal(node.status, 200, 'GET /v1/node over HTTPS, trusting the test CA, with no client certificate')
  t.match(node.body, { name: 'rc', listen: rc.link })

  const untrusted = await new Promise<string>((resolve) => {
    httpsGet(rc.api + '/v1/node', (res) => { res.resume(); resolve(`answered ${res.statusCode ?? 0}`) }).on('error', (err: Error & { code?: string }) => { resolve(err.code ?? err.message) })
  })
  t.match(untrusted, /^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/, `without the CA the client refuses the daemon: ${untrusted}`)
  const plain = await new Promise<{ status: number, body: string }>((resolve, reject) => {
    httpGet(rc.api.replace(/^https:/, 'http:') + '/v1/node', (res) => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
    }).on('error', reject)
  })
  t.same(plain, { status: 400, body: JSON.stringify({ error: { code: 'ERR_BAD_REQUEST', message: `this control API is HTTPS: use ${rc.api}/v1/node` } }) },
    'plain HTTP is told to use https://, in the API\'s error shape')
  await logLine(rc, /control API: refused a plain HTTP client/)

  for (const path of ['/v1/events', '/v1/rpmsg']) {
    const opened = await new Promise<boolean>((resolve) => {
      const ws = new WebSocket(rc.api.replace(/^https:/, 'wss:') + path, ['soclink.rpmsg.v2'], { ca: readFileSync(ca.cert) })
      ws.on('open', () => { ws.close(); resolve(true) })
      ws.on('error', () => { resolve(false) })
    })
    t.ok(opened, `${path} opens over wss://`)
  }
})

t.test('SIGHUP reloads certificates without dropping links; a bad file keeps the old ones', async (t) => {
  const rcFiles = liveCopy(await ca.issue('rc', {}, 'rc-v1'), 'rc-live')
  const epFiles = liveCopy(await ca.issue('ep', {}, 'ep-v1'), 'ep-live')
  const rc = await startDaemon('rc', ['--role', 'rc', ...tlsArgs(rcFiles, ca)])
  t.teardown(async () => { await rc.stop('SIGKILL') })
  const ep = await startDaemon('ep', ['--role', 'ep', '--fault-injection', '--peer', rc.link, ...tlsArgs(epFiles, ca)])
  t.teardown(async () => { await ep.stop('SIGKILL') })
  const before = await peerUp(ep, ca, 'rc')
  await peerUp(rc, ca, 'ep')
  t.equal(await servedSerial(rc.link, ca), serial(rcFiles), 'the link port shows the first certificate')

  // A region on the rc, a window onto it from the ep: data across the live link.
  t.equal((await api(rc, ca, 'POST', '/v1/regions', { name: 'mem', size: 4096 })).status, 201)
  const win = await api<{ id: number }>(ep, ca, 'POST', '/v1/windows', { peer: 'rc', region: 'mem', size: 4096 })
  t.equal(win.status, 201)
  const carried = async (text: string): Promise<void> => {
    t.equal((await api(rc, ca, 'PUT', '/v1/regions/mem/memory?offset=0', undefined, Buffer.from(text))).status, 200)
    await until(`the ep's window holds ${text}`, async () => {
      const r = await api<Buffer>(ep, ca, 'GET', `/v1/windows/${win.body.id}/memory?offset=0&length=${text.length}`)
      return r.status === 200 && r.body.toString() === text
    })
  }
  await carried('before-reload')

  // A new certificate (new serial, one more name) for the rc, then SIGHUP.
  const v2 = await ca.issue('rc', { dns: ['rc', 'rc-renewed', 'localhost'] }, 'rc-v2')
  install(v2, rcFiles)
  rc.proc.kill('SIGHUP')
  await logLine(rc, /TLS material reloaded/)
  t.equal(await servedSerial(rc.link, ca), serial(v2), 'a new connection to the link port sees the new certificate')
  t.equal(await servedSerial(rc.api, ca), serial(v2), 'so does a new connection to the API')

  const same = (await peerUp(ep, ca, 'rc')).counters
  t.same({ connects: same.connects, sessions: same.sessions, resumes: same.resumes },
    { connects: before.counters.connects, sessions: before.counters.sessions, resumes: before.counters.resumes },
    'the live link kept its connection and session: no reconnect, no resume')
  await carried('after--reload')

  // A file that is no certificate: the reload fails, the material in use stays.
  writeFileSync(rcFiles.cert, 'not a certificate\n')
  const failures = count(rc, /TLS reload failed/)
  rc.proc.kill('SIGHUP')
  await until('the rc logs the failed reload', () => count(rc, /TLS reload failed/) > failures)
  t.match(rc.logs.find((l) => /TLS reload failed/.test(l)), /not a PEM certificate/, 'the log says what is wrong')
  t.equal(await servedSerial(rc.link, ca), serial(v2), 'the link port still serves the certificate loaded before')
  t.equal((await api(rc, ca, 'GET', '/v1/node')).status, 200, 'the API still answers')
  await carried('after-bad-file')

  // The ep's certificate now names someone else: its live link stays, and
  // its next dial presents the new certificate, which the rc refuses.
  const other = await ca.issue('mallory', {}, 'ep-as-mallory')
  install(other, epFiles)
  ep.proc.kill('SIGHUP')
  await logLine(ep, /TLS material reloaded/)
  const still = (await peerUp(ep, ca, 'rc')).counters
  t.equal(still.connects, before.counters.connects, 'the ep\'s live link is untouched by its reload')
  const reset = await api(ep, ca, 'PUT', '/v1/peers/rc/faults', { actions: ['reset'] })
  t.equal(reset.status, 200, 'the link\'s connection is reset', { body: reset.body })
  t.match(await dialError(ep, ca, /mallory/), /node name "ep" is not in the client certificate \(CN, DNS SANs: "mallory", "localhost"\)/,
    'the redial presented the reloaded certificate')
})
