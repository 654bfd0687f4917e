// What a PeerLink needs of a connection to its peer: binary packets both
// ways, its end, and (dialing) a new one. The ws WebSocket is one transport
// (ws-transport.ts); an in-memory pair is another (test/support/memory-link.ts),
// so that the link's reconnect, resume and liveness run without sockets.

import { encodePacket, goodbyeReason } from './codec.js'

/** What one connection tells its holder. */
export interface SocketEvents {
  /** A message: a packet if `isBinary` (a text message is a protocol error). */
  message: (data: Buffer, isBinary: boolean) => void
  /** The connection ended: a WebSocket close code (RFC 6455 §7.4; 1006 when it just dropped) and reason. */
  close: (code: number, reason: string) => void
  /** A failure, for people; 'close' follows. */
  error: (err: Error) => void
}

/** One connection to a peer. */
export interface LinkSocket {
  /** Whether packets sent now go out (false while connecting and once closing). */
  readonly open: boolean
  send: (packet: Uint8Array) => void
  /** Ends the connection with a close code and reason, as RFC 6455's closing handshake does. */
  close: (code?: number, reason?: string) => void
  /** Drops the connection at once, without a closing handshake. */
  terminate: () => void
  /** Who hears this connection's events from now on (replacing whoever did; null: nobody). */
  listen: (events: SocketEvents | null) => void
  /** Fault injection: ends the connection under the link's framing, as a proxy would ('close' a FIN, 'reset' a RST). */
  cut: (how: 'close' | 'reset') => void
}

/** A connection this side dialed, and what the dial's own layer (TLS, HTTP) knows about it. */
export interface DialedSocket extends LinkSocket {
  /** Why the dial failed, for people; `refused` if the peer said no (TLS, HTTP), not just "not there yet". */
  failure: (err: Error) => { why: string, refused: boolean }
  /** Why the peer may not go by `name` (mutual TLS: its certificate does not prove it); null if it may. */
  nameRefusal: (name: string) => string | null
}

export interface LinkTransport {
  /** Opens a connection to `url`: its events come once the caller listens. */
  dial: (url: string) => DialedSocket
}

/** Closes a connection with a Goodbye (code and reason), as the protocol asks (proto/link.proto, Goodbye). */
export function goodbye (sock: Pick<LinkSocket, 'open' | 'send' | 'close' | 'terminate'>, code: number, reason: string): void {
  const short = goodbyeReason(reason)
  if (sock.open) {
    sock.send(encodePacket({ goodbye: { code, reason: short } }))
    sock.close(4000 + code, short)
  } else {
    sock.terminate()
  }
}
