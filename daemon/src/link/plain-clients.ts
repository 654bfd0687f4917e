// A TLS server that answers clients speaking plain HTTP with why they are
// refused, instead of a failed handshake that tells them nothing. It reads
// each connection's first bytes before TLS sees them: a TLS ClientHello goes
// on to the server's own TLS listener (tls.Server handles 'connection' by
// wrapping the socket, and reads what is already buffered on it first:
// _tls_wrap.js "Socket already has some buffered data"), anything else gets
// the answer and the connection is closed. Used by the link port (wss://)
// and the control API (https://).

import type { Socket } from 'node:net'
import type { Server as TlsServer } from 'node:tls'
import type { Logger } from 'pino'
import { looksLikeTls } from './tls-reasons.js'
import { RefusalLog } from './refusal-log.js'

export interface PlainClientOptions {
  /** The whole HTTP response for a plain client, from the first bytes it sent. */
  answer: (head: Buffer) => string
  /** A connection that sends nothing for this long is closed. */
  firstByteTimeoutMs: number
  logger: Logger
  /** For the log line: what this port is. */
  what: string
}

export interface PlainClients {
  /** Closes the connections whose first bytes have not come yet (the server's close() does not know them). */
  drop: () => void
}

export function answerPlainClients (server: TlsServer, opts: PlainClientOptions): PlainClients {
  const tlsListeners = server.listeners('connection') as Array<(socket: Socket) => void>
  server.removeAllListeners('connection')
  const waiting = new Set<Socket>()
  // Anyone can cause these lines: one per address a period.
  const refusals = new RefusalLog(opts.logger)
  server.on('connection', (socket: Socket) => {
    waiting.add(socket)
    const timer = setTimeout(() => { socket.destroy() }, opts.firstByteTimeoutMs)
    const done = (): void => { clearTimeout(timer); waiting.delete(socket) }
    socket.once('close', done)
    socket.on('error', done)
    socket.once('data', (head: Buffer) => {
      done()
      socket.off('error', done)
      socket.pause()
      if (looksLikeTls(head[0])) {
        socket.unshift(head)
        for (const l of tlsListeners) l.call(server, socket)
        return
      }
      const answer = opts.answer(head)
      refusals.write(socket.remoteAddress ?? '?', { remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}` },
        `${opts.what}: refused a plain HTTP client (${answer.slice(answer.indexOf('\r\n\r\n') + 4).trim()})`)
      socket.on('error', () => { /* the client may be gone already; nothing to tell it */ })
      socket.end(answer)
    })
  })
  return { drop: () => { for (const s of waiting) s.destroy() } }
}
