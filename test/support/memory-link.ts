// An in-memory network for PeerLinks (daemon/src/link/transport.ts): no
// sockets, and time is a ManualClock. A packet sent is delivered at the
// clock's next run(), in order; close() and terminate() reach the far end
// the same way, as ws's close does. The network can drop every connection
// (both ends see 1006, as a reset), or partition: packets and closes stop
// crossing, dials get no answer, and neither end notices but by silence.
//
// A MemoryNode is a daemon's accepting side on a URL: the real acceptor
// (daemon/src/link/acceptor.ts) runs the handshake on each connection and
// joins it to the node's PeerLink for that name, as LinkTable does.

import { pino } from 'pino'
import type { DialedSocket, LinkTransport, SocketEvents } from '../../daemon/src/link/transport.js'
import type { LinkOptions } from '../../daemon/src/link/options.js'
import { PeerLink } from '../../daemon/src/link/peer-link.js'
import { accept } from '../../daemon/src/link/acceptor.js'
import { wire } from '../../daemon/src/link/codec.js'
import { newIncarnation } from '../../daemon/src/link/handshake.js'
import { DEFAULT_SESSION_LIMITS } from '../../daemon/src/link/session.js'
import type { ManualClock } from './manual-clock.js'

type State = 'connecting' | 'open' | 'closing' | 'closed'

export class MemorySocket implements DialedSocket {
  far!: MemorySocket
  state: State = 'connecting'
  /** Packets this end sent, for tests that look at the wire. */
  readonly sent: Buffer[] = []
  private events: SocketEvents | null = null

  constructor (private readonly net: MemoryNet) {}

  get open (): boolean { return this.state === 'open' }

  send (packet: Uint8Array): void {
    if (this.state !== 'open') return
    const copy = Buffer.from(packet)
    this.sent.push(copy)
    if (this.net.partitioned) return
    this.net.clock.setImmediate(() => { if (this.far.state === 'open') this.far.events?.message(copy, true) })
  }

  close (code = 1005, reason = ''): void {
    if (this.state === 'closing' || this.state === 'closed') return
    this.state = 'closing'
    if (!this.net.partitioned) this.net.clock.setImmediate(() => { this.far.ended(code, reason) })
    this.net.clock.setImmediate(() => { this.ended(code, reason) })
  }

  terminate (): void {
    if (this.state === 'closed') return
    this.state = 'closing'
    if (!this.net.partitioned) this.net.clock.setImmediate(() => { this.far.ended(1006, '') })
    this.net.clock.setImmediate(() => { this.ended(1006, '') })
  }

  listen (events: SocketEvents | null): void { this.events = events }

  cut (): void { this.terminate() }

  failure (err: Error): { why: string, refused: boolean } { return { why: err.message, refused: false } }

  nameRefusal (): string | null { return null }

  /** The connection came up (both ends open). */
  opened (): void { if (this.state === 'connecting') this.state = 'open' }

  fail (err: Error): void {
    this.events?.error(err)
    this.ended(1006, '')
  }

  ended (code: number, reason: string): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.events?.close(code, reason)
  }
}

export class MemoryNet {
  /** While true, nothing crosses: packets, closes, new connections. */
  partitioned = false
  /** Every connection made, dialer's end first. */
  readonly connections: Array<[MemorySocket, MemorySocket]> = []
  private readonly listeners = new Map<string, (sock: MemorySocket) => void>()

  constructor (readonly clock: ManualClock) {}

  listen (url: string, onConnection: (sock: MemorySocket) => void): void { this.listeners.set(url, onConnection) }
  unlisten (url: string): void { this.listeners.delete(url) }

  readonly transport: LinkTransport = { dial: (url) => this.dial(url) }

  dial (url: string): MemorySocket {
    const a = new MemorySocket(this)
    const b = new MemorySocket(this)
    a.far = b
    b.far = a
    this.connections.push([a, b])
    this.clock.setImmediate(() => {
      // A partition: the dial hangs, as a SYN into the void does, until the dialer gives up.
      if (this.partitioned) return
      const listener = this.listeners.get(url)
      if (listener === undefined) { a.fail(new Error(`connect ECONNREFUSED ${url}`)); return }
      a.opened()
      b.opened()
      listener(b)
    })
    return a
  }

  /** Drops every open connection, as a reset does: both ends see 1006. */
  drop (): void {
    for (const [a, b] of this.connections) {
      if (a.state === 'closed' && b.state === 'closed') continue
      a.state = 'closing'
      b.state = 'closing'
      this.clock.setImmediate(() => { a.ended(1006, ''); b.ended(1006, '') })
    }
  }
}

/** Link settings for a node named `name`, on `clock` and `net`, with timings a test can reason about. */
export function memoryLinkOptions (name: string, clock: ManualClock, net: MemoryNet, over: Partial<LinkOptions> = {}): LinkOptions {
  return {
    name,
    role: wire.Role.ROLE_UNSPECIFIED,
    secret: 'memory-secret',
    incarnation: newIncarnation(),
    heartbeatMs: 1000,
    deadAfterMs: 3000,
    resumeWindowMs: 10_000,
    maxPayload: 16 * 1024 * 1024,
    handshakeTimeoutMs: 2000,
    maxPreAuthBytes: 4096,
    maxPendingLinks: 16,
    maxPeers: 16,
    reconnectMinMs: 100,
    reconnectMaxMs: 1600,
    ackEvery: 256,
    ackDelayMs: 5,
    limits: DEFAULT_SESSION_LIMITS,
    mask: 'zero',
    features: wire.Feature.FEATURE_COMPACT,
    logger: pino({ level: 'silent' }),
    clock,
    transport: net.transport,
    ...over
  }
}

/** A node's accepting side at `url`: one PeerLink per peer name, as LinkTable keeps them. */
export class MemoryNode {
  readonly links = new Map<string, PeerLink>()
  /** Refusals the acceptor reported. */
  readonly refusals: string[] = []

  constructor (readonly opts: LinkOptions, private readonly net: MemoryNet, readonly url: string) {
    this.listen()
  }

  /** Takes connections at the node's URL. */
  listen (): void {
    const opts = this.opts
    this.net.listen(this.url, (sock) => {
      accept(sock, opts, this.net.clock, opts.handshakeTimeoutMs, {
        link: (name) => this.links.get(name),
        newLink: (name) => {
          const link = new PeerLink(opts, { name })
          this.links.set(name, link)
          return link
        },
        certificate: () => null,
        refused: (kind, name, why) => { this.refusals.push(`${kind} ${name}: ${why}`) },
        settled: () => {},
        joined: () => {}
      })
    })
  }

  /** The daemon stops (its links close, its port goes away). */
  stop (reason = 'shutting down'): void {
    this.net.unlisten(this.url)
    for (const l of this.links.values()) l.close(reason)
  }
}
