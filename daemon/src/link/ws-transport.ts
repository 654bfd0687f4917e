// The link's transport over ws: a WebSocket (RFC 6455) per connection,
// binary messages for packets, TLS for wss:// peers (dial-tls.ts).

import type { Socket } from 'node:net'
import { WebSocket, zeroMask } from './ws.js'
import { DialWatch, dialOptions } from './dial-tls.js'
import { goodbye, type DialedSocket, type LinkSocket, type LinkTransport, type SocketEvents } from './transport.js'
import type { LinkOptions } from './options.js'
import { CaptureDirection, NO_CAPTURE, type LinkCapture } from './capture.js'

export class WsLinkSocket implements LinkSocket {
  private events: SocketEvents | null = null

  /** `capture`: the daemon's frame capture (capture.ts), which sees every packet crossing this socket. */
  constructor (readonly ws: WebSocket, private readonly capture: LinkCapture = NO_CAPTURE) {
    // Listening from the start: ws throws an 'error' nobody listens for.
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const tap = this.capture.tap
      if (tap !== null && isBinary) tap(this, CaptureDirection.IN, data)
      this.events?.message(data, isBinary)
    })
    ws.on('close', (code: number, reason: Buffer) => { this.events?.close(code, reason.toString()) })
    ws.on('error', (err: Error) => { this.events?.error(err) })
  }

  get open (): boolean { return this.ws.readyState === WebSocket.OPEN }
  send (packet: Uint8Array): void {
    const tap = this.capture.tap
    if (tap !== null) tap(this, CaptureDirection.OUT, packet)
    this.ws.send(packet)
  }
  close (code?: number, reason?: string): void { this.ws.close(code, reason) }
  terminate (): void { this.ws.terminate() }
  listen (events: SocketEvents | null): void { this.events = events }

  cut (how: 'close' | 'reset'): void {
    // ws keeps its net.Socket in `_socket` (ws 8 lib/websocket.js setSocket); a proxy acts on TCP, not on WebSocket frames.
    const socket = (this.ws as unknown as { _socket?: Socket })._socket
    if (socket === undefined) { this.ws.terminate(); return }
    // Under TLS, `_socket` is a tls.TLSSocket: the TCP socket is its parent where it has one (the acceptor's);
    // a dialer's TLS socket owns its TCP handle, and a reset there is a close.
    const tcp = (socket as Socket & { _parent?: Socket | null })._parent ?? socket
    if (how === 'reset' && !('encrypted' in tcp)) tcp.resetAndDestroy()
    else socket.destroy()
  }
}

class WsDialedSocket extends WsLinkSocket implements DialedSocket {
  private readonly watch: DialWatch

  constructor (ws: WebSocket, url: string, opts: LinkOptions) {
    super(ws, opts.capture)
    this.watch = new DialWatch(ws, url, opts.tls ?? null)
  }

  failure (err: Error): { why: string, refused: boolean } {
    return { why: this.watch.reason(err), refused: this.watch.refused }
  }

  nameRefusal (name: string): string | null { return this.watch.welcomeRefusal(name) }
}

/** Dials with the daemon's link settings as they are at each dial (SIGHUP may have reloaded the TLS material). */
export class WsTransport implements LinkTransport {
  constructor (private readonly opts: LinkOptions) {}

  dial (url: string): DialedSocket {
    const o = this.opts
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      maxPayload: o.maxPayload,
      handshakeTimeout: o.handshakeTimeoutMs,
      ...(o.mask === 'zero' ? { generateMask: zeroMask } : {}),
      ...dialOptions(url, o.tls ?? null)
    })
    return new WsDialedSocket(ws, url, o)
  }
}

/** Closes a WebSocket with a Goodbye (code and reason), as the protocol asks; for connections not yet a link's. */
export function refuse (ws: WebSocket, code: number, reason: string): void {
  goodbye({
    open: ws.readyState === WebSocket.OPEN,
    send: (p) => { ws.send(p) },
    close: (c, r) => { ws.close(c, r) },
    terminate: () => { ws.terminate() }
  }, code, reason)
}
