// TLS on links between real daemons, with a CA and certificates made for
// the run (test/support/pki.ts): mutual TLS carries rpmsg in both
// topologies; every way a TLS link can be wrong (an unknown CA, an expired
// certificate, a certificate for another host, plain against TLS both ways,
// no client certificate, a certificate for another node name) is refused,
// and the side that failed says why in GET /v1/peers and the side that
// refused in its log.

import t, { type Test } from 'tap'
import { WebSocket } from 'ws'
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { startDaemon, until, type Daemon } from '../support/daemon.js'
import { scaled } from '../support/time.js'
import { TestPki, type Issued } from '../support/pki.js'
import { api, dialError, logLine, peerUp, peers, tlsArgs } from '../support/tls-daemons.js'
import { REFUSAL_LOG_PERIOD_MS } from '../../daemon/src/link/log-limit.js'

const pki = await TestPki.create()
t.teardown(async () => { await pki.remove() })
const ca = await pki.ca('soclink test CA')
const otherCa = await pki.ca('another CA')
const cert: Record<string, Issued> = {}
for (const n of ['rc', 'ep', 'board', 'host1', 'host2']) cert[n] = await ca.issue(n)

/** A daemon started for one test, stopped at its end. */
async function daemon (t: Test, name: string, args: string[], env: Record<string, string> = {}): Promise<Daemon> {
  const d = await startDaemon(name, args, env)
  t.teardown(async () => { await d.stop('SIGKILL') })
  return d
}

interface SampleBody { channels: Array<{ rx: number, tx: number, done: boolean }> }

async function sampleDone (d: Daemon): Promise<void> {
  await until(`${d.name}'s rpmsg sample done`, async () => {
    const r = await api<SampleBody>(d, ca, 'GET', '/v1/rpmsg/sample')
    return r.status === 200 && r.body.channels.length === 1 && r.body.channels[0]!.done
  }, 30_000)
}

/** The rc's link port as HOST:PORT (a bare peer is dialed wss:// by a daemon with tlsCert). */
const hostPort = (d: Daemon): string => new URL(d.link).host

t.test('mutual TLS, PCIe: rc and ep link over wss://, rpmsg runs, each proved by its certificate', async (t) => {
  const rc = await daemon(t, 'rc', ['--role', 'rc', '--rpmsg-sample', ...tlsArgs(cert.rc!, ca)])
  t.match(rc.link, /^wss:\/\/127\.0\.0\.1:\d+\/v1\/link$/, 'the link port is wss://')
  t.match(rc.api, /^https:\/\//, 'the API is https://')
  const ep = await daemon(t, 'ep', ['--role', 'ep', '--rpmsg-sample', '--peer', hostPort(rc), ...tlsArgs(cert.ep!, ca)])
  const up = await peerUp(ep, ca, 'rc')
  t.match(up.url, /^wss:\/\//, 'a bare HOST:PORT peer is dialed wss:// by a daemon with tlsCert')
  await peerUp(rc, ca, 'ep')
  await sampleDone(ep)
  await sampleDone(rc)
  t.pass('rpmsg-client-sample exchanged its 100 messages each way over mutual TLS')
})

t.test('mutual TLS, NTB: two hosts and the board link over wss://, rpmsg runs between the hosts', async (t) => {
  const board = await daemon(t, 'board', ['--role', 'ntb', ...tlsArgs(cert.board!, ca)])
  const host1 = await daemon(t, 'host1', ['--role', 'ntb-vhost', '--rpmsg-sample', '--peer', board.link, ...tlsArgs(cert.host1!, ca)])
  const host2 = await daemon(t, 'host2', ['--role', 'ntb-virtio', '--rpmsg-sample', '--peer', board.link, ...tlsArgs(cert.host2!, ca)])
  await peerUp(board, ca, 'host1')
  await peerUp(board, ca, 'host2')
  await sampleDone(host1)
  await sampleDone(host2)
  t.pass('the hosts\' samples exchanged their 100 messages each way through the board')
})

t.test('a client certificate from another CA is refused by the acceptor, and the dialer is told why', async (t) => {
  const rc = await daemon(t, 'rc', ['--role', 'rc', ...tlsArgs(cert.rc!, ca)])
  const stranger = await otherCa.issue('ep')
  // The ep trusts the rc's CA, so it is the rc that refuses.
  const ep = await daemon(t, 'ep', ['--role', 'ep', '--peer', rc.link, '--tls-cert', stranger.cert, '--tls-key', stranger.key, '--tls-ca', ca.cert])
  // Its API has the same certificate as its links: from the other CA.
  const why = await dialError(ep, otherCa, /HTTP 403/)
  t.match(why, /client certificate \("ep", "localhost"\) is not signed by this daemon's CA/, `the ep: ${why}`)
  t.match(await logLine(rc, /refused .*: the client certificate/), /not signed by this daemon's CA/, 'the rc logs whom it refused and why')
  t.same((await peers(rc, ca)).filter((p) => p.state === 'up'), [], 'the rc has no link up')
})

t.test('a server certificate from a CA the dialer does not trust is refused by the dialer', async (t) => {
  const rc = await daemon(t, 'rc', ['--role', 'rc', ...tlsArgs(cert.rc!, ca)])
  const stranger = await otherCa.issue('ep', {}, 'ep-trusting-other')
  const ep = await daemon(t, 'ep', ['--role', 'ep', '--peer', rc.link, ...tlsArgs(stranger, otherCa)])
  const why = await dialError(ep, otherCa, /certificate/)
  t.match(why, /the peer's certificate is not signed by this daemon's CA \(tlsCa .*ca\.pem\)/, `the ep: ${why}`)
  t.match(await logLine(rc, /link connection refused/), /closed the connection during the TLS handshake: it may not trust this daemon's certificate/, 'the rc logs the failed handshake')
})

t.test('expired certificates: the dialer refuses an expired server certificate, the acceptor an expired client certificate', async (t) => {
  const past = { startdate: '20200101000000Z', enddate: '20200102000000Z' }
  const oldRc = await ca.issue('rc', past, 'rc-expired')
  const rc = await daemon(t, 'rc', ['--role', 'rc', ...tlsArgs(oldRc, ca)])
  const ep = await daemon(t, 'ep', ['--role', 'ep', '--peer', rc.link, ...tlsArgs(cert.ep!, ca)])
  t.match(await dialError(ep, ca, /expired/), /^the peer's certificate has expired$/, 'the ep says the rc\'s certificate has expired')

  const rc2 = await daemon(t, 'rc2', ['--role', 'rc', ...tlsArgs(cert.rc!, ca)])
  const oldEp = await ca.issue('ep', past, 'ep-expired')
  const ep2 = await daemon(t, 'ep2', ['--role', 'ep', '--name', 'ep', '--peer', rc2.link, ...tlsArgs(oldEp, ca)])
  // Its API has the expired certificate too: its log says what GET /v1/peers would.
  const why = await logLine(ep2, /dial failed: .*expired/)
  t.match(why, /dial failed: refused by peer: HTTP 403: the client certificate \("ep", "localhost"\) has expired \(not after Jan +2 00:00:00 2020 GMT\)/, `the ep: ${why}`)
  await logLine(rc2, /refused .*: the client certificate .* has expired/)
})

t.test('a certificate for another host: the dialer refuses it, naming the host it dialed', async (t) => {
  const elsewhere = await ca.issue('rc', { dns: ['rc.example'], ip: false }, 'rc-elsewhere')
  const rc = await daemon(t, 'rc', ['--role', 'rc', ...tlsArgs(elsewhere, ca)])
  const ep = await daemon(t, 'ep', ['--role', 'ep', '--peer', rc.link, ...tlsArgs(cert.ep!, ca)])
  t.match(await dialError(ep, ca, /host/), /the peer's certificate is not for the host dialed \(127\.0\.0\.1\): its subject alternative names are DNS:rc\.example/)
})

t.test('plain ws:// against a TLS link port: refused with a reason the dialer shows', async (t) => {
  const rc = await daemon(t, 'rc', ['--role', 'rc', ...tlsArgs(cert.rc!, ca)])
  const plainUrl = rc.link.replace(/^wss:/, 'ws:')
  const ep = await daemon(t, 'ep', ['--role', 'ep', '--peer', plainUrl])
  const why = await dialError(ep, null, /TLS/)
  t.equal(why, `refused by peer: HTTP 426: this daemon requires TLS on its link port: dial ${rc.link}`, 'the ep is told to dial wss://')
  await logLine(rc, /link port: refused a plain HTTP client \(this daemon requires TLS on its link port/)
})

t.test('wss:// against a plain link port: the dialer says the peer does not speak TLS', async (t) => {
  const rc = await daemon(t, 'rc', ['--role', 'rc'])
  const ep = await daemon(t, 'ep', ['--role', 'ep', '--peer', rc.link.replace(/^ws:/, 'wss:'), ...tlsArgs(cert.ep!, ca)])
  t.match(await dialError(ep, ca, /TLS/), /^the peer does not speak TLS: wss:\/\/127\.0\.0\.1:\d+\/v1\/link is a plain ws:\/\/ link port/)
})

t.test('mutual TLS without a client certificate: refused, and the dialer is told to present one', async (t) => {
  const rc = await daemon(t, 'rc', ['--role', 'rc', ...tlsArgs(cert.rc!, ca)])
  // A daemon with no TLS material of its own dials wss:// with the system's
  // CAs; NODE_EXTRA_CA_CERTS adds the test CA to them.
  const ep = await daemon(t, 'ep', ['--role', 'ep', '--peer', rc.link], { NODE_EXTRA_CA_CERTS: ca.cert })
  t.match(await dialError(ep, null, /HTTP 403/), /refused by peer: HTTP 403: this daemon requires a client certificate \(mutual TLS\): the dialer presented none/)
  await logLine(rc, /refused .*: this daemon requires a client certificate/)

  // Any WebSocket client gets the same answer, before anything of the link protocol.
  const status = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(rc.link, { ca: readFileSync(ca.cert) })
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate() })
    ws.on('open', () => { reject(new Error('upgraded without a client certificate')) })
    ws.on('error', () => {})
  })
  t.equal(status, 403)
})

t.test('a node name the certificate does not prove is refused, on either side', async (t) => {
  const rc = await daemon(t, 'rc', ['--role', 'rc', ...tlsArgs(cert.rc!, ca)])
  const mallory = await ca.issue('mallory')
  // A valid certificate, for another name: the acceptor checks the Hello.
  const ep = await daemon(t, 'ep', ['--role', 'ep', '--peer', rc.link, ...tlsArgs(mallory, ca)])
  const why = await dialError(ep, ca, /node name/)
  t.match(why, /refused by peer: node name "ep" is not in the client certificate \(CN, DNS SANs: "mallory", "localhost"\)/, `the ep: ${why}`)
  await logLine(rc, /refused .*: node name "ep" is not in the client certificate/)
  t.notOk((await peers(rc, ca)).some((p) => p.name === 'ep'), 'the rc made no link for the name claimed')

  // The rc's certificate names someone else: the dialer checks the Welcome.
  const impostor = await ca.issue('impostor')
  const rc2 = await daemon(t, 'rc2', ['--role', 'rc', '--name', 'rc', ...tlsArgs(impostor, ca)])
  const ep2 = await daemon(t, 'ep2', ['--role', 'ep', '--name', 'ep', '--peer', rc2.link, ...tlsArgs(cert.ep!, ca)])
  const why2 = await dialError(ep2, ca, /node name/)
  t.match(why2, /^node name "rc" is not in the server certificate \(CN, DNS SANs: "impostor", "localhost"\)/, `the ep: ${why2}`)
  await logLine(ep2, /node name "rc" is not in the server certificate/)
  t.notOk((await peers(ep2, ca)).some((p) => p.state === 'up'), 'the ep has no link up')
})

t.test('a TLS link port closes connections that send nothing, or stall in the TLS handshake, at the handshake timeout', async (t) => {
  const rc = await daemon(t, 'rc', ['--role', 'rc', '--handshake-timeout-ms', '500', ...tlsArgs(cert.rc!, ca)])
  const port = Number(new URL(rc.link).port)
  for (const [what, bytes] of [['nothing', Buffer.alloc(0)], ['the start of a ClientHello', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])]] as const) {
    const closed = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.write(bytes) })
      s.on('error', () => {})
      s.on('close', () => { clearTimeout(limit); resolve(true) })
      // Below Node's own TLS handshake timeout (120 s), or the test could not tell the daemon's from it; far above 500 ms.
      const limit = setTimeout(() => { s.destroy(); resolve(false) }, Math.min(scaled(20_000), 90_000))
    })
    t.ok(closed, `a connection that sent ${what} was closed by the daemon`)
  }
})

t.test('refusals an outsider can repeat are logged once per address and reason a period: TLS 1.2 clients, plain HTTP clients', async (t) => {
  const rc = await daemon(t, 'rc', ['--role', 'rc', ...tlsArgs(cert.rc!, ca)])
  const port = Number(new URL(rc.link).port)
  const tls12 = async (): Promise<void> => { await new Promise<void>((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(ca.cert), maxVersion: 'TLSv1.2', servername: 'rc' }, () => { s.destroy(); resolve() })
    s.on('error', () => { resolve() })
  }) }
  const plain = async (): Promise<void> => { await new Promise<void>((resolve) => {
    const s = connect(port, '127.0.0.1', () => { s.write('GET /v1/link HTTP/1.1\r\nHost: x\r\n\r\n') })
    // Read the 426 answer to its end, or 'close' never comes.
    s.resume()
    s.on('error', () => { resolve() })
    s.on('close', () => { resolve() })
  }) }
  for (let i = 0; i < 10; i++) await tls12()
  for (let i = 0; i < 10; i++) await plain()
  const refusedTls = await until('the TLS 1.2 refusal is logged', () => rc.logs.filter((l) => l.includes('link connection refused')).length > 0 ? true : undefined)
  t.ok(refusedTls)
  await until('the plain client refusal is logged', () => rc.logs.some((l) => l.includes('refused a plain HTTP client')) ? true : undefined)
  // One line a period, not one in all: on a loaded machine ten tries may outlast a period, and a second line is then due.
  const loggedAt = (text: string): number[] => rc.logs.filter((l) => l.includes(text)).map((l) => (JSON.parse(l) as { time: number }).time)
  const onePerPeriod = (times: number[]): boolean => times.length > 0 && times.every((at, i) => i === 0 || at - times[i - 1]! >= REFUSAL_LOG_PERIOD_MS)
  const tlsLines = loggedAt('link connection refused')
  const plainLines = loggedAt('refused a plain HTTP client')
  t.ok(onePerPeriod(tlsLines), `ten TLS 1.2 handshakes: one line a period (${tlsLines.length} lines at ${tlsLines.join(', ')})`)
  t.ok(onePerPeriod(plainLines), `ten plain clients: one line a period (${plainLines.length} lines at ${plainLines.join(', ')})`)
})

t.test('settings: a certificate without its key, or a CA alone, is a configuration error', async (t) => {
  await t.rejects(startDaemon('half', ['--tls-cert', cert.rc!.cert]), /ERR_CONFIG: tlsCert and tlsKey come together/)
  await t.rejects(startDaemon('ca-only', ['--tls-ca', ca.cert]), /ERR_CONFIG: tlsCa needs tlsCert and tlsKey/)
  await t.rejects(startDaemon('mismatch', ['--tls-cert', cert.rc!.cert, '--tls-key', cert.ep!.key]), /ERR_CONFIG: tlsCert .* with tlsKey/)
  await t.rejects(startDaemon('missing', ['--tls-cert', pki.path('none.pem'), '--tls-key', cert.rc!.key]), /ERR_CONFIG: cannot read tlsCert/)
})
