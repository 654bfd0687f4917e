// The ntb role: the board in the middle of the RFC's second topology
// (Documentation/PCI/endpoint/pci-ntb-howto.rst). Every host that links
// (a daemon in role ntb-virtio or ntb-vhost) gets an endpoint controller of
// its own, scoped to it (its BARs are pcie.barN@HOST, seen by that host
// alone) with the host as its root complex; two hosts form a pair served by
// one pci-epf-ntb function (hw/ntb/epf-ntb.ts), the first named its primary
// interface and the second its secondary, as the howto's configfs links do.
//
// Pairs come from settings (--ntb-pair A:B) or POST /v1/ntb/pairs; with none
// configured, hosts are paired in the order they link: 1st with 2nd, 3rd
// with 4th. A host's interface starts when its link comes up (the
// controller starts and the host enumerates the function) and stops when
// it goes down (the other host sees its NTB link drop, as on surprise
// removal). A host whose partner is not there yet is started anyway and
// waits with LINK_STATUS down; one that no configured pair names waits,
// unpaired, until a pair names it. A pair, once made, keeps its hosts: a
// host that restarts under the same name comes back to its partner.

import type { Logger } from 'pino'
import type { Role, RoleApi, RoleHost } from '../role.js'
import { ntbBoardApi } from './ntb-api.js'
import type { PeerLink } from '../link/peer-link.js'
import { wire } from '../link/codec.js'
import { EndpointController, PCIE_LINK } from '../hw/pcie/endpoint-controller.js'
import { EpfNtb, type EpfNtbConfig, type EpfNtbState } from '../hw/ntb/epf-ntb.js'
import { epfNtbLayout } from '../hw/ntb/epf-ntb-layout.js'
import { BusyError, ConfigError, ConflictError, NotFoundError } from '../errors.js'

export interface NtbPair {
  /** The function's name: ntb0, ntb1, ... in the order pairs are made. */
  readonly name: string
  /** Primary and secondary host; the secondary is null until one joins (pairing in link order). */
  readonly hosts: [string, string | null]
  /** Named by settings or the API (true), or made as hosts linked (false). */
  readonly configured: boolean
  readonly ntb: EpfNtb
}

export interface NtbPairView {
  name: string
  a: string
  b: string | null
  configured: boolean
  function: EpfNtbState
}

export interface NtbBoardView {
  /** Whether hosts no pair names are paired in the order they link. */
  autoPairing: boolean
  config: EpfNtbConfig
  pairs: NtbPairView[]
  /** Linked hosts that no pair names (configured pairing only). */
  unpaired: string[]
}

/** The roles of the hosts an NTB board serves. */
function isHost (link: PeerLink): boolean {
  return link.role === wire.Role.ROLE_NTB_VIRTIO || link.role === wire.Role.ROLE_NTB_VHOST
}

export class NtbBoardRole implements Role {
  readonly config: EpfNtbConfig
  readonly autoPairing: boolean
  private readonly pairs: NtbPair[] = []
  private readonly controllers = new Map<string, EndpointController>()
  /** Hosts whose link is up, with their wire role. */
  private readonly linked = new Map<string, number>()
  readonly name = 'ntb'
  /** What the role uses of its node. */
  readonly node: RoleHost
  /** Its routes (ntb-api.ts, pcie-api.ts). */
  readonly api: RoleApi = ntbBoardApi(this)
  private readonly logger: Logger
  private made = 0

  constructor (node: RoleHost) {
    this.node = node
    this.logger = node.logger.child({ layer: 'ntb-board' })
    const s = node.settings
    this.config = { numMws: s.ntbMws, mwSizes: new Array<number>(s.ntbMws).fill(s.ntbMwSize), dbCount: s.ntbDbCount, spadCount: s.ntbSpadCount }
    // Refuses settings the function cannot lay out before any host links.
    epfNtbLayout(this.config)
    this.autoPairing = s.ntbPairs.length === 0
    for (const p of s.ntbPairs) this.addPair(p.a, p.b, true)
  }

  async start (): Promise<void> {
    this.node.links.on('up', (link) => { if (isHost(link)) this.hostUp(link.name, link.role) })
    this.node.links.on('down', (link, reason) => { this.hostDown(link.name, reason) })
  }

  /** Nothing to undo: the node's links close next, and each peer's going takes its devices down as surprise removal does. */
  async stop (): Promise<void> {}

  view (): NtbBoardView {
    const named = new Set(this.pairs.flatMap((p) => p.hosts))
    return {
      autoPairing: this.autoPairing,
      config: { ...this.config, mwSizes: [...this.config.mwSizes] },
      pairs: this.pairs.map(pairView),
      unpaired: [...this.linked.keys()].filter((h) => !named.has(h)).sort()
    }
  }

  /**
   * Pairs two hosts (the configfs links of a new function's primary and
   * secondary interface); a host already linked starts its interface now.
   */
  createPair (a: string, b: string): NtbPairView {
    if (a === b) throw new ConfigError(`an ntb pair needs two hosts, not ${a} twice`)
    for (const h of [a, b]) {
      const p = this.pairOf(h)
      if (p === undefined) continue
      if (this.started(p)) throw new BusyError(`host ${h} is in pair ${p.name}, whose function is started`)
      throw new ConflictError(`host ${h} is in pair ${p.name} already: delete that pair first`)
    }
    const pair = this.addPair(a, b, true)
    for (const h of [a, b]) if (this.linked.has(h)) this.startInterface(pair, h)
    return pairView(pair)
  }

  /** Removes the pair that names `host`; refused while either host's interface is started (configfs: EBUSY). */
  deletePair (host: string): void {
    const p = this.pairOf(host)
    if (p === undefined) throw new NotFoundError('ntb pair with host', host)
    if (this.started(p)) throw new BusyError(`pair ${p.name}: the interface of ${p.ntb.state().interfaces.filter((i) => i.started).map((i) => i.host).join(' and ')} is started; stop the host first`)
    p.ntb.stop('pair deleted')
    this.pairs.splice(this.pairs.indexOf(p), 1)
    for (const h of p.hosts) if (h !== null) this.controllers.delete(h)
    this.logger.info({ ntb: p.name, hosts: p.hosts }, 'ntb pair deleted')
  }

  private hostUp (host: string, role: number): void {
    this.linked.set(host, role)
    let pair = this.pairOf(host)
    if (pair === undefined && this.autoPairing) pair = this.autoPair(host)
    if (pair === undefined) {
      this.logger.info({ host }, 'host linked; no ntb pair names it: it waits unpaired (POST /v1/ntb/pairs)')
      return
    }
    this.startInterface(pair, host)
  }

  private hostDown (host: string, reason: string): void {
    if (!this.linked.delete(host)) return
    const pair = this.pairOf(host)
    if (pair === undefined) return
    pair.ntb.stopInterface(host, `host ${host} is gone: ${reason}`)
    this.logger.info({ host, ntb: pair.name, reason }, 'host link down: its ntb interface stopped')
  }

  private startInterface (pair: NtbPair, host: string): void {
    try {
      pair.ntb.startInterface(host)
    } catch (err) {
      this.logger.error({ host, ntb: pair.name, err: (err as Error).message }, 'ntb interface did not start')
      return
    }
    const partner = pair.hosts[0] === host ? pair.hosts[1] : pair.hosts[0]
    if (partner !== null && this.linked.get(partner) === this.linked.get(host)) {
      this.logger.warn({ host, partner, ntb: pair.name }, 'both hosts of the pair run the same side: virtio over NTB needs one ntb-virtio and one ntb-vhost host')
    }
    const waiting = partner === null ? 'waits for a partner to link' : this.linked.has(partner) ? null : `waits for ${partner}`
    this.logger.info({ host, ntb: pair.name, partner }, waiting === null ? 'host linked: ntb interface started, partner present' : `host linked: ntb interface started; it ${waiting}`)
  }

  /** Pairing in link order: the oldest pair still waiting for its second host, else a new one. */
  private autoPair (host: string): NtbPair {
    const open = this.pairs.find((p) => !p.configured && p.hosts[1] === null)
    if (open === undefined) return this.addPair(host, null, false)
    open.ntb.join(this.controller(host))
    open.hosts[1] = host
    this.logger.info({ ntb: open.name, hosts: open.hosts }, 'hosts paired in link order')
    return open
  }

  private addPair (a: string, b: string | null, configured: boolean): NtbPair {
    const name = `ntb${this.made++}`
    const ntb = new EpfNtb({
      name,
      config: this.config,
      primary: this.controller(a),
      ...(b === null ? {} : { secondary: this.controller(b) }),
      logger: this.logger
    })
    const pair: NtbPair = { name, hosts: [a, b], configured, ntb }
    this.pairs.push(pair)
    this.logger.info({ ntb: name, hosts: pair.hosts, configured }, 'ntb pair made')
    return pair
  }

  /** The host's endpoint controller: regions NAME@HOST, MSIs and link events to that host alone. */
  private controller (host: string): EndpointController {
    let c = this.controllers.get(host)
    if (c !== undefined) return c
    c = new EndpointController({
      regions: this.node.regions,
      requester: this.node.requester,
      doorbellRing: (target, value) => { this.ring(host, target, value) },
      sendLinkEvent: (up, reason) => { this.node.sendLinkEvent(host, PCIE_LINK, up, reason) },
      rcPeer: host,
      name: `pcie0@${host}`,
      scope: host
    })
    this.controllers.set(host, c)
    return c
  }

  /** An MSI toward a host whose link is gone is lost, as on a dead PCIe link. */
  private ring (host: string, target: string, value: number): void {
    try {
      this.node.ring(host, target, value)
    } catch (err) {
      this.logger.debug({ host, target, value, err: (err as Error).message }, 'interrupt toward a host that is not linked: dropped')
    }
  }

  private pairOf (host: string): NtbPair | undefined {
    return this.pairs.find((p) => p.hosts.includes(host))
  }

  private started (p: NtbPair): boolean {
    return p.ntb.state().interfaces.some((i) => i.started)
  }
}

function pairView (p: NtbPair): NtbPairView {
  return { name: p.name, a: p.hosts[0], b: p.hosts[1], configured: p.configured, function: p.ntb.state() }
}
