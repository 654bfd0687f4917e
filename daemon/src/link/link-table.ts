// Every link of one daemon: the listening socket that accepts peers (the
// acceptor side of the handshake lives here), the peers this daemon dials,
// and one PeerLink per peer name. Upper layers subscribe to its events.
//
// Before a connection has authenticated it may send maxPreAuthBytes in all
// (the handshake's Hello is a few hundred bytes), counted on the TCP socket
// as they arrive, so a large frame is cut off long before ws has buffered
// it (maxPayload applies only once the link is up); and at the handshake
// timeout the connection is closed whatever it is doing: a Goodbye, then
// terminated CLOSE_GRACE_MS later if the close handshake has not ended.
//
// With TLS (link-server.ts) the port is wss://. Under mutual TLS (tlsCa) a
// connection without a client certificate from that CA is refused before
// the upgrade (HTTP 403, the reason in the body), and a Hello must claim a
// node name the certificate proves (CN or DNS SAN), or Goodbye CODE_AUTH.

import { EventEmitter } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { WebSocket, WebSocketServer } from './ws.js'
import { decodePacket, encodePacket, wire } from './codec.js'
import { AcceptorHandshake, type AcceptStep } from './handshake.js'
import { PeerLink, refuse, type PeerLinkEvents } from './peer-link.js'
import type { LinkOptions } from './options.js'
import { listenLink, type LinkServer } from './link-server.js'
import { certificateCredential, peerCertificate } from './tls.js'
import { certificateNameRefusal, clientCertificateRefusal, httpRefusal } from './tls-reasons.js'
import { FrameError, LimitError, NotFoundError } from '../errors.js'

export const LINK_PATH = '/v1/link'
/** How long a refused connection has to end the close handshake before it is terminated. */
export const CLOSE_GRACE_MS = 1000
const Code = wire.Goodbye.Code

/**
 * Peers that dialed this daemon and whose session has ended (down: no
 * resume possible) are remembered for GET /v1/peers, their last error
 * included, but only this many, the oldest forgotten first: every name that
 * ever connected would otherwise stay in the table for good. Peers this
 * daemon dials, and peers up or resuming, are never forgotten.
 */
export const MAX_DOWN_PEERS = 64

export class LinkTable extends EventEmitter<PeerLinkEvents> {
  readonly opts: LinkOptions
  private readonly byName = new Map<string, PeerLink>()
  private readonly dialers: PeerLink[] = []
  private server: LinkServer | null = null
  private readonly wss: WebSocketServer
  private readonly pending = new Set<WebSocket>()
  /** Accepted peers that are down, oldest first (see MAX_DOWN_PEERS). */
  private readonly down = new Map<string, PeerLink>()

  constructor (opts: LinkOptions) {
    super()
    this.opts = opts
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: opts.maxPayload })
  }

  /** Starts accepting peers on host:port (wss:// with TLS material); resolves with the bound address. */
  async listen (host: string, port: number): Promise<AddressInfo> {
    const tls = this.opts.tls ?? null
    const bound = await listenLink(host, port, (_req, res) => { res.writeHead(426, { 'content-type': 'text/plain' }).end('soclink link endpoint: WebSocket only\n') },
      { tls, handshakeTimeoutMs: this.opts.handshakeTimeoutMs, logger: this.opts.logger })
    bound.server.on('upgrade', (req, socket, head) => {
      if (new URL(req.url ?? '/', 'ws://x').pathname !== LINK_PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n')
        return
      }
      if (tls?.mutual === true) {
        const s = socket as Partial<TLSSocket>
        const why = clientCertificateRefusal({ authorized: s.authorized === true, authorizationError: s.authorizationError?.toString() ?? null, cert: peerCertificate(socket) })
        if (why !== null) {
          this.opts.logger.warn({ remote: `${s.remoteAddress ?? '?'}:${s.remotePort ?? 0}` }, `refused a peer: ${why}`)
          socket.end(httpRefusal(403, 'Forbidden', why))
          return
        }
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => { this.acceptSocket(ws, socket, head.length) })
    })
    this.server = bound
    return bound.address
  }

  /** Adds a peer this daemon dials and keeps redialing; at most maxPeers (ERR_LIMIT). */
  dial (url: string): PeerLink {
    if (this.dialers.length >= this.opts.maxPeers) throw new LimitError(`${this.dialers.length} peers are dialed: maxPeers is ${this.opts.maxPeers}; DELETE /v1/peers/:peer one first`)
    const link = new PeerLink(this.opts, { url, claim: (l, name) => this.claim(l, name) })
    this.adopt(link)
    this.dialers.push(link)
    link.start()
    return link
  }

  get (name: string): PeerLink | undefined {
    return this.byName.get(name)
  }

  /** The peer by name, or NotFoundError. */
  peer (name: string): PeerLink {
    const link = this.byName.get(name)
    if (link === undefined) throw new NotFoundError('peer', name)
    return link
  }

  /** Every known peer: named ones, then dialers that never got an answer. */
  list (): PeerLink[] {
    const out = [...this.byName.values()]
    for (const d of this.dialers) if (!out.includes(d)) out.push(d)
    return out
  }

  /**
   * Stops dialing a peer (by name, or by its dial URL while it has none),
   * closes its link and forgets it. An accepted peer is closed and forgotten
   * too; it may dial again.
   */
  forget (ref: string, reason: string): PeerLink {
    const link = this.byName.get(ref) ?? this.dialers.find((d) => d.url === ref)
    if (link === undefined) throw new NotFoundError('peer', ref)
    link.close(reason)
    link.removeAllListeners()
    if (this.byName.get(link.name) === link) this.byName.delete(link.name)
    const at = this.dialers.indexOf(link)
    if (at >= 0) this.dialers.splice(at, 1)
    return link
  }

  private claim (link: PeerLink, name: string): boolean {
    const other = this.byName.get(name)
    if (other !== undefined && other !== link) return false
    if (name === this.opts.name) return false
    this.byName.set(name, link)
    return true
  }

  private adopt (link: PeerLink): void {
    link.on('up', (l) => this.emit('up', l))
    link.on('lost', (l, loss) => this.emit('lost', l, loss))
    link.on('down', (l, why) => this.emit('down', l, why))
    link.on('room', (l) => this.emit('room', l))
    link.on('frame', (l, d) => this.emit('frame', l, d))
    link.on('state', (l) => { this.emit('state', l); this.noteState(l) })
  }

  /** Keeps the accepted peers that are down in age order, and forgets the oldest past MAX_DOWN_PEERS. */
  private noteState (link: PeerLink): void {
    if (link.url !== undefined) return
    const name = link.name
    this.down.delete(name)
    if (link.state !== 'down' || this.byName.get(name) !== link) return
    this.down.set(name, link)
    for (const [oldest, l] of this.down) {
      if (this.down.size <= MAX_DOWN_PEERS) break
      this.down.delete(oldest)
      this.byName.delete(oldest)
      l.removeAllListeners()
      this.opts.logger.debug({ peer: oldest }, 'forgotten: down, and more than MAX_DOWN_PEERS are remembered')
    }
  }

  /** Acceptor side of the handshake (AcceptorHandshake), then the peer's link. */
  private acceptSocket (ws: WebSocket, socket: Duplex, headBytes: number): void {
    this.pending.add(ws)
    const hs = new AcceptorHandshake(this.opts)
    let received = headBytes
    const count = (chunk: Buffer): void => {
      received += chunk.length
      if (received <= this.opts.maxPreAuthBytes) return
      this.opts.logger.warn(`cut off a peer that sent over ${this.opts.maxPreAuthBytes} bytes before authenticating`)
      socket.off('data', count)
      ws.terminate()
    }
    socket.on('data', count)
    const timer = setTimeout(() => {
      refuse(ws, Code.CODE_PROTOCOL, 'handshake timed out')
      setTimeout(() => { ws.terminate() }, CLOSE_GRACE_MS).unref()
    }, this.opts.handshakeTimeoutMs)
    const done = (): void => { clearTimeout(timer); socket.off('data', count); this.pending.delete(ws) }
    ws.once('close', done)
    ws.on('error', () => {})
    ws.send(encodePacket(hs.challenge()))
    ws.once('message', (data: Buffer, isBinary: boolean) => {
      done()
      // Timed out or cut off already: no link on a closing socket.
      if (ws.readyState !== WebSocket.OPEN) return
      let step: AcceptStep
      try {
        if (!isBinary) throw new FrameError('text message on a binary link')
        step = hs.check(decodePacket(data).frame)
      } catch (err) {
        step = { kind: 'refuse', code: Code.CODE_PROTOCOL, why: `bad handshake: ${(err as Error).message}` }
      }
      if (step.kind === 'refuse') {
        this.opts.logger[step.code === Code.CODE_AUTH ? 'error' : 'warn'](`refused a peer: ${step.why}`)
        refuse(ws, step.code, step.why)
        return
      }
      // Mutual TLS: the name is the one the client certificate proves (the upgrade required one).
      const wrongName = this.opts.tls?.mutual === true ? certificateNameRefusal(step.name, certificateCredential(socket, this.opts.tls)?.names ?? [], 'client') : null
      if (wrongName !== null) {
        this.opts.logger.error(`refused a peer: ${wrongName}`)
        refuse(ws, Code.CODE_AUTH, wrongName)
        return
      }
      let link = this.byName.get(step.name)
      if (link?.url !== undefined) {
        refuse(ws, Code.CODE_DUPLICATE, `${this.opts.name} already dials ${step.name}; give --peer on one side only`)
        return
      }
      if (link === undefined) {
        link = new PeerLink(this.opts, { name: step.name })
        this.adopt(link)
        this.byName.set(step.name, link)
      }
      const resume = link.accept(ws, step)
      ws.send(encodePacket(hs.welcome(resume)))
      link.flush()
    })
  }

  /** Says goodbye to every peer and stops listening. */
  async close (reason: string): Promise<void> {
    for (const link of this.list()) link.close(reason)
    for (const ws of this.pending) ws.terminate()
    this.wss.close()
    const server = this.server
    this.server = null
    await server?.close()
  }
}
