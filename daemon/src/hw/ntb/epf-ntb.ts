// The NTB endpoint function on the board: a model of
// drivers/pci/endpoint/functions/pci-epf-ntb.c. One EpfNtb joins two hosts,
// each through its own endpoint controller (the kernel's primary and
// secondary interfaces); a board may run several. Each host sees, per the
// layout in epf-ntb-layout.ts:
//   BAR0  struct epf_ntb_ctrl (epf-ntb-regs.ts), then its own scratchpads;
//   BAR1  the other host's own scratchpads (a TranslatedRegion over that
//         host's BAR0: what one writes there, the other reads in its BAR0);
//   BAR2  doorbell slots: DB_DATA(n) written at DB_ENTRY_SIZE * n +
//         DB_OFFSET(n) raises MSI vector n on the other host; then MW1;
//   BAR3.. MW2..MW4: TranslatedRegions that CONFIGURE_MW, sent by the other
//         host, translates onto that host's memory through its controller's
//         outbound window (pci_epc_map_addr).
//
// Differences from pci-epf-ntb.c, on purpose:
//   - the kernel polls COMMAND every 5 ms (epf_ntb_cmd_handler); here every
//     host write lands as a Region write in link order, so a command is
//     taken as it lands (COMMAND and ARGUMENT zeroed, as the kernel does)
//     and answered in CMD_STATUS;
//   - an unknown command, or CONFIGURE_MW with an address not 4 KiB aligned
//     (ntb_hw_epf's mw_get_align), answers ERROR; the kernel logs an unknown
//     command and never answers, so the host times out after 1 s;
//   - the controller offers MSI only: CONFIGURE_DOORBELL with MSIX_ENABLE
//     answers ERROR; MSI data is the vector number (db_data[i] = i) and
//     db_offset[i] = 0;
//   - hosts come and go (the kernel's interfaces live as long as the
//     function): an interface's BARs exist while its host's controller
//     runs; when a host leaves, the other's link goes down (vector 0), the
//     memory windows into the departed host's memory are detached and the
//     other's BAR1 reads zeros and refuses writes until the host is back.
//     What the staying host set up (its doorbells, its windows) is applied
//     again when the other returns; the returning host sets its own up again
//     with its commands;
//   - the secondary host may be named later (join): a board that pairs
//     hosts in the order they link starts the first host's interface before
//     its partner is known; it waits with LINK_STATUS down, its BAR1 reading
//     zeros, as it would while a configured partner is away.

import type { Logger } from 'pino'
import type { EndpointController } from '../pcie/endpoint-controller.js'
import type { Region } from '../../mem/region.js'
import { TranslatedRegion } from '../../mem/translated-region.js'
import { ConfigError, ConflictError, NotFoundError, OutOfRangeError, SoclinkError, UnsupportedRequestError } from '../../errors.js'
import { epfNtbLayout, type EpfNtbConfig, type EpfNtbLayout } from './epf-ntb-layout.js'
import { Interface, type Bars, type Command, type EpfNtbInterfaceState, type Translation } from './epf-ntb-interface.js'
import * as R from './epf-ntb-regs.js'

export type { EpfNtbConfig, EpfNtbLayout } from './epf-ntb-layout.js'
export type { EpfNtbCounters, EpfNtbInterfaceState, MwState } from './epf-ntb-interface.js'

export interface EpfNtbOptions {
  name: string
  config: EpfNtbConfig
  /** One controller per host, each scoped to its host (the kernel's primary and secondary EPC). */
  primary: EndpointController
  /** Absent: the second host is not known yet; join() names it. */
  secondary?: EndpointController
  logger: Logger
}

export interface EpfNtbState {
  name: string
  config: EpfNtbConfig
  layout: EpfNtbLayout
  interfaces: EpfNtbInterfaceState[]
}

export class EpfNtb {
  readonly name: string
  readonly config: EpfNtbConfig
  readonly layout: EpfNtbLayout
  private readonly ifaces: [Interface, Interface]
  private readonly logger: Logger

  constructor (opts: EpfNtbOptions) {
    this.name = opts.name
    this.layout = epfNtbLayout(opts.config)
    this.config = { ...opts.config, mwSizes: [...opts.config.mwSizes] }
    if (opts.secondary !== undefined) this.checkTwo(opts.primary, opts.secondary)
    const a = new Interface('primary', opts.primary, this.config.numMws)
    const b = new Interface('secondary', opts.secondary ?? null, this.config.numMws)
    a.other = b
    b.other = a
    this.ifaces = [a, b]
    this.logger = opts.logger.child({ ntb: opts.name })
  }

  /** The two hosts' names; the secondary is '' until one joins. */
  get hosts (): [string, string] { return [this.ifaces[0].host, this.ifaces[1].host] }

  /** Names the secondary host of a function made with the primary alone. */
  join (secondary: EndpointController): void {
    const b = this.ifaces[1]
    if (b.joined) throw new ConflictError(`ntb ${this.name}: the secondary interface is ${b.host}'s already`)
    this.checkTwo(this.ifaces[0].ctrl, secondary)
    b.join(secondary)
    this.logger.info({ host: secondary.rcPeer }, 'ntb secondary host joined')
  }

  private checkTwo (primary: EndpointController, secondary: EndpointController): void {
    if (primary === secondary || primary.rcPeer === secondary.rcPeer) {
      throw new ConfigError(`ntb ${this.name}: the primary and secondary interfaces need two hosts, not ${primary.rcPeer} twice`)
    }
  }

  /**
   * The host's controller is about to start: its BARs are laid out and
   * filled (epf_ntb_bind), joined with the other host's, and the controller
   * starts. Nothing happens if it runs already.
   */
  startInterface (host: string): void {
    const i = this.iface(host)
    if (i.bars !== null) return
    i.ctrl.setHeader({ vendorId: R.NTB_EPF_VENDOR_ID, deviceId: R.NTB_EPF_DEVICE_ID, classCode: R.NTB_EPF_CLASS, interruptPin: 1 })
    const bars = this.setBars(i)
    const L = this.layout
    const cfg = bars.config
    // The config BAR's command registers and the doorbell slots in front of
    // MW1 act on a write: the hosts' windows never combine writes there.
    cfg.markRegisters(0, cfg.size)
    bars.mws[0]!.markRegisters(0, L.mw1Offset)
    cfg.write32(R.MW_COUNT, this.config.numMws)
    cfg.write32(R.MW1_OFFSET, L.mw1Offset)
    cfg.write32(R.SPAD_OFFSET, L.spadOffset)
    cfg.write32(R.SPAD_COUNT, this.config.spadCount)
    cfg.write32(R.DB_ENTRY_SIZE, L.dbEntrySize)
    bars.stopObserving.push(
      cfg.observe((offset, length, origin) => { if (origin !== null && offset < R.ARGUMENT && offset + length > R.COMMAND) this.take(i) }),
      bars.mws[0]!.observe((offset, length, origin) => { if (origin !== null && offset < L.mw1Offset) this.slotWrite(i, offset, length) })
    )
    i.bars = bars
    const p = i.other
    if (p.bars !== null) {
      bars.peerSpad.attach({ region: p.bars.config, offset: L.spadOffset, size: L.spadSize })
      p.bars.peerSpad.attach({ region: cfg, offset: L.spadOffset, size: L.spadSize })
      for (const tr of p.mws) if (tr !== null) this.attachMw(p, tr)
      this.writeDoorbells(p)
    }
    i.ctrl.start()
    this.logger.info({ host, side: i.side }, 'ntb interface started')
  }

  /**
   * The host went away, or its function is stopped: the other host's link
   * goes down, translations into this host's memory are unmapped, and the
   * controller stops (its BARs go with it).
   */
  stopInterface (host: string, reason = 'ntb interface stopped'): void {
    const i = this.iface(host)
    const bars = i.bars
    if (bars === null) { i.ctrl.stop(reason); return }
    i.generation++
    i.queue = []
    i.busy = false
    i.linkup = false
    i.doorbells = 0
    const p = i.other
    if (p.bars !== null && (p.bars.config.read16(R.LINK_STATUS) & R.LINK_STATUS_UP) !== 0) this.setLink(p, false)
    for (let idx = 0; idx < i.mws.length; idx++) this.clearMw(i, idx)
    p.bars?.peerSpad.detach()
    bars.peerSpad.detach()
    for (const r of bars.mws) r.detach()
    for (const s of bars.stopObserving) s()
    i.bars = null
    i.ctrl.stop(reason)
    this.logger.info({ host, side: i.side, reason }, 'ntb interface stopped')
  }

  /** Stops both interfaces. */
  stop (reason = 'ntb function stopped'): void {
    for (const i of this.ifaces) if (i.joined) this.stopInterface(i.host, reason)
  }

  state (): EpfNtbState {
    return {
      name: this.name,
      config: { ...this.config, mwSizes: [...this.config.mwSizes] },
      layout: { ...this.layout, mwBars: [...this.layout.mwBars] },
      interfaces: this.ifaces.filter((i) => i.joined).map((i) => i.state(this.layout.spadOffset, this.config.spadCount))
    }
  }

  private iface (host: string): Interface {
    const i = this.ifaces.find((x) => x.joined && x.host === host)
    if (i === undefined) throw new NotFoundError(`interface of ntb ${this.name} for host`, host)
    return i
  }

  /** pci_epc_set_bar for each of the function's BARs; on failure, those set are cleared again. */
  private setBars (i: Interface): Bars {
    const L = this.layout
    const set: number[] = []
    const bar = <T extends Region>(n: number, size: number, make?: (id: number, name: string) => T): T => {
      const r = i.ctrl.setBar(n, size, 0, make)
      set.push(n)
      return r
    }
    try {
      const config = bar(R.BAR_CONFIG, L.configBar)
      const peerSpad = bar(R.BAR_PEER_SPAD, L.peerSpadBar, (id, name) => new TranslatedRegion(id, name, L.peerSpadBar))
      const mws = L.mwBars.map((size, idx) => bar(R.mwBar(idx), size, (id, name) => new TranslatedRegion(id, name, size, idx === 0 ? L.mw1Offset : 0)))
      return { config, peerSpad, mws, stopObserving: [] }
    } catch (err) {
      for (const n of set) i.ctrl.clearBar(n)
      throw err
    }
  }

  // ------------------------------------------------------------ commands

  /** A host write touched COMMAND (epf_ntb_cmd_handler, run as the write lands). */
  private take (i: Interface): void {
    const cfg = i.bars!.config
    const command = cfg.read32(R.COMMAND)
    if (command === 0) return
    const u64 = (at: number): number | null => { try { return cfg.read64(at) } catch { return null } }
    const c: Command = { command, argument: cfg.read32(R.ARGUMENT), addr: u64(R.LOWER_ADDR), size: u64(R.LOWER_SIZE) }
    cfg.write32(R.COMMAND, 0)
    cfg.write32(R.ARGUMENT, 0)
    i.queue.push(c)
    this.drain(i)
  }

  /** Runs queued commands in order; CONFIGURE_MW waits for its window, holding the rest back. */
  private drain (i: Interface): void {
    while (!i.busy && i.queue.length > 0) {
      const c = i.queue.shift()!
      let pending: Promise<void> | undefined
      try {
        pending = this.execute(i, c)
      } catch (err) {
        if (!(err instanceof SoclinkError)) throw err
        this.answer(i, c, err)
        continue
      }
      if (pending === undefined) { this.answer(i, c, null); continue }
      i.busy = true
      const generation = i.generation
      void pending.then(() => null, (err: unknown) => err instanceof Error ? err : new Error(String(err))).then((err) => {
        if (i.generation !== generation) return
        i.busy = false
        this.answer(i, c, err)
        this.drain(i)
      })
    }
  }

  private answer (i: Interface, c: Command, err: Error | null): void {
    i.counters.commands++
    if (err !== null) {
      i.counters.commandErrors++
      i.lastError = err.message
      this.logger.debug({ host: i.host, command: c.command, argument: c.argument, err: err.message }, 'ntb command refused')
    }
    i.bars?.config.write16(R.CMD_STATUS, err === null ? R.COMMAND_STATUS_OK : R.COMMAND_STATUS_ERROR)
  }

  private execute (i: Interface, c: Command): Promise<void> | undefined {
    switch (c.command) {
      case R.CMD_CONFIGURE_DOORBELL: this.configureDoorbell(i, c.argument); return
      case R.CMD_TEARDOWN_DOORBELL: i.doorbells = 0; return
      case R.CMD_CONFIGURE_MW: return this.configureMw(i, c)
      case R.CMD_TEARDOWN_MW: this.clearMw(i, this.mwIndex(c.argument)); return
      case R.CMD_LINK_UP: this.linkUp(i); return
      case R.CMD_LINK_DOWN: this.linkDown(i); return
      // The kernel only logs an unknown command (no status: the host times out).
      default: throw new UnsupportedRequestError(`unknown command ${c.command}`)
    }
  }

  /**
   * epf_ntb_configure_db (MSI path): the other host's slot k now raises
   * vector k here; its ctrl gets db_data[k] = k, db_offset[k] = 0.
   */
  private configureDoorbell (i: Interface, argument: number): void {
    if ((argument & R.MSIX_ENABLE) !== 0) throw new UnsupportedRequestError('CONFIGURE_DOORBELL asks for MSI-X: this function offers MSI only')
    const n = argument & R.DB_COUNT_MASK
    if (n < 1 || n > this.config.dbCount) throw new OutOfRangeError(`CONFIGURE_DOORBELL: ${n} vectors, the function has 1 to ${this.config.dbCount}`)
    i.doorbells = n
    this.writeDoorbells(i)
  }

  /** Writes `i`'s doorbell mapping into the other host's ctrl, if it is there. */
  private writeDoorbells (i: Interface): void {
    const cfg = i.other.bars?.config
    if (cfg === undefined || i.doorbells === 0) return
    const data = Buffer.alloc(4 * i.doorbells)
    for (let k = 0; k < i.doorbells; k++) data.writeUInt32LE(k, 4 * k)
    cfg.write(R.DB_DATA(0), data)
    cfg.write(R.DB_OFFSET(0), new Uint8Array(4 * i.doorbells))
  }

  /** A host wrote into its doorbell slots: each whole slot k written raises its data as a vector on the other host. */
  private slotWrite (writer: Interface, offset: number, length: number): void {
    writer.counters.doorbellWrites++
    const t = writer.other
    const slots = writer.bars!.mws[0]!
    const entry = this.layout.dbEntrySize
    const end = Math.min(offset + length, this.layout.mw1Offset)
    let raised = false
    for (let k = Math.ceil(offset / entry); entry * (k + 1) <= end; k++) {
      const vector = slots.read32(entry * k)
      if (t.bars === null || k >= t.doorbells || vector >= t.doorbells || !t.ctrl.started) continue
      this.raise(t, vector)
      raised = true
    }
    if (!raised) writer.counters.doorbellsDropped++
  }

  /** epf_ntb_configure_mw: the other host's MW idx BAR reaches [addr, addr + size) of this host's memory. */
  private configureMw (i: Interface, c: Command): Promise<void> {
    const idx = this.mwIndex(c.argument)
    const { addr, size } = c
    if (addr === null || size === null) throw new OutOfRangeError('CONFIGURE_MW: address or size above 2^53')
    if (size === 0 || size > this.config.mwSizes[idx]!) throw new OutOfRangeError(`CONFIGURE_MW: size ${size} of MW${idx + 1} is outside 1..${this.config.mwSizes[idx]!}`)
    if (addr % R.MW_ADDR_ALIGN !== 0) throw new OutOfRangeError(`CONFIGURE_MW: address 0x${addr.toString(16)} is not ${R.MW_ADDR_ALIGN}-byte aligned`)
    this.clearMw(i, idx)
    const tr: Translation = { idx, addr, size, map: i.ctrl.mapOutbound(addr, size), state: 'mapping' }
    i.mws[idx] = tr
    return tr.map.ready().then(() => {
      if (i.mws[idx] !== tr) return
      tr.state = 'mapped'
      this.attachMw(i, tr)
    }, (err: unknown) => {
      if (i.mws[idx] === tr) this.clearMw(i, idx)
      throw err
    })
  }

  private mwIndex (argument: number): number {
    if (argument >= this.config.numMws) throw new OutOfRangeError(`memory window ${argument}: the function has ${this.config.numMws}`)
    return argument
  }

  private attachMw (owner: Interface, tr: Translation): void {
    if (tr.state === 'mapped') owner.other.bars?.mws[tr.idx]!.attach(tr.map.window)
  }

  /** epf_ntb_teardown_mw: unmaps idx, and the other host's BAR refuses writes again. */
  private clearMw (i: Interface, idx: number): void {
    const tr = i.mws[idx]
    if (tr == null) return
    i.mws[idx] = null
    const r = i.other.bars?.mws[idx]
    if (r !== undefined && r.translation === tr.map.window) r.detach()
    tr.map.unmap()
  }

  // ------------------------------------------------------------ link

  /** epf_ntb_link_up: once both hosts sent LINK_UP, both see LINK_STATUS_UP and vector 0. */
  private linkUp (i: Interface): void {
    i.linkup = true
    if (!i.other.linkup) return
    for (const x of this.ifaces) this.setLink(x, true)
  }

  /** epf_ntb_link_down: both see the link down and vector 0. */
  private linkDown (i: Interface): void {
    i.linkup = false
    for (const x of this.ifaces) this.setLink(x, false)
  }

  private setLink (x: Interface, up: boolean): void {
    const cfg = x.bars?.config
    if (cfg === undefined) return
    const s = cfg.read16(R.LINK_STATUS)
    cfg.write16(R.LINK_STATUS, up ? s | R.LINK_STATUS_UP : s & ~R.LINK_STATUS_UP)
    if (this.raise(x, 0)) x.counters.linkEvents++
  }

  /**
   * pci_epc_raise_irq(MSI, vector + 1), after every write made before it,
   * those this register write caused (LINK_STATUS, db_data) included.
   */
  private raise (x: Interface, vector: number): boolean {
    if (!x.ctrl.started) return false
    const ctrl = x.ctrl
    const send = (): void => { if (ctrl.started) ctrl.raiseMsi(vector) }
    if (x.bars === null) send()
    else x.bars.config.afterReports(send)
    x.msi[vector]!++
    return true
  }
}
