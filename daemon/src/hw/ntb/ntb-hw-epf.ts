// The NTB host driver for an NTB endpoint function, modelled on
// drivers/ntb/hw/epf/ntb_hw_epf.c: a host (a root complex) finds the
// board's function on its link and drives struct epf_ntb_ctrl in BAR0
// (commands, link status, doorbell slots, its own scratchpads), reaches the
// other host's scratchpads through BAR1, rings doorbells by writing into
// BAR2, and reaches the other host's memory through the memory windows
// (MW1 in BAR2 after the doorbell slots, MW2..4 in BAR3..5). MSI vector 0
// is the link event, vector v >= 1 doorbell v - 1.
//
// Where this differs from ntb_hw_epf.c, on purpose:
//   - doorbells are the bits of include/linux/ntb.h: peer_db_set(bits) rings
//     slot b + 1 for every bit b set (the kernel rings only ffs(bits) + 1, so
//     bit 0 arrives as vector 2 and BIT(db_count - 1) is refused), and the
//     db_event vector is 0-based; db_read/db_clear/the mask operations work
//     (doorbell-status.ts) where the kernel keeps "vector + 1" and no mask;
//   - mw_get_align's size_max for MW1 is the BAR less MW1_OFFSET (the kernel
//     gives the whole BAR, doorbell slots included), and mw_set_trans checks
//     against it;
//   - a CONFIGURE_MW or TEARDOWN_MW the board refuses is an error (the
//     kernel ignores the command's result and returns 0).
// MSI only: the root complex model delivers MSI vectors, so
// CONFIGURE_DOORBELL never sets MSIX_ENABLE, and the vector count is a power
// of two, as pci_alloc_irq_vectors() negotiates it for MSI.

import { EventEmitter } from 'node:events'
import type { Window } from '../../mem/window.js'
import { OffsetView } from '../../mem/offset-view.js'
import type { EndpointFunction, EnumeratedBar, RootComplex } from '../pcie/root-complex.js'
import { CommandError, ConflictError, OutOfRangeError, UnavailableError } from '../../errors.js'
import type { MwAlign, NtbDevice, NtbEvents, PeerMw } from './ntb.js'
import { NtbCommandQueue, type NtbCommandCounters } from './ntb-command.js'
import { DoorbellStatus, vectorsOf } from './doorbell-status.js'
import * as R from './epf-ntb-regs.js'
import { type CtrlInfo, checkCtrlLayout, checkIndex, mwSpanOf, readCtrlLayout, u32 } from './ntb-hw-epf-ctrl.js'

/** ntb_epf_init_isr(ndev, NTB_EPF_MIN_DB_COUNT + 1, NTB_EPF_MAX_DB_COUNT + 1): vector 0 is the link. */
export const MIN_VECTORS = R.MIN_HOST_DB_COUNT + 1
export const MAX_VECTORS = R.MAX_HOST_DB_COUNT + 1

/**
 * Whether ntb_hw_epf binds the function: TI J721E ids (the RFC's table), or
 * class memory/RAM (mainline's entries match PCI_CLASS_MEMORY_RAM << 8 under
 * mask 0xffff00).
 */
export function matchesNtbEpf (fn: EndpointFunction): boolean {
  const h = fn.header
  return (h.vendorId === R.NTB_EPF_VENDOR_ID && h.deviceId === R.NTB_EPF_DEVICE_ID) || (h.classCode & 0xffff00) === R.NTB_EPF_CLASS
}

export interface NtbHwEpfOptions {
  fn: EndpointFunction
  /** The root complex that enumerated `fn`: MSIs from fn.peer are this device's interrupts. */
  rc: Pick<RootComplex, 'onMsi'>
  name?: string
  /** NTB_EPF_COMMAND_TIMEOUT (1000 ms). */
  commandTimeoutMs?: number
}

export interface NtbHwEpfCounters extends NtbCommandCounters {
  msis: number
  /** MSIs for no vector this host configured (or before init). */
  spuriousMsis: number
  linkEvents: number
  dbEvents: number
  /** Doorbell slots written toward the peer. */
  peerDbRings: number
}

export interface NtbHwEpfState {
  name: string
  peer: string
  ready: boolean
  link: boolean
  vectors: number
  dbCount: number
  dbValidMask: number
  dbBits: number
  dbMask: number
  mwCount: number
  /** Inbound translations this host set (mw_set_trans). */
  translations: Array<{ widx: number, addr: number, size: number }>
  peerMws: Array<{ widx: number, bar: number, base: number, size: number }>
  spadCount: number
  spads: number[]
  peerSpads: number[]
  counters: NtbHwEpfCounters
}

export class NtbHwEpf extends EventEmitter<NtbEvents> implements NtbDevice {
  readonly name: string
  readonly peer: string
  private readonly fn: EndpointFunction
  private readonly ctrl: Window
  private readonly commands: NtbCommandQueue
  private readonly unlisten: () => void
  private info: CtrlInfo | null = null
  private db: DoorbellStatus | null = null
  private readonly translations = new Map<number, { addr: number, size: number }>()
  private readonly views = new Map<number, OffsetView>()
  private disposed = false
  private readonly counts = { msis: 0, spuriousMsis: 0, linkEvents: 0, dbEvents: 0, peerDbRings: 0 }
  /** Scratchpad writes that succeeded: own (spad_write) and the peer's (peer_spad_write). */
  readonly spadWrites = { own: 0, peer: 0 }

  constructor (opts: NtbHwEpfOptions) {
    super()
    this.fn = opts.fn
    this.peer = opts.fn.peer
    this.name = opts.name ?? `ntb_hw_epf:${opts.fn.peer}`
    const ctrl = this.bar(R.BAR_CONFIG)
    if (ctrl.size < R.CTRL_SIZE) throw new UnavailableError(`${this.name}: BAR0 (${ctrl.size} bytes) cannot hold struct epf_ntb_ctrl (${R.CTRL_SIZE} bytes)`)
    this.ctrl = ctrl.window
    this.commands = new NtbCommandQueue(this.ctrl, opts.commandTimeoutMs)
    // The kernel requests its vectors before CONFIGURE_DOORBELL; so does this.
    this.unlisten = opts.rc.onMsi(this.peer, (vector) => { this.interrupt(vector) })
  }

  get ready (): boolean { return this.info !== null }

  /** ntb_epf_init_dev: reads the layout, then CONFIGURE_DOORBELL with 32 vectors, or fewer if refused. */
  async init (): Promise<void> {
    if (this.info !== null) throw new ConflictError(`${this.name} is initialised`)
    const layout = readCtrlLayout(this.ctrl)
    checkCtrlLayout(layout, (i) => this.bar(i), this.name)
    let vectors = MAX_VECTORS
    for (;;) {
      try {
        await this.commands.send(R.CMD_CONFIGURE_DOORBELL, vectors)
        break
      } catch (err) {
        if (!(err instanceof CommandError)) throw err
        // pci_alloc_irq_vectors' range: MSI counts are powers of two, down to the minimum.
        if (vectors / 2 < MIN_VECTORS) throw new CommandError(`${this.name}: CONFIGURE_DOORBELL refused every vector count from ${MAX_VECTORS} down to ${MIN_VECTORS}`, R.CMD_CONFIGURE_DOORBELL)
        vectors /= 2
      }
    }
    this.db = new DoorbellStatus(vectors - 1)
    this.info = { ...layout, vectors }
  }

  /** ntb_epf_cleanup_isr: TEARDOWN_DOORBELL with the vector count, then dispose(). */
  async remove (): Promise<void> {
    try {
      if (this.info !== null && this.ctrl.state === 'open') await this.commands.send(R.CMD_TEARDOWN_DOORBELL, this.info.vectors)
    } finally {
      this.dispose()
    }
  }

  /** The function went away: no more interrupts, outstanding commands fail. */
  dispose (): void {
    if (this.disposed) return
    this.disposed = true
    this.unlisten()
    this.commands.close()
  }

  linkIsUp (): boolean {
    return (this.ctrl.read16(R.LINK_STATUS) & R.LINK_STATUS_UP) !== 0
  }

  async linkEnable (): Promise<void> { await this.commands.send(R.CMD_LINK_UP, 0) }
  async linkDisable (): Promise<void> { await this.commands.send(R.CMD_LINK_DOWN, 0) }

  mwCount (): number { return this.layout().mwCount }
  peerMwCount (): number { return this.layout().mwCount }

  mwGetAlign (widx: number): MwAlign {
    return { addrAlign: R.MW_ADDR_ALIGN, sizeAlign: 1, sizeMax: this.mwSpan(widx).size }
  }

  async mwSetTrans (widx: number, addr: number, size: number): Promise<void> {
    const max = this.mwSpan(widx).size
    if (!Number.isSafeInteger(addr) || addr < 0 || addr % R.MW_ADDR_ALIGN !== 0) throw new OutOfRangeError(`mw_set_trans: address ${addr} is not a ${R.MW_ADDR_ALIGN}-byte aligned bus address`)
    if (!Number.isSafeInteger(size) || size <= 0 || size > max) throw new OutOfRangeError(`mw_set_trans: size ${size} is outside 1..${max} for MW${widx + 1}`)
    await this.commands.send(R.CMD_CONFIGURE_MW, widx, () => {
      this.ctrl.write32(R.LOWER_ADDR, addr % 0x1_0000_0000)
      this.ctrl.write32(R.UPPER_ADDR, Math.floor(addr / 0x1_0000_0000))
      this.ctrl.write32(R.LOWER_SIZE, size % 0x1_0000_0000)
      this.ctrl.write32(R.UPPER_SIZE, Math.floor(size / 0x1_0000_0000))
    })
    this.translations.set(widx, { addr, size })
  }

  async mwClearTrans (widx: number): Promise<void> {
    this.mwSpan(widx)
    await this.commands.send(R.CMD_TEARDOWN_MW, widx)
    this.translations.delete(widx)
  }

  peerMwGetAddr (widx: number): PeerMw {
    const span = this.mwSpan(widx)
    let memory = this.views.get(widx)
    if (memory === undefined) {
      memory = new OffsetView(span.bar.window, span.offset, span.size)
      this.views.set(widx, memory)
    }
    const { offset, size } = span
    const window = span.bar.window
    // The BAR window's Updates, clipped to the memory window and made relative to it.
    const onUpdate = (listener: (offset: number, length: number) => void): () => void => window.onUpdate((at, length) => {
      const from = Math.max(at, offset)
      const to = Math.min(at + length, offset + size)
      if (from < to) listener(from - offset, to - from)
    })
    return { base: span.bar.busAddress + offset, size, memory, onUpdate }
  }

  dbValidMask (): number { return this.doorbells().validMask }
  dbVectorCount (): number { return this.doorbells().count }
  dbVectorMask (vector: number): number {
    const db = this.doorbells()
    return Number.isInteger(vector) && vector >= 0 && vector < db.count ? 2 ** vector : 0
  }

  dbRead (): number { return this.doorbells().read() }
  dbClear (bits: number): void { this.doorbells().clear(bits) }
  dbReadMask (): number { return this.doorbells().readMask() }
  dbSetMask (bits: number): void { this.doorbells().setMask(bits) }

  dbClearMask (bits: number): void {
    const db = this.doorbells()
    // The pending interrupt fires after the unmasking write, not inside it.
    for (const v of db.clearMask(bits)) queueMicrotask(() => { if (!this.disposed && db.due(v)) this.dbEvent(v) })
  }

  /**
   * Rings doorbell slot b + 1 for every bit b: writes DB_DATA(n) at
   * DB_ENTRY_SIZE * n + DB_OFFSET(n) of the doorbell BAR, which the board
   * maps onto the peer's MSI n. DB_DATA and DB_OFFSET are read at each ring:
   * the board writes them when the peer configures its doorbells.
   */
  peerDbSet (bits: number): void {
    const { dbEntrySize, mwCount, mw1Offset } = this.layout()
    this.doorbells().check(bits, 'peer_db_set')
    if (bits === 0) return
    const bar = this.bar(R.BAR_DB_MW1)
    const end = mwCount > 0 ? mw1Offset : bar.size
    // One bit, as the transports ring per kick: no lists on this path.
    if ((bits & (bits - 1)) === 0) {
      const n = 32 - Math.clz32(bits)
      const at = this.dbSlotAt(n, dbEntrySize, end)
      bar.window.write32(at, this.ctrl.read32(R.DB_DATA(n)))
      this.counts.peerDbRings++
      return
    }
    // Every slot is checked before any is rung: a refused call rings none.
    const rings = vectorsOf(bits).map((b) => {
      const at = this.dbSlotAt(b + 1, dbEntrySize, end)
      return { at, data: this.ctrl.read32(R.DB_DATA(b + 1)) }
    })
    for (const r of rings) {
      bar.window.write32(r.at, r.data)
      this.counts.peerDbRings++
    }
  }

  spadCount (): number { return this.layout().spadCount }

  spadRead (idx: number): number { return this.ctrl.read32(this.spadAt(idx, 'spad_read')) }
  spadWrite (idx: number, value: number): void {
    this.ctrl.write32(this.spadAt(idx, 'spad_write'), u32(value, 'spad_write'))
    this.spadWrites.own++
  }

  peerSpadRead (idx: number): number {
    return this.bar(R.BAR_PEER_SPAD).window.read32(this.peerSpadAt(idx, 'peer_spad_read'))
  }

  peerSpadWrite (idx: number, value: number): void {
    this.bar(R.BAR_PEER_SPAD).window.write32(this.peerSpadAt(idx, 'peer_spad_write'), u32(value, 'peer_spad_write'))
    this.spadWrites.peer++
  }

  get counters (): NtbHwEpfCounters { return { ...this.commands.counters, ...this.counts } }

  state (): NtbHwEpfState {
    const info = this.info
    const db = this.db
    const peerSpad = this.fn.bars.find((b) => b.index === R.BAR_PEER_SPAD)
    const spadCount = info?.spadCount ?? 0
    const peerSpads = peerSpad === undefined ? 0 : Math.min(spadCount, Math.floor(peerSpad.size / 4))
    return {
      name: this.name,
      peer: this.peer,
      ready: info !== null,
      link: this.linkIsUp(),
      vectors: info?.vectors ?? 0,
      dbCount: db?.count ?? 0,
      dbValidMask: db?.validMask ?? 0,
      dbBits: db?.read() ?? 0,
      dbMask: db?.readMask() ?? 0,
      mwCount: info?.mwCount ?? 0,
      translations: [...this.translations].sort(([a], [b]) => a - b).map(([widx, t]) => ({ widx, ...t })),
      peerMws: Array.from({ length: info?.mwCount ?? 0 }, (_, widx) => {
        const m = this.peerMwGetAddr(widx)
        return { widx, bar: R.mwBar(widx), base: m.base, size: m.size }
      }),
      spadCount,
      spads: Array.from({ length: spadCount }, (_, i) => this.spadRead(i)),
      peerSpads: Array.from({ length: peerSpads }, (_, i) => this.peerSpadRead(i)),
      counters: this.counters
    }
  }

  /** ntb_epf_vec_isr: vector 0 is the link, vector v >= 1 doorbell v - 1. */
  private interrupt (vector: number): void {
    this.counts.msis++
    if (vector === 0) {
      this.counts.linkEvents++
      this.emit('link')
      return
    }
    const db = this.db
    if (db === null || !Number.isInteger(vector) || vector < 1 || vector > db.count) {
      this.counts.spuriousMsis++
      return
    }
    if (db.ring(vector - 1)) this.dbEvent(vector - 1)
  }

  private dbEvent (vector: number): void {
    this.counts.dbEvents++
    this.emit('db', vector)
  }

  /** Where doorbell slot n is in the doorbell BAR; throws if past `end` (MW1 or the BAR's end). */
  private dbSlotAt (n: number, dbEntrySize: number, end: number): number {
    const at = dbEntrySize * n + this.ctrl.read32(R.DB_OFFSET(n))
    if (at + 4 > end) throw new OutOfRangeError(`peer_db_set: doorbell slot ${n} at 0x${at.toString(16)} is past the doorbell area (0x${end.toString(16)})`)
    return at
  }

  /** Where MW widx is: BAR widx + 2, MW1 after the doorbell slots. */
  private mwSpan (widx: number): { bar: EnumeratedBar, offset: number, size: number } {
    return mwSpanOf(this.layout(), widx, (i) => this.bar(i))
  }

  private spadAt (idx: number, what: string): number {
    const { spadOffset, spadCount } = this.layout()
    checkIndex(idx, spadCount, what)
    return spadOffset + 4 * idx
  }

  /** The kernel bounds the peer's scratchpads by this host's own count; so does this. */
  private peerSpadAt (idx: number, what: string): number {
    checkIndex(idx, this.layout().spadCount, what)
    return 4 * idx
  }

  private bar (index: number): EnumeratedBar {
    for (const bar of this.fn.bars) if (bar.index === index) return bar
    throw new UnavailableError(`${this.name}: BAR${index} is not implemented`)
  }

  private layout (): CtrlInfo {
    if (this.info === null) throw new UnavailableError(`${this.name} is not initialised (init() has not completed)`)
    return this.info
  }

  private doorbells (): DoorbellStatus {
    this.layout()
    return this.db!
  }
}
