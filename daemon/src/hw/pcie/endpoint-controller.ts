// The endpoint side of the PCIe link, like Linux's pci_epc
// (drivers/pci/endpoint/pci-epc-core.c) with one physical function: a
// config space and BARs the root complex maps, outbound windows onto the
// rc's memory (pci_epc_map_addr), and MSI / INTx toward the rc
// (pci_epc_raise_irq). Each BAR and the config space are Regions this
// daemon owns; the rc reaches them through its windows.

import type { Region } from '../../mem/region.js'
import type { RegionTable } from '../../mem/region-table.js'
import type { Requester } from '../../mem/requester.js'
import type { Window } from '../../mem/window.js'
import { ConflictError, OutOfRangeError } from '../../errors.js'
import {
  ConfigSpace, PCI_COMMAND_INTX_DISABLE, PCI_STD_NUM_BARS, PCI_BASE_ADDRESS_MEM_TYPE_64, PCI_BASE_ADDRESS_SPACE_IO, checkBars,
  type BarSpec, type FunctionIds
} from './config-header.js'

export const CFG_REGION = 'pcie.cfg'
export const SYSMEM_REGION = 'pcie.sysmem'
export const MSI_DOORBELL = 'pcie.msi'
export const INTX_DOORBELL = 'pcie.intx'
/** The modelled link's name in LinkEvent frames. */
export const PCIE_LINK = 'pcie'
export const barRegion = (n: number): string => `pcie.bar${n}`
/** MSI-X allows 2048 vectors (PCIe Base Spec §7.7.2). */
export const MAX_VECTOR = 2047

/** The RFC's defaults: TI DRA74x ids, PCI_CLASS_OTHERS, INTA (pci-epf-vhost.c). */
export const DEFAULT_IDS: FunctionIds = {
  vendorId: 0x104c, deviceId: 0xb500, revisionId: 0, classCode: 0xff0000, subsystemVendorId: 0, subsystemId: 0, interruptPin: 1
}

/** Register widths (§6.2.1); the interrupt pin is 0 or INTA..INTD. */
const ID_MAX: Record<keyof FunctionIds, number> = {
  vendorId: 0xffff, deviceId: 0xffff, revisionId: 0xff, classCode: 0xff_ffff, subsystemVendorId: 0xffff, subsystemId: 0xffff, interruptPin: 4
}

export interface EndpointControllerOptions {
  regions: RegionTable
  requester: Requester
  /** Rings a doorbell target on the rc (in link order, after earlier writes). */
  doorbellRing: (target: string, value: number) => void
  /** Sends LinkEvent{link: 'pcie'} to the rc. */
  sendLinkEvent: (up: boolean, reason: string) => void
  rcPeer: string
  name: string
  /** Outbound windows at once (an EPC's outbound address space is finite). */
  maxOutbound?: number
  /**
   * The rc peer alone sees this controller's regions (named NAME@scope): an
   * NTB board has one controller per host. Default: seen by every peer.
   */
  scope?: string
}

export interface OutboundMap {
  readonly window: Window
  readonly pciAddr: number
  readonly size: number
  /** Resolves once the rc's memory is mapped. */
  ready (): Promise<void>
  unmap (): void
}

export interface EndpointCounters {
  msi: number
  intxAssert: number
  intxDeassert: number
  outboundMaps: number
  outboundUnmaps: number
  linkEventErrors: number
}

export interface EndpointState {
  name: string
  rcPeer: string
  started: boolean
  header: FunctionIds
  command: number
  bars: Array<{ index: number, size: number, flags: number, region: string, busAddress: number }>
  outbound: Array<{ window: number, pciAddr: number, size: number, state: string }>
  intx: boolean
  counters: EndpointCounters
}

export class EndpointController {
  readonly name: string
  readonly rcPeer: string
  private readonly opts: EndpointControllerOptions
  private ids: FunctionIds = { ...DEFAULT_IDS }
  private readonly bars: Array<{ spec: BarSpec, region: Region } | null> = new Array<null>(PCI_STD_NUM_BARS).fill(null)
  private cfg: ConfigSpace | null = null
  private readonly outbound = new Set<OutboundMap>()
  /** The INTx pin's level as last sent to the rc. */
  private intx = false
  /** The function's interrupt state (Status.Interrupt): the pin asserts it unless COMMAND disables INTx. */
  private intxPending = false
  readonly counters: EndpointCounters = { msi: 0, intxAssert: 0, intxDeassert: 0, outboundMaps: 0, outboundUnmaps: 0, linkEventErrors: 0 }

  constructor (opts: EndpointControllerOptions) {
    this.opts = opts
    this.name = opts.name
    this.rcPeer = opts.rcPeer
  }

  get started (): boolean { return this.cfg !== null }

  /** The config space while started. */
  get configSpace (): ConfigSpace | null { return this.cfg }

  /** pci_epc_write_header: ids for the next start. */
  setHeader (ids: Partial<FunctionIds>): FunctionIds {
    this.idle('change the header')
    const next = { ...this.ids }
    for (const k of Object.keys(ID_MAX) as Array<keyof FunctionIds>) {
      const v = ids[k] ?? next[k]
      if (!Number.isInteger(v) || v < 0 || v > ID_MAX[k]) throw new OutOfRangeError(`${k} ${String(v)} is outside 0..${ID_MAX[k]}`)
      next[k] = v
    }
    this.ids = next
    return { ...next }
  }

  /**
   * pci_epc_set_bar: creates Region pcie.bar<n> (of a Region subclass if
   * `make` is given: an NTB memory window); a 64-bit BAR takes n + 1 too.
   */
  setBar<R extends Region = Region> (n: number, size: number, flags = 0, make?: (id: number, name: string) => R): R {
    this.idle('set a BAR')
    if (!Number.isInteger(n) || n < 0 || n >= PCI_STD_NUM_BARS) throw new OutOfRangeError(`no BAR${n}: a type-0 header has BAR0..BAR5`)
    if (this.bars[n] !== null || (n > 0 && is64(this.bars[n - 1]?.spec))) throw new ConflictError(`BAR${n} is in use`)
    const specs = this.bars.map((b) => b?.spec ?? null)
    specs[n] = { size, flags }
    checkBars(specs)
    const name = this.scoped(barRegion(n))
    const region = make === undefined ? this.opts.regions.create(name, size) as R : this.opts.regions.add(name, size, (id) => make(id, name))
    this.bars[n] = { spec: { size, flags }, region }
    return region
  }

  /** pci_epc_clear_bar. */
  clearBar (n: number): void {
    this.idle('clear a BAR')
    const b = this.bars[n]
    if (b == null) return
    this.bars[n] = null
    this.removeRegion(b.region)
  }

  bar (n: number): Region | null { return this.bars[n]?.region ?? null }

  /** pci_epc_start: the config space appears and the link comes up. */
  start (): void {
    if (this.cfg !== null) return
    const bars = this.bars.map((b) => b === null ? null : { ...b.spec })
    this.cfg = new ConfigSpace(this.opts.regions, this.scoped(CFG_REGION), { ...this.ids, bars })
    this.cfg.onCommand = () => { this.driveIntx(false) }
    this.intx = false
    this.intxPending = false
    this.linkEvent(true, 'endpoint started')
  }

  /** pci_epc_stop: link down, outbound windows unmapped, config space and BARs gone. */
  stop (reason = 'endpoint stopped'): void {
    const cfg = this.cfg
    if (cfg === null) return
    this.linkEvent(false, reason)
    for (const m of [...this.outbound]) m.unmap()
    this.cfg = null
    cfg.dispose()
    for (let n = 0; n < PCI_STD_NUM_BARS; n++) {
      const b = this.bars[n]
      if (b == null) continue
      this.bars[n] = null
      this.removeRegion(b.region)
    }
  }

  /**
   * The session with the rc started again (the composition root calls this on
   * link 'up'): a started endpoint announces its link, as a trained link does.
   */
  peerUp (): void {
    if (this.cfg !== null) this.linkEvent(true, 'rc link up')
  }

  /** pci_epc_map_addr: a replica window onto [pciAddr, pciAddr + size) of the rc's system memory. */
  mapOutbound (pciAddr: number, size: number): OutboundMap {
    this.running('map an outbound window')
    if (this.outbound.size >= (this.opts.maxOutbound ?? 64)) throw new ConflictError(`no free outbound window (${this.outbound.size} mapped)`)
    const requester = this.opts.requester
    const window = requester.open({ peer: this.rcPeer, region: SYSMEM_REGION, offset: pciAddr, size, replica: true })
    const map: OutboundMap = {
      window,
      pciAddr,
      size,
      ready: async () => { await requester.opened(window) },
      unmap: () => {
        if (!this.outbound.delete(map)) return
        this.counters.outboundUnmaps++
        if (window.state !== 'closed') requester.close(window.id)
      }
    }
    this.outbound.add(map)
    this.counters.outboundMaps++
    return map
  }

  /** pci_epc_raise_irq(PCI_IRQ_MSI): rings pcie.msi on the rc, after every earlier write on the link. */
  raiseMsi (vector: number): void {
    this.running('raise an MSI')
    if (!Number.isInteger(vector) || vector < 0 || vector > MAX_VECTOR) throw new OutOfRangeError(`MSI vector ${vector} is outside 0..${MAX_VECTOR}`)
    this.opts.doorbellRing(MSI_DOORBELL, vector)
    this.counters.msi++
  }

  /**
   * Sets the function's interrupt state (Status.Interrupt); the INTx pin
   * (level-triggered) follows it unless COMMAND's Interrupt Disable is set.
   */
  raiseIntx (assert: boolean): void {
    const cfg = this.running('raise INTx')
    if (this.ids.interruptPin === 0) throw new ConflictError('the function has no interrupt pin')
    cfg.setInterruptStatus(assert)
    this.intxPending = assert
    this.driveIntx(true)
    if (assert) this.counters.intxAssert++
    else this.counters.intxDeassert++
  }

  state (): EndpointState {
    const bars = []
    for (let n = 0; n < PCI_STD_NUM_BARS; n++) {
      const b = this.bars[n]
      if (b == null) continue
      bars.push({ index: n, size: b.spec.size, flags: b.spec.flags, region: b.region.name, busAddress: this.cfg?.barAddress(n) ?? 0 })
    }
    return {
      name: this.name,
      rcPeer: this.rcPeer,
      started: this.started,
      header: { ...this.ids },
      command: this.cfg?.command ?? 0,
      bars,
      outbound: [...this.outbound].map((m) => ({ window: m.window.id, pciAddr: m.pciAddr, size: m.size, state: m.window.state })),
      intx: this.intx,
      counters: { ...this.counters }
    }
  }

  /**
   * The pin's level: the interrupt state unless Interrupt Disable (COMMAND
   * bit 10) is set, which keeps INTx deasserted and deasserts one asserted
   * (PCI Local Bus Spec 3.0 §6.2.2). Sent when it changes, and on every
   * raiseIntx the pin follows (`always`), as the rc saw before.
   */
  private driveIntx (always: boolean): void {
    const cfg = this.cfg
    if (cfg === null) return
    const enabled = (cfg.command & PCI_COMMAND_INTX_DISABLE) === 0
    const level = this.intxPending && enabled
    if (level === this.intx && !(always && enabled)) return
    this.intx = level
    this.opts.doorbellRing(INTX_DOORBELL, level ? 1 : 0)
  }

  private linkEvent (up: boolean, reason: string): void {
    try {
      this.opts.sendLinkEvent(up, reason)
    } catch {
      // The rc is unreachable: it learns of the link from peerUp or its own link-down.
      this.counters.linkEventErrors++
    }
  }

  private scoped (name: string): string {
    return this.opts.scope === undefined ? name : `${name}@${this.opts.scope}`
  }

  private idle (what: string): void {
    if (this.cfg !== null) throw new ConflictError(`cannot ${what}: controller ${this.name} is started`)
  }

  private running (what: string): ConfigSpace {
    if (this.cfg === null) throw new ConflictError(`cannot ${what}: controller ${this.name} is stopped`)
    return this.cfg
  }

  private removeRegion (r: Region): void {
    if (this.opts.regions.find(r.name) === r) this.opts.regions.remove(r.name)
  }
}

const is64 = (b: BarSpec | undefined): boolean =>
  b !== undefined && (b.flags & (PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_SPACE_IO)) === PCI_BASE_ADDRESS_MEM_TYPE_64
