// The HTTP server of the link port, plain or TLS. With TLS material the
// port serves HTTPS (the WebSocket upgrade to wss:// rides on it) behind a
// front that reads each connection's first byte: a TLS ClientHello goes on
// to the HTTPS server, anything else (a ws:// dialer's plain HTTP request) is
// answered 426 with a body that says to dial wss://, which the dialer shows
// as its lastError; a plain request to a TLS port would otherwise end in a
// reset that tells it nothing.

import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net'
import type { Logger } from 'pino'
import type { TlsCredentials } from './tls.js'
import { acceptErrorReason, httpRefusal, looksLikeTls, plainClientRefusal } from './tls-reasons.js'

export interface LinkServerOptions {
  tls: TlsCredentials | null
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
    const server = createHttpServer(onRequest)
    await bind(server, host, port)
    return { server, address: server.address() as AddressInfo, close: async () => { await closeHttp(server) } }
  }
  // Node's default TLS handshake timeout is 120 s: a stalled handshake gets the link handshake's time instead.
  const server = createHttpsServer({ ...tls.serverOptions(true), handshakeTimeout: opts.handshakeTimeoutMs }, onRequest)
  tls.serve(server, true)
  server.on('tlsClientError', (err: Error & { code?: string }, socket) => {
    // By now the TLS socket may be destroyed; the TCP socket under it (its parent) still knows the address.
    const tcp = (socket as typeof socket & { _parent?: Socket | null })._parent ?? socket
    opts.logger.warn({ remote: `${tcp.remoteAddress ?? '?'}:${tcp.remotePort ?? 0}`, code: err.code }, `link connection refused: ${acceptErrorReason(err)}`)
  })
  const sniffing = new Set<Socket>()
  const front = createNetServer((socket) => { sniff(socket, server, sniffing, opts) })
  await bind(front, host, port)
  return {
    server,
    address: front.address() as AddressInfo,
    close: async () => {
      for (const s of sniffing) s.destroy()
      await Promise.all([closeHttp(server), new Promise<void>((resolve) => front.close(() => { resolve() }))])
    }
  }
}

/** Reads a connection's first bytes: TLS goes on to `server`, plain HTTP is told to use wss://. */
function sniff (socket: Socket, server: Server, sniffing: Set<Socket>, opts: LinkServerOptions): void {
  sniffing.add(socket)
  const timer = setTimeout(() => { socket.destroy() }, opts.handshakeTimeoutMs)
  const done = (): void => { clearTimeout(timer); sniffing.delete(socket) }
  socket.once('close', done)
  socket.on('error', done)
  socket.once('data', (chunk: Buffer) => {
    done()
    socket.off('error', done)
    socket.pause()
    if (looksLikeTls(chunk[0])) {
      // The TLS socket reads what is buffered on the socket first (_tls_wrap.js: "Socket already has some buffered data").
      socket.unshift(chunk)
      server.emit('connection', socket)
      return
    }
    const why = plainClientRefusal(chunk)
    opts.logger.warn({ remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}` }, `link connection refused: plain HTTP on a TLS port (${why})`)
    socket.on('error', () => { /* the client may be gone already; nothing to tell it */ })
    socket.end(httpRefusal(426, 'Upgrade Required', why))
  })
}

async function bind (server: NetServer, host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
}

async function closeHttp (server: Server): Promise<void> {
  server.closeAllConnections()
  // A server fed by a front never listened itself: close() then answers with an error, which means nothing here.
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
}
