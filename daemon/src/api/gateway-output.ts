// How a gateway connection (gateway-connection.ts) writes to its
// application, by protocol version (proto/rpmsg.proto): version 1, one
// protobuf ServerMessage per WebSocket message, a Sent or an Error for each
// Send. Version 2 is gateway-batches.ts.

import { soclink } from '../../../proto/gen/rpmsg.js'
import type { GatewayEndpoint } from './gateway-endpoint.js'
import type { ErrorCode } from '../errors.js'

export const rpmsgWire = soclink.rpmsg.v1
export type ServerMessage = soclink.rpmsg.v1.ServerMessage.$Properties

/** What the connection needs of a ws WebSocket (a test may give it another). */
export interface GatewaySocket {
  readonly readyState: number
  readonly bufferedAmount: number
  send (data: Uint8Array, options: { binary: boolean }, cb?: (err?: Error) => void): void
  close (code?: number, reason?: string): void
  /** Stop and start reading the application's messages (version 2's back-pressure on sends). */
  pause? (): void
  resume? (): void
  /** Destroy the socket at once (a slow reader that does not end the close handshake). */
  terminate? (): void
}

export const OPEN = 1
export const CLOSED = 3

/** The overflow policy: whether a Received message of `bytes` for `ept` may be queued (else it is dropped and counted). */
export type Admit = (ept: GatewayEndpoint, bytes: number) => boolean

/**
 * A connection's writing side. A send is named by `ref`: version 1's
 * request_id, version 2's sequence number.
 */
export interface GatewayOutput {
  /** Replies and events (everything but Received and send answers); never dropped. */
  control (msg: ServerMessage): void
  /** A message for `ept`, if the policy admits it; its bytes count in ept.buffered until written. */
  received (ept: GatewayEndpoint, src: number, payload: Uint8Array): void
  /** The send is in a buffer. */
  sent (ref: number): void
  /** The send from endpoint `src` failed. */
  sendFailed (ref: number, src: number, code: ErrorCode, message: string): void
  /** The send waits for a buffer; sent() or sendFailed() follows. */
  sendWaits (ref: number): void
  /** Reading one WebSocket message from the application: begin() and end() around it. */
  begin (): void
  end (): void
  /** Hands out everything now, whatever the turn (before the socket is closed). */
  drain (): void
  /** Bytes handed out and not yet written to the network. */
  buffered (): number
  /** The connection closed: nothing more is written. */
  close (): void
}

export class V1Output implements GatewayOutput {
  constructor (private readonly socket: GatewaySocket, private readonly admit: Admit) {}

  control (msg: ServerMessage): void {
    if (this.socket.readyState !== OPEN) return
    this.socket.send(rpmsgWire.ServerMessage.encode(msg).finish(), { binary: true })
  }

  received (ept: GatewayEndpoint, src: number, payload: Uint8Array): void {
    const bytes = rpmsgWire.ServerMessage.encode({ received: { dst: ept.addr, src, payload } }).finish()
    const n = bytes.length
    if (!this.admit(ept, n)) return
    ept.buffered += n
    // ws calls back once the bytes are written to the socket (or failed with it).
    this.socket.send(bytes, { binary: true }, () => { ept.buffered -= n })
  }

  sent (ref: number): void { this.control({ sent: { requestId: ref } }) }
  sendFailed (ref: number, _src: number, code: ErrorCode, message: string): void { this.control({ error: { requestId: ref, code, message } }) }
  sendWaits (): void {}
  begin (): void {}
  end (): void {}
  drain (): void {}
  buffered (): number { return this.socket.bufferedAmount }
  close (): void {}
}
