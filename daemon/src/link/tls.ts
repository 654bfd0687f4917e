// TLS material of one daemon (tlsCert, tlsKey, tlsCa): read from files at
// start and again on SIGHUP (reload), for the link port (wss://), the links
// it dials and the control API (https://). A reload that fails keeps what
// was loaded before; one that succeeds gives every server it serves a new
// secure context (tls.Server.setSecureContext: live connections keep theirs)
// and every later dial the new material.

import { readFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { createSecureContext, type SecureContext, type Server as TlsServer, type TLSSocket, type TlsOptions, type ConnectionOptions } from 'node:tls'
import type { Duplex } from 'node:stream'
import { ConfigError } from '../errors.js'
import { certificateNames, type CertificateFields } from './tls-reasons.js'

export { certificateNames } from './tls-reasons.js'

/**
 * TLS 1.3 only, on links and the API, both ways: every cipher suite of it
 * is an AEAD (RFC 8446 §5.2) and its handshake is encrypted after the
 * hello. Links are daemon to daemon, and every HTTPS client in use speaks it.
 */
const MIN_VERSION = 'TLSv1.3'

/** The files, as the settings name them; ca '' = no CA (system CAs to verify servers, no client certificates asked for). */
export interface TlsFiles { cert: string, key: string, ca: string }

interface Material {
  cert: Buffer
  key: Buffer
  ca: Buffer | null
  /** For dials: our certificate as client certificate, and the CA (or the system's) to verify servers. */
  client: SecureContext
  /** For people: the certificate's subject, serial and validity. */
  summary: string
  /** Not valid now (expired, or not yet valid): peers will refuse it. */
  outOfDate: boolean
}

/** A server kept in step with reloads, and whether it asks for client certificates. */
interface Served { server: TlsServer, clientCerts: boolean }

export class TlsCredentials {
  readonly files: TlsFiles
  private material: Material
  private readonly servers = new Set<Served>()
  private readonly read: (path: string) => Buffer

  /** Reads the files now; a missing or bad one is a ConfigError. */
  constructor (files: TlsFiles, read: (path: string) => Buffer = (p) => readFileSync(p)) {
    this.files = files
    this.read = read
    this.material = this.load()
  }

  /** Whether the link port requires client certificates from tlsCa (mutual TLS), and peers' names are proved by them. */
  get mutual (): boolean { return this.files.ca !== '' }

  /** Subject, serial number and validity of the certificate in use. */
  get summary (): string { return this.material.summary }

  /** Whether the certificate in use is not valid now (peers refuse it). */
  get outOfDate (): boolean { return this.material.outOfDate }

  /**
   * Options for a TLS server (https.createServer): our certificate; with
   * `clientCerts` and a CA, client certificates are asked for and verified
   * against it. Not rejected in the handshake: the link port answers an
   * unauthorized client with an HTTP refusal that says why (link-table.ts),
   * which a dialer can show, where a failed handshake tells it nothing.
   */
  serverOptions (clientCerts: boolean): TlsOptions {
    return { ...this.contextOptions(clientCerts), requestCert: clientCerts && this.mutual, rejectUnauthorized: false }
  }

  /** Keeps `server`'s certificate in step with reload(). */
  serve (server: TlsServer, clientCerts: boolean): void {
    const served = { server, clientCerts }
    this.servers.add(served)
    server.once('close', () => { this.servers.delete(served) })
  }

  /**
   * Options for a wss:// dial (passed to tls.connect by ws): our certificate
   * as client certificate, and the CA to verify the server against (the
   * system's without tlsCa); the host name is verified as Node does.
   */
  clientOptions (): Pick<ConnectionOptions, 'secureContext' | 'rejectUnauthorized'> {
    return { secureContext: this.material.client, rejectUnauthorized: true }
  }

  /** Reads the files again; on success every served server and later dial uses them, else ConfigError and nothing changes. */
  reload (): void {
    const next = this.load()
    this.material = next
    for (const { server, clientCerts } of this.servers) server.setSecureContext(this.contextOptions(clientCerts))
  }

  private contextOptions (clientCerts: boolean): TlsOptions {
    const m = this.material
    return { cert: m.cert, key: m.key, minVersion: MIN_VERSION, ...(clientCerts && m.ca !== null ? { ca: m.ca } : {}) }
  }

  private load (): Material {
    const f = this.files
    const file = (what: string, path: string): Buffer => {
      try {
        return this.read(path)
      } catch (err) {
        throw new ConfigError(`cannot read ${what} ${path}: ${(err as Error).message}`)
      }
    }
    const cert = file('tlsCert', f.cert)
    const key = file('tlsKey', f.key)
    const ca = f.ca !== '' ? file('tlsCa', f.ca) : null
    let x509: X509Certificate
    try {
      x509 = new X509Certificate(cert)
    } catch (err) {
      throw new ConfigError(`tlsCert ${f.cert} is not a PEM certificate: ${(err as Error).message}`)
    }
    if (ca !== null) {
      try {
        // Each certificate of the bundle must parse; the first is enough to tell a wrong file.
        void new X509Certificate(ca)
      } catch (err) {
        throw new ConfigError(`tlsCa ${f.ca} is not a PEM certificate: ${(err as Error).message}`)
      }
    }
    let client: SecureContext
    try {
      // Also checks that the key is the certificate's (ERR_OSSL_X509_KEY_VALUES_MISMATCH).
      client = createSecureContext({ cert, key, minVersion: MIN_VERSION, ...(ca !== null ? { ca } : {}) })
    } catch (err) {
      throw new ConfigError(`tlsCert ${f.cert} with tlsKey ${f.key}${ca !== null ? ` and tlsCa ${f.ca}` : ''}: ${(err as Error).message}`)
    }
    const summary = `${x509.subject.replace(/\n/g, ', ')} serial ${x509.serialNumber} valid until ${x509.validTo}`
    const now = Date.now()
    const outOfDate = now < Date.parse(x509.validFrom) || now > Date.parse(x509.validTo)
    return { cert, key, ca, client, summary, outOfDate }
  }
}

/**
 * What a link connection's certificate proves, as the handshakes' credential
 * ({ kind: 'certificate', names }): under mutual TLS (a CA of our own, whose
 * certificates name nodes) the peer certificate's names; null otherwise
 * (no TLS, no CA: the certificate vouches for a host, not a node).
 */
export function certificateCredential (socket: Duplex | null | undefined, tls: TlsCredentials | null | undefined): { kind: 'certificate', names: string[] } | null {
  if (tls?.mutual !== true) return null
  const names = peerCertificateNames(socket)
  return names === null ? null : { kind: 'certificate', names }
}

/**
 * The names a connection's peer certificate proves (certificateNames), or
 * null when it is no TLS connection or the peer presented no certificate.
 */
export function peerCertificateNames (socket: Duplex | null | undefined): string[] | null {
  const cert = peerCertificate(socket)
  return cert === null ? null : certificateNames(cert)
}

/** The peer's certificate on a TLS socket, or null (no TLS, or none presented). */
export function peerCertificate (socket: Duplex | null | undefined): CertificateFields | null {
  const s = socket as Partial<TLSSocket> | null | undefined
  if (s?.getPeerCertificate === undefined) return null
  const cert = s.getPeerCertificate()
  // An empty object when the peer presented none (tls.TLSSocket.getPeerCertificate).
  return cert === null || Object.keys(cert).length === 0 ? null : cert
}
