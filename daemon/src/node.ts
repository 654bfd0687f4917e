// The composition root of a daemon: its links, the regions it owns, the
// windows it has on peers' regions and its doorbell targets, wired together.
// Frames from a link go to the owner side (Completer), the requester side
// (Requester) or the doorbell table; link sessions starting and ending reset
// both memory sides. What the role setting adds above (role.ts) is given to
// it by the composition root (daemon.ts); the node knows no role by name.

import { EventEmitter } from 'node:events'
import { randomInt } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Logger } from 'pino'
import { LinkTable } from './link/link-table.js'
import type { PeerLink } from './link/peer-link.js'
import { DoorbellTable } from './link/doorbells.js'
import { TlsCredentials } from './link/tls.js'
import { newIncarnation, hex } from './link/handshake.js'
import { wire } from './link/codec.js'
import { DEFAULT_SESSION_LIMITS } from './link/session.js'
import { ACK_DELAY_MS, ACK_EVERY } from './link/options.js'
import { RegionTable } from './mem/region-table.js'
import { Completer } from './mem/completer.js'
import { Requester } from './mem/requester.js'
import type { Window, WindowSpec } from './mem/window.js'
import { dialUrls, peerSecretFiles, type Settings } from './config/settings.js'
import { PeerSecrets } from './link/peer-secrets.js'
import { ForbiddenError, LimitError, UnavailableError } from './errors.js'
import { faultPlanSettings, type FaultPlanSpec } from './link/faults.js'
import type { FaultView } from './link/fault-gate.js'
import { RpmsgDriverTable } from './rpmsg/driver.js'
import { loadRpmsgSample } from './rpmsg/sample-loader.js'
import type { Role, RoleFactory, RoleHost } from './role.js'
import { VERSION } from '../../proto/version.js'

export { VERSION }

/** What the live event stream carries (GET /v1/events). */
export type NodeEvent =
  | { type: 'doorbell', time: string, peer: string, target: string, value: number }
  | { type: 'link', time: string, peer: string, state: 'up' | 'down', reason: string }
  | { type: 'peer', time: string, peer: string, state: string, error: string }
  | { type: 'window', time: string, window: number, peer: string, state: string, error: string }
  | { type: 'error', time: string, peer: string, message: string }
  /** A session ended with frames the peer never acknowledged; `writes` of them were REST writes already answered 200. */
  | { type: 'lost', time: string, peer: string, frames: number, bytes: number, writes: number, writeBytes: number, reason: string }

const ROLE_WIRE: Record<string, number> = {
  rc: wire.Role.ROLE_RC,
  ep: wire.Role.ROLE_EP,
  ntb: wire.Role.ROLE_NTB,
  'ntb-virtio': wire.Role.ROLE_NTB_VIRTIO,
  'ntb-vhost': wire.Role.ROLE_NTB_VHOST
}

export function roleName (role: number): string {
  return Object.entries(ROLE_WIRE).find(([, v]) => v === role)?.[0] ?? 'unknown'
}

export interface NodeEvents {
  event: [NodeEvent]
  /** A peer's LinkEvent: a change of a link that its hardware model drives. */
  linkEvent: [peer: string, link: string, up: boolean, reason: string]
}

export interface NodeOptions {
  /** Makes the node's role (daemon.ts: the one the role setting names). */
  role: RoleFactory
  /** Reads the per-peer secret files (tests give their own). */
  readFile?: (path: string) => string
}

export class SoclinkNode extends EventEmitter<NodeEvents> implements RoleHost {
  readonly settings: Settings
  readonly logger: Logger
  readonly incarnation = newIncarnation()
  readonly startedAt = Date.now()
  readonly links: LinkTable
  readonly regions: RegionTable
  readonly completer: Completer
  readonly requester: Requester
  readonly doorbells = new DoorbellTable()
  /** What the role setting runs above the links: a PCIe endpoint or root complex, the NTB board or an NTB host. */
  readonly role: Role
  /**
   * The rpmsg drivers and the rpmsg configfs tree, and every rpmsg bus of
   * this daemon (the gateway and the API find them here); null for a role
   * that runs no rpmsg (the NTB board).
   */
  readonly rpmsg: RpmsgDriverTable | null
  /** TLS material (tlsCert, tlsKey, tlsCa) for links and the control API; null without tlsCert. */
  readonly tls: TlsCredentials | null
  /** Where the link listener is bound, once started. */
  listenAddress: { host: string, port: number } | null = null
  /** The control API's port, once it listens (set by whoever starts the API). */
  apiPort: number | null = null
  /** The per-peer secrets of the peers setting (reloadPeerSecrets rereads them). */
  readonly peerSecrets: PeerSecrets

  constructor (settings: Settings, logger: Logger, options: NodeOptions) {
    super()
    this.settings = settings
    this.logger = logger
    this.peerSecrets = new PeerSecrets(peerSecretFiles(settings.peers), options.readFile ?? ((p) => readFileSync(p, 'utf8')))
    const peerSecrets = this.peerSecrets
    this.rpmsg = settings.role === 'ntb' ? null : new RpmsgDriverTable()
    this.regions = new RegionTable({ maxSize: settings.maxRegionSize, maxTotal: settings.maxRegionMemory })
    this.tls = settings.tlsCert !== '' ? new TlsCredentials({ cert: settings.tlsCert, key: settings.tlsKey, ca: settings.tlsCa }) : null
    if (this.tls?.outOfDate === true) logger.warn(`tlsCert is not valid now (${this.tls.summary}): peers and API clients will refuse it`)
    this.links = new LinkTable({
      name: settings.name,
      role: ROLE_WIRE[settings.role] ?? wire.Role.ROLE_UNSPECIFIED,
      secret: settings.secret,
      peerSecret: (name) => peerSecrets.get(name),
      incarnation: this.incarnation,
      heartbeatMs: settings.heartbeatMs,
      deadAfterMs: settings.deadAfterMs,
      resumeWindowMs: settings.resumeWindowMs,
      maxPayload: settings.maxPayload,
      handshakeTimeoutMs: settings.handshakeTimeoutMs,
      maxPreAuthBytes: settings.maxPreAuthBytes,
      maxPendingLinks: settings.maxPendingLinks,
      maxPeers: settings.maxPeers,
      reconnectMinMs: 100,
      reconnectMaxMs: settings.reconnectMaxMs,
      ackEvery: ACK_EVERY,
      ackDelayMs: ACK_DELAY_MS,
      limits: { ...DEFAULT_SESSION_LIMITS, maxReplayBytes: settings.maxReplayBytes },
      mask: settings.linkMask,
      features: settings.linkEncoding === 'compact' ? wire.Feature.FEATURE_COMPACT : 0,
      tls: this.tls,
      controlApiPort: () => this.apiPort,
      logger: logger.child({ layer: 'link' })
    })
    this.completer = new Completer(this.regions)
    this.requester = new Requester((peer) => {
      const l = this.links.get(peer)
      return l !== undefined && l.state !== 'down' ? l : null
    })
    this.wire()
    this.role = options.role(this)
  }

  private wire (): void {
    const now = (): string => new Date().toISOString()
    this.links.on('frame', (link, d) => {
      if (this.requester.handle(link, d)) return
      if (this.completer.handle(link, d)) return
      if (this.doorbells.handle(link, d)) return
      const le = d.frame.linkEvent
      if (le != null) {
        this.emit('linkEvent', link.name, le.link ?? '', le.up === true, le.reason ?? '')
        return
      }
      this.logger.warn({ peer: link.name }, 'frame with no handler')
    })
    this.links.on('up', (link) => {
      this.requester.linkUp(link)
      this.emit('event', { type: 'link', time: now(), peer: link.name, state: 'up', reason: '' })
    })
    this.links.on('lost', (link, loss) => {
      if (loss.frames === 0 && loss.writes === 0) return
      this.emit('event', { type: 'lost', time: now(), peer: link.name, frames: loss.frames, bytes: loss.bytes, writes: loss.writes, writeBytes: loss.writeBytes, reason: loss.reason })
    })
    this.links.on('down', (link, reason) => {
      this.completer.linkDown(link)
      this.requester.linkDown(link)
      this.emit('event', { type: 'link', time: now(), peer: link.name, state: 'down', reason })
    })
    this.links.on('state', (link) => {
      this.emit('event', { type: 'peer', time: now(), peer: link.label, state: link.state, error: link.lastError })
    })
    this.doorbells.on('ring', (peer, target, value) => {
      // Doorbells ring on the hot path: no event is built when nobody listens.
      if (this.listenerCount('event') > 0) this.emit('event', { type: 'doorbell', time: now(), peer, target, value })
    })
    this.requester.on('window', (w) => {
      this.emit('event', { type: 'window', time: now(), window: w.id, peer: w.spec.peer, state: w.state, error: w.lastError })
    })
    this.requester.on('error', (peer, message) => {
      this.logger.warn({ peer, message }, 'peer reported an error')
      this.emit('event', { type: 'error', time: now(), peer, message })
    })
  }

  /** Listens for peers, dials the configured ones, creates configured objects. */
  async start (): Promise<void> {
    const s = this.settings
    for (const r of s.regions) this.regions.createUser(r.name, r.size, r.peers)
    for (const d of s.doorbells) this.doorbells.declare(d)
    if (this.rpmsg !== null && s.rpmsgSample) loadRpmsgSample(this.rpmsg, this.logger)
    await this.role.start()
    const addr = await this.links.listen(s.listen.host, s.listen.port)
    this.listenAddress = { host: addr.address, port: addr.port }
    for (const p of dialUrls(s.peers)) this.links.dial(p.url, p.name)
    for (const w of s.windows) this.openWindow(w)
  }

  /**
   * Reads the per-peer secret files again (SIGHUP). Links up stay up; the
   * next handshake proves the new secrets. A file that cannot be read
   * (ConfigError) leaves the secrets in use as they were.
   */
  reloadPeerSecrets (): number {
    const n = this.peerSecrets.reload()
    this.logger.info({ peers: this.peerSecrets.names }, `reread ${n} per-peer secret files`)
    return n
  }

  async stop (reason: string): Promise<void> {
    await this.role.stop(reason)
    await this.links.close(reason)
  }

  onLinkEvent (listener: (peer: string, link: string, up: boolean, reason: string) => void): void {
    this.on('linkEvent', listener)
  }

  /**
   * SIGHUP: reads the TLS files again. The link port, the control API and
   * later dials use the new material; live links keep their connections. A
   * file that cannot be used keeps the material in use (logged).
   */
  reloadTls (): void {
    if (this.tls === null) { this.logger.info('SIGHUP: no TLS files to reload (no tlsCert)'); return }
    try {
      this.tls.reload()
      this.logger.info({ certificate: this.tls.summary }, 'TLS material reloaded: new connections use it, live links keep theirs')
      if (this.tls.outOfDate) this.logger.warn(`tlsCert is not valid now (${this.tls.summary}): peers and API clients will refuse it`)
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, `TLS reload failed; the material loaded before stays in use (${this.tls.summary})`)
    }
  }

  /** An operator's window (POST /v1/windows, the windows setting); at most maxWindows in all (ERR_LIMIT). */
  openWindow (spec: WindowSpec): Window {
    const max = this.settings.maxWindows
    if (this.requester.size >= max) throw new LimitError(`${this.requester.size} windows are open: maxWindows is ${max}; close one first`)
    return this.requester.open(spec)
  }

  /** Rings a doorbell target on a peer. */
  ring (peer: string, target: string, value: number): void {
    const link = this.links.peer(peer)
    if (link.state === 'down') throw new UnavailableError(`peer ${peer} is down${link.lastError !== '' ? `: ${link.lastError}` : ''}`)
    this.doorbells.ring(link, target, value)
  }

  /** Tells a peer's hardware model that a modelled link changed. */
  sendLinkEvent (peer: string, link: string, up: boolean, reason: string): void {
    this.links.peer(peer).send({ linkEvent: { link, up, reason } })
  }

  peerView (l: PeerLink): PeerView {
    return {
      name: l.name,
      url: l.url ?? null,
      direction: l.url !== undefined ? 'dialed' : 'accepted',
      role: roleName(l.role),
      state: l.state,
      incarnation: l.incarnation,
      rttMs: l.rttMs,
      lastError: l.lastError,
      credential: l.credential?.kind ?? null,
      unacked: l.unacked,
      counters: { ...l.counters },
      faults: l.faults.view()
    }
  }

  /** Sets (or with null clears) the fault plan of a peer's link; only with --fault-injection. */
  setFaults (peer: string, spec: FaultPlanSpec | null): PeerLink {
    if (!this.settings.faultInjection) throw new ForbiddenError('fault injection is off: start soclinkd with --fault-injection')
    const link = this.links.peer(peer)
    link.faults.set(spec === null ? null : faultPlanSettings(spec, randomInt(2 ** 32)))
    return link
  }

  nodeView (): NodeView {
    return {
      name: this.settings.name,
      role: this.settings.role,
      version: VERSION,
      incarnation: hex(this.incarnation),
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      listen: this.listenAddress === null ? null : `${this.tls !== null ? 'wss' : 'ws'}://${this.listenAddress.host}:${this.listenAddress.port}/v1/link`
    }
  }
}

export interface PeerView {
  name: string
  url: string | null
  direction: 'dialed' | 'accepted'
  role: string
  state: string
  incarnation: string
  rttMs: number | null
  lastError: string
  /** What the peer proved (credential.ts kind); null before the first handshake. */
  credential: string | null
  unacked: number
  counters: Record<string, number>
  faults: FaultView | null
}

export interface NodeView {
  name: string
  role: string
  version: string
  incarnation: string
  uptimeSeconds: number
  listen: string | null
}
