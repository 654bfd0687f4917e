// One dial's TLS and refusals, for PeerLink: the options ws passes to
// tls.connect for a wss:// peer, the reason a failed dial gives people
// (tls-reasons.ts), the body of an HTTP refusal the peer answered instead
// of the upgrade (a TLS port told a ws:// dialer to use wss://; mutual TLS
// refused our certificate), and, once the peer has answered, whether the
// name it gives is one its certificate proves.

import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { ClientOptions } from 'ws'
import type { WebSocket } from './ws.js'
import type { TlsCredentials } from './tls.js'
import { certificateCredential } from './tls.js'
import { certificateNameRefusal, dialErrorReason } from './tls-reasons.js'

/** The most of a refusal's body kept for lastError. */
export const REFUSAL_BODY_CHARS = 512

/** Options for a dial of `url`: TLS for wss:// (our material, or the system's CAs and no client certificate without any). */
export function dialOptions (url: string, tls: TlsCredentials | null): ClientOptions {
  if (!/^wss:/i.test(url)) return {}
  return tls !== null ? tls.clientOptions() : { rejectUnauthorized: true }
}

export class DialWatch {
  private readonly url: string
  private readonly tls: TlsCredentials | null
  /** What the peer answered instead of the upgrade, once read. */
  private refusal = ''
  private socket: Duplex | null = null

  constructor (ws: WebSocket, url: string, tls: TlsCredentials | null) {
    this.url = url
    this.tls = tls
    ws.once('upgrade', (res: IncomingMessage) => { this.socket = res.socket })
    // Listening for it makes ws leave the request to us: read the body, then end the attempt.
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      readBody(res, (body) => {
        this.refusal = `refused by peer: HTTP ${res.statusCode ?? 0}${body !== '' ? `: ${body}` : ''}`
        ws.terminate()
      })
    })
  }

  /** Why the dial failed, for lastError: the peer's refusal if it gave one, else `err` in words. */
  reason (err: Error & { code?: string }): string {
    if (this.refusal !== '') return this.refusal
    return dialErrorReason(err, { url: this.url, caFile: this.tls?.files.ca ?? '' })
  }

  /** Whether the failure is one people must act on (TLS, a refusal), not a peer still starting. */
  get refused (): boolean { return this.refusal !== '' }

  /**
   * The dialer's side of "a name is proved by the certificate": with a CA of
   * our own (tlsCa), whose certificates name nodes, the name in the Welcome
   * must be one the server's certificate proves; null if so (or if no such
   * check applies), else why not. The system's CAs vouch for host names only.
   */
  welcomeRefusal (name: string): string | null {
    if (this.tls?.mutual !== true || !/^wss:/i.test(this.url)) return null
    return certificateNameRefusal(name, this.credential?.names ?? [], 'server')
  }

  /** What the server's certificate proves, as the handshakes' credential; null without mutual TLS on a wss:// dial. */
  get credential (): { kind: 'certificate', names: string[] } | null {
    return certificateCredential(this.socket, this.tls)
  }
}

function readBody (res: IncomingMessage, done: (body: string) => void): void {
  let body = ''
  let finished = false
  const finish = (): void => {
    if (finished) return
    finished = true
    res.destroy()
    done(body.trim().replace(/\s+/g, ' ').slice(0, REFUSAL_BODY_CHARS))
  }
  res.setEncoding('utf8')
  res.on('data', (chunk: string) => { body += chunk; if (body.length >= REFUSAL_BODY_CHARS) finish() })
  res.once('end', finish)
  res.once('error', finish)
  res.once('close', finish)
}
