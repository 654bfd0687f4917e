// Every link of one daemon: the listening socket that accepts peers (each
// connection's handshake is acceptor.ts's; what only the socket knows is
// here), the peers this daemon dials, and one PeerLink per peer name. Upper
// layers subscribe to its events.
//
// Before a connection has authenticated it holds little and not for long:
// - at most maxPendingLinks connections are unauthenticated at once; past
//   it a new one is closed as soon as it connects;
// - the handshake timeout counts from the TCP connection: one that has not
//   upgraded to a WebSocket by then (headers trickled: slowloris) is
//   destroyed, one that has not authenticated gets a Goodbye and is
//   terminated CLOSE_GRACE_MS later if the close handshake has not ended;
// - it may send one frame, the Hello, of at most maxPreAuthBytes
//   (pre-auth.ts), read from the raw socket ahead of ws, so a large frame
//   is cut off from its header (maxPayload applies only once the link is up).
// Refused connections are logged with who they were (address, claimed
// name, reason), rate-limited per address (log-limit.ts).
//
// A connection under a name that is already linked (up, or waiting to
// resume) replaces that link only if it proved the same identity
// (credential.ts); else it is refused and the live link stays.
//
// With TLS (link-server.ts) the port is wss://. Under mutual TLS (tlsCa) a
// connection without a client certificate from that CA is refused before
// the upgrade (HTTP 403, the reason in the body), and a Hello must claim a
// node name the certificate proves (CN or DNS SAN), or Goodbye CODE_AUTH.


import { EventEmitter } from 'node:events'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { WebSocket, WebSocketServer } from './ws.js'
import { PeerLink, type PeerLinkEvents } from './peer-link.js'
import type { LinkOptions } from './options.js'
import { PreAuthFrames } from './pre-auth.js'
import { RefusalLog } from './refusal-log.js'
import { listenLink, tcpSocketOf, type LinkServer } from './link-server.js'
import { certificateCredential, peerCertificate } from './tls.js'
import { clientCertificateRefusal, httpRefusal } from './tls-reasons.js'
import { accept, CLOSE_GRACE_MS } from './acceptor.js'
import { WsLinkSocket } from './ws-transport.js'
import { realClock, type Clock } from './clock.js'
import { LinkCapture } from './capture.js'
import { LimitError, NotFoundError } from '../errors.js'

export { CLOSE_GRACE_MS } from './acceptor.js'

export const LINK_PATH = '/v1/link'
/** The kinds of refusal, each rate-limited on its own per address. */
type RefusalKind = 'pending' | 'timeout' | 'pre-auth' | 'handshake' | 'takeover'

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
  private readonly clock: Clock
  private readonly byName = new Map<string, PeerLink>()
  private readonly dialers: PeerLink[] = []
  private server: LinkServer | null = null
  private readonly wss: WebSocketServer
  private readonly pending = new Set<WebSocket>()
  /** TCP connections not yet authenticated, with when each must have done so (ms, Date.now()). */
  private readonly unauthenticated = new Map<Socket, number>()
  /** Connections that upgraded to a WebSocket (their handshake timer is acceptSocket's). */
  private readonly upgraded = new WeakSet<Socket>()
  private readonly refusals: RefusalLog
  /** Accepted peers that are down, oldest first (see MAX_DOWN_PEERS). */
  private readonly down = new Map<string, PeerLink>()

  constructor (opts: LinkOptions) {
    super()
    this.opts = opts.capture !== undefined ? opts : { ...opts, capture: new LinkCapture() }
    this.clock = opts.clock ?? realClock
    this.refusals = new RefusalLog(opts.logger)
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: opts.maxPayload })
  }

  /**
   * What the link port answers an HTTP request or a WebSocket to another
   * path: most likely a client that took it for the control API (soclink
   * --api), so it says which port that is (client/src/link-port.ts reads it).
   */
  private notTheApi (): string {
    const api = this.opts.controlApiPort?.() ?? null
    return `soclink link port: WebSocket only, for peers (${LINK_PATH}); not the control API${api !== null ? `, which is on port ${api}` : ''}\n`
  }

  /** Starts accepting peers on host:port (wss:// with TLS material); resolves with the bound address. */
  async listen (host: string, port: number): Promise<AddressInfo> {
    // admit() closes a connection that has not upgraded at the handshake
    // timeout, and says so; Node's own bounds on a request's headers and
    // body (checked every connectionsCheckingInterval, 30 s by default) stand
    // behind it, a grace later.
    const t = this.opts.handshakeTimeoutMs + CLOSE_GRACE_MS
    const tls = this.opts.tls ?? null
    const bound = await listenLink(host, port, (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', connection: 'close' }).end(this.notTheApi())
    }, { tls, handshakeTimeoutMs: this.opts.handshakeTimeoutMs, logger: this.opts.logger, http: { headersTimeout: t, requestTimeout: t, connectionsCheckingInterval: Math.min(t, 1000) } })
    // The TCP connection, before TLS: counted and timed from connect.
    bound.server.on('connection', (socket: Socket) => { this.admit(socket) })
    bound.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (new URL(req.url ?? '/', 'ws://x').pathname !== LINK_PATH) {
        const body = this.notTheApi()
        socket.end(`HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
        return
      }
      if (tls?.mutual === true) {
        const s = socket as Partial<TLSSocket>
        const why = clientCertificateRefusal({ authorized: s.authorized === true, authorizationError: s.authorizationError?.toString() ?? null, cert: peerCertificate(socket) })
        if (why !== null) {
          this.logRefusal(socket, 'handshake', '', why)
          socket.end(httpRefusal(403, 'Forbidden', why))
          return
        }
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => { this.acceptSocket(ws, socket) })
    })
    this.server = bound
    return bound.address
  }

  /** The frame capture of this daemon's links (GET /v1/capture). */
  get capture (): LinkCapture { return this.opts.capture! }

  /** Connections not yet authenticated (maxPendingLinks bounds them). */
  get pendingLinks (): number { return this.unauthenticated.size }

  /**
   * A new TCP connection: closed at once past maxPendingLinks; otherwise
   * it has the handshake timeout to upgrade (acceptSocket then takes over
   * the same deadline) and it is destroyed if it has not.
   */
  private admit (socket: Socket): void {
    if (this.unauthenticated.size >= this.opts.maxPendingLinks) {
      this.logRefusal(socket, 'pending', '', `${this.unauthenticated.size} connections are not yet authenticated (maxPendingLinks); closed at once`)
      socket.destroy()
      return
    }
    this.unauthenticated.set(socket, Date.now() + this.opts.handshakeTimeoutMs)
    const timer = setTimeout(() => {
      if (this.pendingUpgrade(socket)) {
        this.logRefusal(socket, 'timeout', '', 'no WebSocket upgrade within the handshake timeout')
        socket.destroy()
      }
    }, this.opts.handshakeTimeoutMs)
    socket.once('close', () => { clearTimeout(timer); this.unauthenticated.delete(socket) })
  }

  /** Whether `socket` is still unauthenticated and has not upgraded (acceptSocket marks upgraded ones). */
  private pendingUpgrade (socket: Socket): boolean {
    return this.unauthenticated.has(socket) && !this.upgraded.has(socket)
  }

  /**
   * Logs a refused connection: who (address, claimed name) and why, at most
   * one line per address and kind of refusal per period (`kind`: a few
   * fixed words, so an address has a handful of lines at most).
   */
  private logRefusal (socket: Duplex, kind: RefusalKind, name: string, why: string, level: 'warn' | 'error' = 'warn'): void {
    const s = tcpSocketOf(socket) as Partial<Socket>
    const remote = s.remoteAddress !== undefined ? `${s.remoteAddress}:${s.remotePort ?? 0}` : '?'
    // The claimed name is the peer's choice, unauthenticated: cut to a length a log line can carry.
    const claimed = name.length > 64 ? name.slice(0, 64) + '...' : name
    const fields: Record<string, unknown> = { remote }
    if (claimed !== '') fields.name = claimed
    this.refusals.write(`${s.remoteAddress ?? '?'} ${kind}`, fields,
      `refused a link connection from ${remote}${claimed !== '' ? ` claiming ${JSON.stringify(claimed)}` : ''}: ${why}`, level)
  }

  /**
   * Adds a peer this daemon dials and keeps redialing; at most maxPeers
   * (ERR_LIMIT). With `name` (peers: [{ name, url }]) the peer must answer
   * under that name, and the handshake proves that peer's own secret.
   */
  dial (url: string, name?: string): PeerLink {
    if (this.dialers.length >= this.opts.maxPeers) throw new LimitError(`${this.dialers.length} peers are dialed: maxPeers is ${this.opts.maxPeers}; DELETE /v1/peers/:peer one first`)
    const link = new PeerLink(this.opts, { url, expect: name, claim: (l, n) => this.claim(l, n) })
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

  /** A connection that upgraded: the acceptor's handshake (acceptor.ts), its first frame bounded (pre-auth.ts). */
  private acceptSocket (ws: WebSocket, socket: Duplex): void {
    // Under TLS `socket` is the TLS socket; admit() noted the TCP socket under it.
    const tcp = tcpSocketOf(socket)
    this.upgraded.add(tcp)
    this.pending.add(ws)
    let settled = false
    const gate = new PreAuthFrames(this.opts.maxPreAuthBytes)
    // Ahead of ws's own listener: a frame is judged before ws buffers or answers it.
    const inspect = (chunk: Buffer): void => {
      if (settled) return
      const why = gate.feed(chunk)
      if (why === null) return
      settled = true
      this.logRefusal(socket, 'pre-auth', '', why)
      socket.off('data', inspect)
      ws.terminate()
    }
    socket.prependListener('data', inspect)
    const deadline = this.unauthenticated.get(tcp) ?? Date.now() + this.opts.handshakeTimeoutMs
    accept(new WsLinkSocket(ws, this.opts.capture), this.opts, this.clock, deadline - Date.now(), {
      link: (name) => this.byName.get(name),
      newLink: (name) => {
        const link = new PeerLink(this.opts, { name })
        this.adopt(link)
        this.byName.set(name, link)
        return link
      },
      certificate: () => certificateCredential(socket, this.opts.tls),
      refused: (kind, name, why, level) => { this.logRefusal(socket, kind, name, why, level) },
      settled: () => { settled = true; socket.off('data', inspect); this.pending.delete(ws) },
      joined: () => { this.unauthenticated.delete(tcp) }
    })
  }

  /** Says goodbye to every peer and stops listening. */
  async close (reason: string): Promise<void> {
    for (const link of this.list()) link.close(reason)
    for (const ws of this.pending) ws.terminate()
    for (const socket of this.unauthenticated.keys()) socket.destroy()
    this.wss.close()
    const server = this.server
    this.server = null
    await server?.close()
  }
}
