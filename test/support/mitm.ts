// Men in the middle for link tests, on loopback between a dialer and the
// daemon it dials:
// - a TCP proxy that records every byte it relays, each way, and may
//   rewrite bytes in flight (a test sets what to do with each chunk);
// - a TLS record rewriter for it: flips one byte inside every
//   application-data record (RFC 8446 §5.1: type 23, 5-byte header), so the
//   record fails its authentication tag, not its framing;
// - a proxy that terminates TLS with certificates of its own: it answers
//   the dialer with its server certificate and dials the daemon with its
//   client certificate, as an attacker holding certificates from another CA.

import { createServer as createTcpServer, connect, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import { readFileSync } from 'node:fs'
import { WebSocket } from 'ws'
import type { Issued } from './pki.js'

export type Direction = 'toServer' | 'toClient'

export interface TapProxy {
  port: number
  /** Every byte relayed so far in one direction, in order, over all connections. */
  recorded: (dir: Direction) => Buffer
  /** A rewrite of each chunk before it is relayed (null: relayed as it is). */
  rewrite: ((chunk: Buffer, dir: Direction) => Buffer) | null
  /**
   * While true, one byte is flipped in the payload of every TLS
   * application-data record (RFC 8446 §5.1: type 23 after a 5-byte header),
   * each way: the record fails its authentication tag, not its framing.
   */
  flipRecords: boolean
  /** Chunks changed in flight so far. */
  changed: number
  /** Connections relayed so far. */
  connections: number
  close: () => Promise<void>
}

export async function startTapProxy (targetPort: number): Promise<TapProxy> {
  const seen: Record<Direction, Buffer[]> = { toServer: [], toClient: [] }
  const live = new Set<Socket>()
  const proxy: TapProxy = {
    port: 0,
    recorded: (dir) => Buffer.concat(seen[dir]),
    rewrite: null,
    flipRecords: false,
    changed: 0,
    connections: 0,
    close: async () => {
      for (const s of live) s.destroy()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
  const relay = (from: Socket, to: Socket, dir: Direction): void => {
    const records = new RecordCursor()
    from.on('data', (chunk: Buffer) => {
      seen[dir].push(Buffer.from(chunk))
      let out = records.pass(chunk, proxy.flipRecords)
      if (proxy.rewrite !== null) out = proxy.rewrite(out, dir)
      if (!out.equals(chunk)) proxy.changed++
      to.write(out)
    })
  }
  const server: Server = createTcpServer((client) => {
    proxy.connections++
    const upstream = connect(targetPort, '127.0.0.1')
    live.add(client); live.add(upstream)
    const drop = (): void => { client.destroy(); upstream.destroy(); live.delete(client); live.delete(upstream) }
    for (const s of [client, upstream]) { s.on('error', drop); s.on('close', drop) }
    relay(client, upstream, 'toServer')
    relay(upstream, client, 'toClient')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxy.port = (server.address() as { port: number }).port
  return proxy
}

const APPLICATION_DATA = 23
const RECORD_HEADER = 5

/** Follows the TLS record framing of one direction of one connection, across chunks. */
class RecordCursor {
  private header: number[] = []
  private type = 0
  /** Payload bytes of the current record still to come. */
  private left = 0
  /** The current record is application data whose first payload byte is still to come. */
  private flipNext = false

  /** `chunk`, with the first payload byte of each application-data record flipped when `flip`. */
  pass (chunk: Buffer, flip: boolean): Buffer {
    const out = Buffer.from(chunk)
    for (let i = 0; i < out.length;) {
      if (this.left === 0) {
        this.header.push(out[i]!)
        i++
        if (this.header.length === RECORD_HEADER) {
          this.type = this.header[0]!
          this.left = (this.header[3]! << 8) | this.header[4]!
          this.header = []
          this.flipNext = flip && this.type === APPLICATION_DATA && this.left > 0
        }
        continue
      }
      if (this.flipNext) { out[i] = out[i]! ^ 0x01; this.flipNext = false }
      const n = Math.min(this.left, out.length - i)
      this.left -= n
      i += n
    }
    return out
  }
}

export interface TlsTerminator {
  port: number
  /** Plaintext the terminator got from dialers (it would relay it). */
  plaintext: () => Buffer
  /** What the daemon answered the terminator's own dial, once it has: the HTTP status and body, or the error. */
  upstream: Promise<string>
  close: () => Promise<void>
}

/**
 * A proxy that terminates TLS: dialers get `serverCert`, and for each dialer
 * it opens its own WebSocket to `targetUrl` presenting `clientCert`,
 * trusting anything (an attacker does not care who the daemon is).
 */
export async function startTlsTerminator (targetUrl: string, serverCert: Issued, clientCert: Issued): Promise<TlsTerminator> {
  const plain: Buffer[] = []
  let answered: (s: string) => void = () => {}
  const upstream = new Promise<string>((resolve) => { answered = resolve })
  const live = new Set<Socket>()
  const server = createTlsServer({ cert: readFileSync(serverCert.cert), key: readFileSync(serverCert.key) }, (socket: TLSSocket) => {
    socket.on('data', (d: Buffer) => plain.push(d))
    socket.on('error', () => {})
  })
  server.on('connection', (raw: Socket) => {
    live.add(raw)
    raw.once('close', () => live.delete(raw))
    const ws = new WebSocket(targetUrl, { cert: readFileSync(clientCert.cert), key: readFileSync(clientCert.key), rejectUnauthorized: false })
    ws.on('unexpected-response', (_req, res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => { answered(`HTTP ${res.statusCode ?? 0}: ${body.trim()}`); ws.terminate() })
    })
    ws.on('open', () => { answered('upgraded'); ws.terminate() })
    ws.on('error', (err) => { answered(`error: ${err.message}`) })
  })
  server.on('tlsClientError', () => { /* the dialer refused our certificate: what the test expects */ })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    plaintext: () => Buffer.concat(plain),
    upstream,
    close: async () => {
      for (const s of live) s.destroy()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}
