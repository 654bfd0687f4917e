// Pure rules of TLS on links, kept apart from sockets so that they are
// tested alone: which node names a certificate proves, whether a claimed name
// is among them, and what to tell people when a TLS connection fails, on
// either side. Node reports verification failures with OpenSSL's X509_V_ERR
// names (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ...; see
// openssl/include/openssl/x509_vfy.h) and TLS failures as ERR_SSL_* codes.

/** What a peer certificate carries that matters here (a subset of tls.PeerCertificate). */
export interface CertificateFields {
  subject?: { CN?: string | string[] } | null
  subjectaltname?: string
  valid_to?: string
  serialNumber?: string
}

/** The first byte of every TLS record that opens a connection: a handshake record, ClientHello (RFC 8446 §5.1, ContentType 22). */
export const TLS_HANDSHAKE_RECORD = 0x16

/** Whether the first byte a client sent opens a TLS handshake. */
export function looksLikeTls (firstByte: number | undefined): boolean {
  return firstByte === TLS_HANDSHAKE_RECORD
}

/**
 * Splits a subjectaltname string as Node renders it (RFC 5280 §4.2.1.6
 * GeneralNames, "DNS:a, DNS:b, IP Address:127.0.0.1"; values with a comma or
 * quote are JSON strings) into [type, value] pairs.
 */
export function altNames (san: string | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = []
  if (san === undefined || san === '') return out
  const re = /(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g
  for (const m of san.matchAll(re)) {
    const raw = m[2]!
    let value = raw
    if (raw.startsWith('"')) {
      try { value = JSON.parse(raw) as string } catch { value = raw }
    }
    out.push([m[1]!, value])
  }
  return out
}

/**
 * The node names a certificate proves: its subject CNs and DNS SANs, as
 * written (node names are compared exactly), without wildcards: a wildcard
 * DNS name covers hosts, it names no node.
 */
export function certificateNames (cert: CertificateFields): string[] {
  const cn = cert.subject?.CN
  const names = [...(cn === undefined ? [] : Array.isArray(cn) ? cn : [cn])]
  for (const [type, value] of altNames(cert.subjectaltname)) if (type === 'DNS') names.push(value)
  return [...new Set(names.filter((n) => n !== '' && !n.includes('*')))]
}

const quoted = (names: string[]): string => names.length === 0 ? 'no names' : names.map((n) => JSON.stringify(n)).join(', ')

/**
 * Under mutual TLS a node name is the one the certificate proves: null if
 * `claimed` is among `names`, else why not. `whose` is the certificate's
 * side: the client's (the acceptor checks a Hello) or the server's (the
 * dialer checks a Welcome).
 */
export function certificateNameRefusal (claimed: string, names: string[], whose: 'client' | 'server'): string | null {
  if (names.includes(claimed)) return null
  // Short: it travels in a Goodbye (GOODBYE_REASON_BYTES).
  return `node name ${JSON.stringify(claimed)} is not in the ${whose} certificate (CN, DNS SANs: ${quoted(names)})`
}

/** What the acceptor knows of a client certificate after the TLS handshake (tls.TLSSocket). */
export interface ClientCertificateState {
  authorized: boolean
  authorizationError: string | null
  /** The client's certificate, if it sent one. */
  cert: CertificateFields | null
}

/**
 * Mutual TLS on the link port: null if the client certificate is one this
 * daemon's CA signed and valid now, else why the link is refused (said to
 * the dialer in the refusal, and logged).
 */
export function clientCertificateRefusal (s: ClientCertificateState): string | null {
  if (s.cert === null) return 'this daemon requires a client certificate (mutual TLS): the dialer presented none; give it tlsCert and tlsKey'
  if (s.authorized) return null
  const who = `the client certificate (${quoted(certificateNames(s.cert))})`
  const err = s.authorizationError ?? ''
  if (err === 'CERT_HAS_EXPIRED') return `${who} has expired${s.cert.valid_to !== undefined ? ` (not after ${s.cert.valid_to})` : ''}`
  if (err === 'CERT_NOT_YET_VALID') return `${who} is not valid yet`
  if (UNTRUSTED.has(err)) return `${who} is not signed by this daemon's CA (tlsCa)`
  return `${who} was not accepted: ${err !== '' ? err : 'not authorized'}`
}

/** Verification errors that mean: no chain to a trusted CA. */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED'
])

/** A failed dial's error as Node reports it (tls.connect through ws). */
export interface DialError {
  message: string
  code?: string
  /** ERR_TLS_CERT_ALTNAME_INVALID: the host dialed, and the certificate. */
  host?: string
  cert?: CertificateFields
}

/** Where a dialer stands: the URL it dials and the CA it trusts ('' = the system's). */
export interface DialContext {
  url: string
  caFile: string
}

/**
 * The dialer's lastError for a failed connection: TLS failures in words
 * that say what to fix; anything else as Node said it.
 */
export function dialErrorReason (err: DialError, ctx: DialContext): string {
  const code = err.code ?? ''
  const trust = ctx.caFile !== '' ? `this daemon's CA (tlsCa ${ctx.caFile})` : 'the system\'s CAs (no tlsCa)'
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || code === 'ERR_SSL_HTTP_REQUEST' ||
    /wrong version number|packet length too long|http request/i.test(err.message)) {
    return `the peer does not speak TLS: ${ctx.url} is a plain ws:// link port (dial ws:// there, or give that daemon tlsCert and tlsKey)`
  }
  if (code === 'CERT_HAS_EXPIRED') return 'the peer\'s certificate has expired'
  if (code === 'CERT_NOT_YET_VALID') return 'the peer\'s certificate is not valid yet'
  if (UNTRUSTED.has(code)) return `the peer's certificate is not signed by ${trust}: ${err.message}`
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = err.cert === undefined ? [] : altNames(err.cert.subjectaltname).map(([t, v]) => `${t}:${v}`)
    return `the peer's certificate is not for the host dialed (${err.host ?? '?'}): its subject alternative names are ${names.length > 0 ? names.join(', ') : 'none'}`
  }
  if (/BAD_RECORD_MAC|DECRYPTION_FAILED/.test(code) || /bad record mac|decryption failed/i.test(err.message)) {
    return 'a TLS record failed its integrity check (changed in flight?): the connection was dropped and nothing it carried from then on was applied'
  }
  if (/^ERR_SSL_(TLSV1[3]?|SSLV3)_ALERT_/.test(code)) {
    const alert = code.replace(/^ERR_SSL_(TLSV1[3]?|SSLV3)_ALERT_/, '').toLowerCase().replace(/_/g, ' ')
    return `the peer refused this daemon's TLS handshake (alert: ${alert}): check this daemon's tlsCert against the peer's tlsCa`
  }
  return err.message
}

/**
 * The acceptor's log line for a connection whose TLS handshake failed
 * (tls.Server 'tlsClientError'). A Node dialer that does not trust this
 * daemon's certificate just closes the connection, so a reset during the
 * handshake says so, as the likely cause.
 */
export function acceptErrorReason (err: { code?: string, message: string }): string {
  const code = err.code ?? ''
  if (code === 'ECONNRESET') return 'the dialer closed the connection during the TLS handshake: it may not trust this daemon\'s certificate (its tlsCa, the host name it dials)'
  if (/^ERR_SSL_(TLSV1[3]?|SSLV3)_ALERT_/.test(code)) {
    const alert = code.replace(/^ERR_SSL_(TLSV1[3]?|SSLV3)_ALERT_/, '').toLowerCase().replace(/_/g, ' ')
    return `the dialer refused this daemon's certificate (alert: ${alert})`
  }
  return `TLS handshake failed: ${err.message.split('\n')[0] ?? ''}`
}

/**
 * The URL a plain HTTP request asked for, under `scheme`, from its first
 * bytes (request line and Host header), or null when they name no host one
 * can safely echo.
 */
export function requestedUrl (head: Buffer, scheme: 'https' | 'wss'): string | null {
  const text = head.toString('latin1')
  const host = /\r\nhost:[ \t]*([^\r\n]{1,300})\r\n/i.exec(text)?.[1]?.trim()
  if (host === undefined || !/^[A-Za-z0-9.:[\]_-]+$/.test(host)) return null
  const path = /^[A-Z]{1,10} ([^ \r\n]{1,300}) HTTP\//.exec(text)?.[1]
  return `${scheme}://${host}${path !== undefined && /^\/[A-Za-z0-9/._-]*$/.test(path) ? path : ''}`
}

/**
 * What a TLS link port answers a client that speaks plain HTTP (a ws://
 * dialer), in the body of an HTTP 426: dial wss://, with the host the
 * client asked for when its request names one.
 */
export function plainClientRefusal (head: Buffer): string {
  return `this daemon requires TLS on its link port: dial ${requestedUrl(head, 'wss') ?? 'wss:// URLs'}`
}

/** A complete HTTP/1.1 response with a plain-text body, for refusals written straight to a socket. */
export function httpRefusal (status: number, title: string, body: string): string {
  const text = body + '\n'
  return `HTTP/1.1 ${status} ${title}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`
}
