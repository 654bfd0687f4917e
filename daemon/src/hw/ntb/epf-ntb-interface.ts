// One host's side of the NTB endpoint function (pci-epf-ntb.c's struct
// epf_ntb_epc): its controller and BARs, what the host has set up with its
// commands, and its counters. epf-ntb.ts acts on it.

import type { EndpointController, OutboundMap } from '../pcie/endpoint-controller.js'
import type { Region } from '../../mem/region.js'
import type { TranslatedRegion } from '../../mem/translated-region.js'
import { UnavailableError } from '../../errors.js'
import * as R from './epf-ntb-regs.js'

export interface EpfNtbCounters {
  commands: number
  commandErrors: number
  /** Writes by this host into its doorbell slots. */
  doorbellWrites: number
  /** Slot writes that raised nothing: the other host has no doorbell there, or the data is no vector of it. */
  doorbellsDropped: number
  /** Vector 0 raised on this host for a link change. */
  linkEvents: number
}

export interface MwState {
  idx: number
  addr: number
  size: number
  state: 'mapping' | 'mapped'
  /** Whether the other host's MW BAR shows it now. */
  attached: boolean
}

export interface EpfNtbInterfaceState {
  side: 'primary' | 'secondary'
  host: string
  controller: string
  started: boolean
  /** This host sent LINK_UP (and not LINK_DOWN since). */
  linkup: boolean
  /** LINK_STATUS_UP as this host reads it. */
  linkStatus: boolean
  doorbells: { configured: boolean, count: number }
  /** MSIs raised on this host, per vector (0: link). */
  msi: number[]
  /** Translations into this host's memory (its CONFIGURE_MW). */
  mws: MwState[]
  /** This host's own scratchpads (BAR0 at spad_offset). */
  spads: number[]
  /** Whether BAR1 reaches the other host's scratchpads. */
  peerSpadBacked: boolean
  lastError: string
  counters: EpfNtbCounters
}


export interface Bars {
  config: Region
  peerSpad: TranslatedRegion
  /** MW idx's BAR: mws[0] is BAR2 (doorbell slots, then MW1 at mw1_offset). */
  mws: TranslatedRegion[]
  stopObserving: Array<() => void>
}

export interface Translation {
  idx: number
  addr: number
  size: number
  map: OutboundMap
  state: 'mapping' | 'mapped'
}

/** A command as taken from the ctrl registers; ADDR/SIZE are null if above 2^53. */
export interface Command { command: number, argument: number, addr: number | null, size: number | null }

/** One host's side of the function (struct epf_ntb_epc). */
export class Interface {
  bars: Bars | null = null
  other!: Interface
  linkup = false
  /** Vectors of this host's that the other's doorbell slots reach (CONFIGURE_DOORBELL); 0: none. */
  doorbells = 0
  readonly mws: Array<Translation | null>
  readonly msi = new Array<number>(R.MAX_DB_COUNT).fill(0)
  readonly counters: EpfNtbCounters = { commands: 0, commandErrors: 0, doorbellWrites: 0, doorbellsDropped: 0, linkEvents: 0 }
  lastError = ''
  queue: Command[] = []
  busy = false
  /** Bumped when the interface goes: answers still in flight are dropped. */
  generation = 0

  private controller: EndpointController | null

  /** `ctrl` null: a host not there yet (a pair whose second host has not linked); join() gives it. */
  constructor (readonly side: 'primary' | 'secondary', ctrl: EndpointController | null, numMws: number) {
    this.controller = ctrl
    this.mws = new Array<Translation | null>(numMws).fill(null)
  }

  /** Whether a host's controller is here. */
  get joined (): boolean { return this.controller !== null }

  get ctrl (): EndpointController {
    if (this.controller === null) throw new UnavailableError(`the ${this.side} interface has no host yet`)
    return this.controller
  }

  join (ctrl: EndpointController): void { this.controller = ctrl }

  /** The host's name; '' until one joins. */
  get host (): string { return this.controller?.rcPeer ?? '' }

  state (spadOffset: number, spadCount: number): EpfNtbInterfaceState {
    const cfg = this.bars?.config
    const spads: number[] = []
    if (cfg !== undefined) for (let k = 0; k < spadCount; k++) spads.push(cfg.read32(spadOffset + 4 * k))
    const peerMws = this.other.bars?.mws
    return {
      side: this.side,
      host: this.host,
      controller: this.ctrl.name,
      started: this.bars !== null,
      linkup: this.linkup,
      linkStatus: cfg !== undefined && (cfg.read16(R.LINK_STATUS) & R.LINK_STATUS_UP) !== 0,
      doorbells: { configured: this.doorbells > 0, count: this.doorbells },
      msi: [...this.msi],
      mws: this.mws.filter((tr) => tr !== null).map((tr) => ({
        idx: tr.idx, addr: tr.addr, size: tr.size, state: tr.state, attached: peerMws?.[tr.idx]?.translation === tr.map.window
      })),
      spads,
      peerSpadBacked: this.bars?.peerSpad.translation != null,
      lastError: this.lastError,
      counters: { ...this.counters }
    }
  }
}
