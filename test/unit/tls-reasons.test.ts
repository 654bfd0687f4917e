// The pure rules of TLS on links (daemon/src/link/tls-reasons.ts): which
// names a certificate proves, the name check on either side, and what a
// failed TLS connection is called, fed the values Node and OpenSSL report.

import t from 'tap'
import {
  acceptErrorReason, altNames, certificateNameRefusal, certificateNames, clientCertificateRefusal, dialErrorReason,
  httpRefusal, looksLikeTls, plainClientRefusal
} from '../../daemon/src/link/tls-reasons.js'
import { GOODBYE_REASON_BYTES } from '../../daemon/src/link/codec.js'

t.test('certificateNames: subject CN and DNS SANs, nothing else', async (t) => {
  t.same(certificateNames({ subject: { CN: 'rc' }, subjectaltname: 'DNS:rc, DNS:localhost, IP Address:127.0.0.1' }), ['rc', 'localhost'], 'CN once, IP addresses left out')
  t.same(certificateNames({ subject: { CN: ['a', 'b'] } }), ['a', 'b'], 'several CNs')
  t.same(certificateNames({ subjectaltname: 'DNS:x, email:x@example.com, URI:spiffe://x' }), ['x'], 'no subject; only DNS names count')
  t.same(certificateNames({ subject: { CN: '*.example.com' }, subjectaltname: 'DNS:*.example.com, DNS:node-1' }), ['node-1'], 'wildcards name no node')
  t.same(certificateNames({ subjectaltname: 'DNS:"a, b", DNS:c' }), ['a, b', 'c'], 'a quoted value (Node quotes one with a comma)')
  t.same(certificateNames({}), [], 'nothing at all')
  t.same(altNames('DNS:a, IP Address:::1'), [['DNS', 'a'], ['IP Address', '::1']])
})

t.test('certificateNameRefusal: the claimed name must be one the certificate proves', async (t) => {
  t.equal(certificateNameRefusal('ep', ['ep', 'localhost'], 'client'), null)
  const why = certificateNameRefusal('ep', ['mallory', 'localhost'], 'client')
  t.equal(why, 'node name "ep" is not in the client certificate (CN, DNS SANs: "mallory", "localhost")', 'says which name and which certificate names')
  t.ok(Buffer.byteLength(why!) <= GOODBYE_REASON_BYTES, 'fits a Goodbye reason')
  t.match(certificateNameRefusal('rc', [], 'server'), /not in the server certificate \(CN, DNS SANs: no names\)/)
  t.not(certificateNameRefusal('EP', ['ep'], 'client'), null, 'names compare exactly')
})

t.test('clientCertificateRefusal: mutual TLS on the link port', async (t) => {
  const cert = { subject: { CN: 'ep' }, subjectaltname: 'DNS:ep', valid_to: 'Jan  2 00:00:00 2020 GMT' }
  t.equal(clientCertificateRefusal({ authorized: true, authorizationError: null, cert }), null, 'a certificate from the CA')
  t.match(clientCertificateRefusal({ authorized: false, authorizationError: 'UNABLE_TO_GET_ISSUER_CERT', cert: null }),
    /requires a client certificate \(mutual TLS\): the dialer presented none; give it tlsCert and tlsKey/, 'none presented (Node still reports an issuer error)')
  t.equal(clientCertificateRefusal({ authorized: false, authorizationError: 'CERT_HAS_EXPIRED', cert }),
    'the client certificate ("ep") has expired (not after Jan  2 00:00:00 2020 GMT)')
  for (const code of ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT']) {
    t.equal(clientCertificateRefusal({ authorized: false, authorizationError: code, cert }), 'the client certificate ("ep") is not signed by this daemon\'s CA (tlsCa)', code)
  }
  t.match(clientCertificateRefusal({ authorized: false, authorizationError: 'CERT_REVOKED', cert }), /was not accepted: CERT_REVOKED/)
})

t.test('dialErrorReason: TLS failures in words, anything else as Node said it', async (t) => {
  const ctx = { url: 'wss://rc:7400/v1/link', caFile: '/run/secrets/ca' }
  const sys = { url: 'wss://rc:7400/v1/link', caFile: '' }
  t.equal(dialErrorReason({ code: 'EPROTO', message: 'write EPROTO 80:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:ssl3_record.c:350:' }, ctx),
    'the peer does not speak TLS: wss://rc:7400/v1/link is a plain ws:// link port (dial ws:// there, or give that daemon tlsCert and tlsKey)', 'TLS to a plain port')
  t.equal(dialErrorReason({ code: 'CERT_HAS_EXPIRED', message: 'certificate has expired' }, ctx), 'the peer\'s certificate has expired')
  t.equal(dialErrorReason({ code: 'SELF_SIGNED_CERT_IN_CHAIN', message: 'self-signed certificate in certificate chain' }, ctx),
    'the peer\'s certificate is not signed by this daemon\'s CA (tlsCa /run/secrets/ca): self-signed certificate in certificate chain')
  t.match(dialErrorReason({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', message: 'unable to verify the first certificate' }, sys), /not signed by the system's CAs \(no tlsCa\)/)
  t.equal(dialErrorReason({ code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: 'Hostname/IP does not match', host: '10.0.0.2', cert: { subjectaltname: 'DNS:rc, IP Address:10.0.0.1' } }, ctx),
    'the peer\'s certificate is not for the host dialed (10.0.0.2): its subject alternative names are DNS:rc, IP Address:10.0.0.1')
  t.match(dialErrorReason({ code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', message: 'tlsv13 alert certificate required' }, ctx), /refused this daemon's TLS handshake \(alert: certificate required\)/)
  t.match(dialErrorReason({ code: 'EPROTO', message: 'error:0A000119:SSL routines:ssl3_get_record:decryption failed or bad record mac' }, ctx), /^a TLS record failed its integrity check/)
  t.match(dialErrorReason({ code: 'ERR_SSL_SSLV3_ALERT_BAD_RECORD_MAC', message: 'sslv3 alert bad record mac' }, ctx), /^a TLS record failed its integrity check/, 'the peer found a changed record')
  t.equal(dialErrorReason({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:7400' }, ctx), 'connect ECONNREFUSED 127.0.0.1:7400', 'not TLS: unchanged')
})

t.test('acceptErrorReason: the listening side\'s log line', async (t) => {
  t.match(acceptErrorReason({ code: 'ECONNRESET', message: 'socket hang up' }), /closed the connection during the TLS handshake: it may not trust this daemon's certificate/)
  t.equal(acceptErrorReason({ code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', message: 'tlsv1 alert unknown ca' }), 'the dialer refused this daemon\'s certificate (alert: unknown ca)')
  t.equal(acceptErrorReason({ code: 'ERR_SSL_NO_SHARED_CIPHER', message: 'no shared cipher\nmore' }), 'TLS handshake failed: no shared cipher')
})

t.test('a plain client on a TLS port: told where to dial', async (t) => {
  t.ok(looksLikeTls(0x16))
  t.notOk(looksLikeTls('G'.charCodeAt(0)))
  t.notOk(looksLikeTls(undefined))
  const req = Buffer.from('GET /v1/link HTTP/1.1\r\nSec-WebSocket-Version: 13\r\nHost: 127.0.0.1:7400\r\nUpgrade: websocket\r\n\r\n')
  t.equal(plainClientRefusal(req), 'this daemon requires TLS on its link port: dial wss://127.0.0.1:7400/v1/link')
  t.equal(plainClientRefusal(Buffer.from('GET / HTTP/1.1\r\nHost: rc:7400\r\n\r\n')), 'this daemon requires TLS on its link port: dial wss://rc:7400/')
  t.equal(plainClientRefusal(Buffer.from('hello')), 'this daemon requires TLS on its link port: dial wss:// URLs', 'no request: no host to name')
  t.equal(plainClientRefusal(Buffer.from('GET /x HTTP/1.1\r\nHost: evil"<script>\r\n\r\n')), 'this daemon requires TLS on its link port: dial wss:// URLs', 'a host that is no host name is not echoed')
  const res = httpRefusal(426, 'Upgrade Required', 'dial wss://é')
  t.match(res, /^HTTP\/1\.1 426 Upgrade Required\r\n/)
  t.match(res, /Content-Length: 14\r\n/, 'the body\'s length in bytes, newline included')
  t.ok(res.endsWith('\r\n\r\ndial wss://é\n'))
})
