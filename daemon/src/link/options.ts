// Settings shared by every link of one daemon.

import type { Logger } from 'pino'
import type { soclink } from '../../../proto/gen/link.js'
import type { SessionLimits } from './session.js'
import type { TlsCredentials } from './tls.js'
import type { Clock } from './clock.js'
import type { LinkTransport } from './transport.js'
import type { LinkCapture } from './capture.js'

export type Role = soclink.link.v1.Role

/** Bare acks go after this many frames owed, or from a tick of this period while any are owed. */
export const ACK_EVERY = 256
export const ACK_DELAY_MS = 5

export interface LinkOptions {
  /** This daemon's node name. */
  name: string
  role: Role
  /** Shared secret for the handshake proofs ('' = unauthenticated). */
  secret: string
  /** A peer's own secret, used instead of the shared one for that name (peers: [{ name, secretFile }]). */
  peerSecret?: (name: string) => string | undefined
  /** Chosen at process start; a restart shows the peer a new one. */
  incarnation: Uint8Array
  /** Interval between Pings on a quiet link. */
  heartbeatMs: number
  /** A connection with nothing received for this long is dead. */
  deadAfterMs: number
  /** How long a session waits for a reconnect before the link is down. */
  resumeWindowMs: number
  /** Largest WebSocket message accepted. */
  maxPayload: number
  /** Time allowed from connect to an authenticated link; an acceptor closes the connection then, whatever it is doing. */
  handshakeTimeoutMs: number
  /** Bytes a connection may send before it has authenticated, in its one frame; more and it is cut off. */
  maxPreAuthBytes: number
  /** Connections not yet authenticated at once; past it new ones are closed at once. */
  maxPendingLinks: number
  /** Peers this daemon may dial. */
  maxPeers: number
  /** Reconnect backoff bounds. */
  reconnectMinMs: number
  reconnectMaxMs: number
  /** Bare acks are sent after this many frames or this long, whichever first. */
  ackEvery: number
  ackDelayMs: number
  limits: SessionLimits
  /**
   * The masking key of frames on links this daemon dials: 'zero' keeps
   * RFC 6455 masking with an all-zero key, which ws sends without the
   * masked copy of every payload; 'random' draws a fresh key per frame.
   */
  mask: 'zero' | 'random'
  /**
   * TLS material (tlsCert, tlsKey, tlsCa): the link port serves wss://, and
   * wss:// peers are dialed with it; absent or null: a plain ws:// port, and
   * wss:// peers verified against the system's CAs with no client certificate.
   */
  tls?: TlsCredentials | null
  /** The port of this daemon's control API once it listens, named to an HTTP client that asks the link port (link-table.ts). */
  controlApiPort?: () => number | null
  /** Optional protocol features offered in the handshake (wire.Feature bits). */
  features: number
  logger: Logger
  /** The links' timers (default: Node's); tests pass one they advance themselves. */
  clock?: Clock
  /** How dialers connect (default: WebSocket, ws-transport.ts); tests pass an in-memory one. */
  transport?: LinkTransport
  /** Frame capture of the links' WebSockets (capture.ts); LinkTable makes one if absent. */
  capture?: LinkCapture
}
