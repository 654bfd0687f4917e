// The HTTP server of the link port, plain or TLS. With TLS material the
// port serves HTTPS (the WebSocket upgrade to wss:// rides on it), and a
// client that speaks plain HTTP (a ws:// dialer) is answered 426 with a body
// that says to dial wss://, which the dialer shows as its lastError
// (plain-clients.ts); a plain request to a TLS port would otherwise end in a
// reset that tells it nothing.

import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerOptions as HttpServerOptions, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo, Server as NetServer, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import type { TlsCredentials } from './tls.js'
import { acceptErrorReason, httpRefusal, plainClientRefusal } from './tls-reasons.js'
import { answerPlainClients } from './plain-clients.js'
import { RefusalLog } from './refusal-log.js'

export interface LinkServerOptions {
  tls: TlsCredentials | null
  /** node:http server options (headersTimeout, requestTimeout, ...), for the HTTPS server too. */
  http?: HttpServerOptions
  /** A connection that has not sent its first byte, or (TLS) finished its TLS handshake, by then is closed. */
  handshakeTimeoutMs: number
  logger: Logger
}

/** A bound link port: the HTTP(S) server that takes upgrades, where it listens, and how to close it. */
export interface LinkServer {
  /** Emits 'upgrade' and 'request' as any node:http server. */
  server: Server
  address: AddressInfo
  close: () => Promise<void>
}

export async function listenLink (host: string, port: number, onRequest: (req: IncomingMessage, res: ServerResponse) => void, opts: LinkServerOptions): Promise<LinkServer> {
  const tls = opts.tls
  if (tls === null) {
    const server = createHttpServer(opts.http ?? {}, onRequest)
    await bind(server, host, port)
    return { server, address: server.address() as AddressInfo, close: async () => { await closeHttp(server) } }
  }
  // Node's default TLS handshake timeout is 120 s: a stalled handshake gets the link handshake's time instead.
  const server = createHttpsServer({ ...opts.http, ...tls.serverOptions(true), handshakeTimeout: opts.handshakeTimeoutMs }, onRequest)
  tls.serve(server, true)
  // An outsider causes these lines: one per address and reason a period, as link-table.ts's refusals.
  const refusals = new RefusalLog(opts.logger)
  server.on('tlsClientError', (err: Error & { code?: string }, socket) => {
    // By now the TLS socket may be destroyed; the TCP socket under it (its parent) still knows the address.
    const tcp = tcpSocketOf(socket)
    refusals.write(`${tcp.remoteAddress ?? '?'} ${err.code ?? ''}`, { remote: `${tcp.remoteAddress ?? '?'}:${tcp.remotePort ?? 0}`, code: err.code },
      `link connection refused: ${acceptErrorReason(err)}`)
  })
  const plain = answerPlainClients(server, {
    answer: (head) => httpRefusal(426, 'Upgrade Required', plainClientRefusal(head)),
    firstByteTimeoutMs: opts.handshakeTimeoutMs,
    logger: opts.logger,
    what: 'link port'
  })
  await bind(server, host, port)
  return { server, address: server.address() as AddressInfo, close: async () => { plain.drop(); await closeHttp(server) } }
}

/**
 * The TCP socket of a connection: itself, or under TLS the socket the TLS
 * socket wraps (its parent; the server's 'connection' event gave that one),
 * so that what was noted of a connection when it came is found again at its
 * upgrade, which gets the TLS socket.
 */
export function tcpSocketOf (socket: Duplex): Socket {
  return (socket as Duplex & { _parent?: Socket | null })._parent ?? socket as Socket
}

async function bind (server: NetServer, host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
}

async function closeHttp (server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
}
