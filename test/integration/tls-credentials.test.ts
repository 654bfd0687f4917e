// TlsCredentials (daemon/src/link/tls.ts) over real files made by openssl
// and a real TLS server: loading checks every file, reload() gives served
// servers the new certificate and keeps the old material when a file is
// bad, and the names a connection's peer certificate proves.

import t from 'tap'
import { createServer, connect, type TLSSocket } from 'node:tls'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { TlsCredentials, certificateCredential, peerCertificateNames } from '../../daemon/src/link/tls.js'
import { tcpSocketOf } from '../../daemon/src/link/link-server.js'
import { ConfigError } from '../../daemon/src/errors.js'
import { TestPki } from '../support/pki.js'

const pki = await TestPki.create()
t.teardown(async () => { await pki.remove() })
const ca = await pki.ca('test CA')
const rc = await ca.issue('rc')
const ep = await ca.issue('ep')
const serial = (file: string): string => new X509Certificate(readFileSync(file)).serialNumber

t.test('loading: each file is read and checked, and a bad one is a ConfigError naming it', async (t) => {
  const c = new TlsCredentials({ cert: rc.cert, key: rc.key, ca: ca.cert })
  t.ok(c.mutual, 'with a CA: mutual TLS')
  t.match(c.summary, new RegExp(`CN=rc serial ${serial(rc.cert)} valid until`))
  t.notOk(c.outOfDate)
  t.notOk(new TlsCredentials({ cert: rc.cert, key: rc.key, ca: '' }).mutual, 'without a CA: no client certificates asked for')
  const bad = pki.path('garbage.pem')
  writeFileSync(bad, 'garbage\n')
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['a missing certificate', () => new TlsCredentials({ cert: pki.path('none.pem'), key: rc.key, ca: '' }), /cannot read tlsCert .*none\.pem/],
    ['a missing key', () => new TlsCredentials({ cert: rc.cert, key: pki.path('none.key'), ca: '' }), /cannot read tlsKey/],
    ['a missing CA', () => new TlsCredentials({ cert: rc.cert, key: rc.key, ca: pki.path('none-ca.pem') }), /cannot read tlsCa/],
    ['a certificate that is no PEM', () => new TlsCredentials({ cert: bad, key: rc.key, ca: '' }), /tlsCert .*garbage\.pem is not a PEM certificate/],
    ['a CA that is no PEM', () => new TlsCredentials({ cert: rc.cert, key: rc.key, ca: bad }), /tlsCa .*garbage\.pem is not a PEM certificate/],
    ['another certificate\'s key', () => new TlsCredentials({ cert: rc.cert, key: ep.key, ca: '' }), /tlsCert .* with tlsKey .*ep\.key/]
  ]
  for (const [what, make, message] of cases) t.throws(make, Object.assign(new ConfigError(''), { message }), what)
  const old = await ca.issue('old', { startdate: '20200101000000Z', enddate: '20200102000000Z' })
  t.ok(new TlsCredentials({ cert: old.cert, key: old.key, ca: '' }).outOfDate, 'an expired certificate loads, and says it is out of date')
})

t.test('reload: a served server shows new connections the new certificate; a bad file changes nothing', async (t) => {
  const live = { cert: pki.path('live.pem'), key: pki.path('live.key') }
  copyFileSync(rc.cert, live.cert)
  copyFileSync(rc.key, live.key)
  const creds = new TlsCredentials({ ...live, ca: ca.cert })
  const under: boolean[] = []
  const server = createServer(creds.serverOptions(false), (s) => {
    const tcp = tcpSocketOf(s)
    under.push(tcp !== s && !('encrypted' in tcp) && tcp.remotePort === s.remotePort)
    s.end('x')
  })
  creds.serve(server, false)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const port = (server.address() as { port: number }).port
  const noCa = new TlsCredentials({ ...live, ca: '' })
  const shown = async (): Promise<{ serial: string, names: string[] | null }> => await new Promise((resolve, reject) => {
    const s: TLSSocket = connect({ host: '127.0.0.1', port, ca: readFileSync(ca.cert) }, () => {
      const names = peerCertificateNames(s)
      t.same(certificateCredential(s, creds), { kind: 'certificate', names }, 'with a CA of our own the certificate is a credential for its names')
      t.equal(certificateCredential(s, noCa), null, 'without one it proves no node name')
      // The server's byte: it has seen the connection too.
      s.once('data', () => { resolve({ serial: s.getPeerCertificate().serialNumber, names }); s.destroy() })
    })
    s.on('error', reject)
  })
  t.same(await shown(), { serial: serial(rc.cert), names: ['rc', 'localhost'] }, 'the first certificate, and the names it proves')

  const v2 = await ca.issue('rc', { dns: ['rc', 'rc-2'] }, 'rc-2')
  copyFileSync(v2.cert, live.cert)
  copyFileSync(v2.key, live.key)
  creds.reload()
  t.same(await shown(), { serial: serial(v2.cert), names: ['rc', 'rc-2'] }, 'after reload(), the new one')

  copyFileSync(ep.key, live.key)
  t.throws(() => { creds.reload() }, { code: 'ERR_CONFIG', message: /with tlsKey/ }, 'a key that is not the certificate\'s')
  t.equal((await shown()).serial, serial(v2.cert), 'the material loaded before stays in use')
  t.match(creds.summary, `serial ${serial(v2.cert)}`)

  t.equal(peerCertificateNames(null), null, 'no socket: no names')
  t.ok(under.length > 0 && under.every(Boolean), 'tcpSocketOf finds the TCP socket under each accepted TLS socket')
})

t.test('TLS 1.3 only: a TLS 1.2 client is refused in the handshake, before the reload and after', async (t) => {
  const creds = new TlsCredentials({ cert: rc.cert, key: rc.key, ca: ca.cert })
  const server = createServer(creds.serverOptions(true), (s) => { s.end('x') })
  creds.serve(server, true)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const port = (server.address() as { port: number }).port
  const hello = async (maxVersion: 'TLSv1.2' | 'TLSv1.3'): Promise<string> => await new Promise((resolve) => {
    const s: TLSSocket = connect({ host: '127.0.0.1', port, ca: readFileSync(ca.cert), cert: readFileSync(ep.cert), key: readFileSync(ep.key), maxVersion, servername: 'rc' }, () => {
      resolve(s.getProtocol() ?? '?')
      s.destroy()
    })
    s.on('error', (err: NodeJS.ErrnoException) => { resolve(err.code ?? err.message) })
  })
  t.equal(await hello('TLSv1.3'), 'TLSv1.3')
  t.match(await hello('TLSv1.2'), /ERR_SSL_(TLSV1_ALERT_PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL)|ECONNRESET/, 'TLS 1.2 at most: refused')
  creds.reload()
  t.match(await hello('TLSv1.2'), /ERR_SSL_(TLSV1_ALERT_PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL)|ECONNRESET/, 'and after a reload')
})
