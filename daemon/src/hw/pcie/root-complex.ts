// The root complex side of the PCIe link: system memory the endpoint reaches
// through its outbound windows, MSI / INTx targets, and enumeration of the
// function behind each endpoint peer when its link comes up (config reads,
// BAR sizing and assignment as Linux drivers/pci/probe.c and setup-bus.c
// do), ending in windows onto the function's BARs. An enumeration that
// timed out (the endpoint did not answer) is tried again with backoff while
// the peer's link is up (bring-up-retry.ts).

import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { DoorbellTable } from '../../link/doorbells.js'
import type { Region } from '../../mem/region.js'
import type { RegionTable } from '../../mem/region-table.js'
import type { Requester } from '../../mem/requester.js'
import type { Window } from '../../mem/window.js'
import { SoclinkError, UnavailableError } from '../../errors.js'
import {
  PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_MEM_TYPE_64, PCI_BASE_ADDRESS_SPACE_IO, PCI_CFG_SPACE_EXP_SIZE, PCI_COMMAND,
  PCI_COMMAND_IO, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_HEADER_TYPE_MASK, PCI_HEADER_TYPE_NORMAL, PCI_STD_NUM_BARS,
  barFlagMask, barOffset, decodeSizing, readHeader, type FunctionIds
} from './config-header.js'
import { BusAllocator } from './bus-allocator.js'
import { BringUpRetry, retriable } from '../bring-up-retry.js'
import { CFG_REGION, INTX_DOORBELL, MSI_DOORBELL, SYSMEM_REGION, barRegion } from './endpoint-controller.js'

const TWO32 = 0x1_0000_0000

export interface RootComplexOptions {
  regions: RegionTable
  requester: Requester
  doorbells: DoorbellTable
  /** Size of system memory (sparse), the region pcie.sysmem. */
  memorySize: number
  logger: Logger
  /** Where memory BARs are placed on the bus (default 0x4000_0000) and I/O BARs (default 0x1000). */
  memBase?: number
  ioBase?: number
}

export interface EnumeratedBar {
  index: number
  size: number
  flags: number
  busAddress: number
  /** The rc's replica window onto the function's pcie.bar<index>. */
  window: Window
}

export interface EndpointFunction {
  peer: string
  header: FunctionIds
  /** The rc's window onto the function's config space. */
  config: Window
  bars: EnumeratedBar[]
}

export interface RootComplexEvents {
  enumerated: [EndpointFunction]
  removed: [peer: string, reason: string]
  failed: [peer: string, message: string]
  msi: [peer: string, vector: number]
  intx: [peer: string, level: boolean]
}

interface Slot {
  peer: string
  state: 'enumerating' | 'ready' | 'failed'
  lastError: string
  fn: EndpointFunction | null
  windows: Window[]
  addresses: Array<{ io: boolean, base: number }>
  msi: number
  intx: boolean
  /** Enumeration tried again after a timeout, while the slot lasts. */
  retry: BringUpRetry
}

export interface FunctionState extends Partial<FunctionIds> {
  peer: string
  state: Slot['state']
  lastError: string
  /** A failed enumeration will be tried again (it timed out; the link is up). */
  retrying: boolean
  bars: Array<{ index: number, size: number, flags: number, busAddress: number, window: number }>
  msi: number
  intx: boolean
}

export class RootComplex extends EventEmitter<RootComplexEvents> {
  readonly sysmem: Region
  private readonly opts: RootComplexOptions
  private readonly slots = new Map<string, Slot>()
  private readonly mem: BusAllocator
  private readonly io: BusAllocator
  private readonly msiListeners = new Map<string, Set<(vector: number) => void>>()
  private readonly intxListeners = new Map<string, Set<(level: boolean) => void>>()
  /** Interrupts from peers with no enumerated function. */
  spurious = 0

  constructor (opts: RootComplexOptions) {
    super()
    this.opts = opts
    this.mem = new BusAllocator(opts.memBase ?? 0x4000_0000, Number.MAX_SAFE_INTEGER)
    this.io = new BusAllocator(opts.ioBase ?? 0x1000, 0x1_0000)
    this.sysmem = opts.regions.create(SYSMEM_REGION, opts.memorySize)
    opts.doorbells.declare(MSI_DOORBELL, (peer, value) => { this.interrupt(peer, 'msi', value) })
    opts.doorbells.declare(INTX_DOORBELL, (peer, value) => { this.interrupt(peer, 'intx', value) })
  }

  /** Listens for MSIs from `peer`'s function; returns the way to stop. */
  onMsi (peer: string, l: (vector: number) => void): () => void {
    return listen(this.msiListeners, peer, l)
  }

  onIntx (peer: string, l: (level: boolean) => void): () => void {
    return listen(this.intxListeners, peer, l)
  }

  /** A LinkEvent{link: 'pcie'} from `peer`: enumerate on up, remove on down. */
  linkEvent (peer: string, up: boolean, reason = ''): void {
    this.peerDown(peer, up ? 'link retrained' : reason !== '' ? reason : 'link down')
    if (!up) return
    const slot: Slot = { peer, state: 'enumerating', lastError: '', fn: null, windows: [], addresses: [], msi: 0, intx: false, retry: new BringUpRetry() }
    this.slots.set(peer, slot)
    this.enumerate(slot).catch((err: unknown) => { this.enumerationFailed(slot, err) })
  }

  /** The peer's function is gone (its link event, or the session with it ended). */
  peerDown (peer: string, reason = 'peer down'): void {
    const slot = this.slots.get(peer)
    if (slot === undefined) return
    this.slots.delete(peer)
    slot.retry.cancel()
    this.release(slot)
    if (slot.fn !== null) {
      this.opts.logger.info({ peer, reason }, 'pcie function removed')
      this.emit('removed', peer, reason)
    }
  }

  /** The function found behind `peer`, once enumerated. */
  functionOf (peer: string): EndpointFunction | null {
    return this.slots.get(peer)?.fn ?? null
  }

  /** Which BAR decodes a bus address, and the offset in it. */
  resolve (busAddress: number): { peer: string, bar: EnumeratedBar, offset: number } | null {
    for (const s of this.slots.values()) {
      for (const bar of s.fn?.bars ?? []) {
        if (busAddress >= bar.busAddress && busAddress < bar.busAddress + bar.size) return { peer: s.peer, bar, offset: busAddress - bar.busAddress }
      }
    }
    return null
  }

  state (): { memorySize: number, region: string, spurious: number, functions: FunctionState[] } {
    const functions = [...this.slots.values()].map((s) => ({
      peer: s.peer,
      state: s.state,
      lastError: s.lastError,
      retrying: s.retry.pending,
      ...(s.fn?.header ?? {}),
      bars: (s.fn?.bars ?? []).map((b) => ({ index: b.index, size: b.size, flags: b.flags, busAddress: b.busAddress, window: b.window.id })),
      msi: s.msi,
      intx: s.intx
    }))
    return { memorySize: this.sysmem.size, region: this.sysmem.name, spurious: this.spurious, functions }
  }

  /** Removes every function, the doorbell targets and system memory. */
  destroy (): void {
    for (const peer of [...this.slots.keys()]) this.peerDown(peer, 'root complex destroyed')
    this.opts.doorbells.remove(MSI_DOORBELL)
    this.opts.doorbells.remove(INTX_DOORBELL)
    if (this.opts.regions.find(SYSMEM_REGION) === this.sysmem) this.opts.regions.remove(SYSMEM_REGION)
  }

  private interrupt (peer: string, kind: 'msi' | 'intx', value: number): void {
    const slot = this.slots.get(peer)
    if (slot?.fn == null) this.spurious++
    if (kind === 'msi') {
      if (slot !== undefined) slot.msi++
      for (const l of this.msiListeners.get(peer) ?? []) l(value)
      this.emit('msi', peer, value)
    } else {
      if (slot !== undefined) slot.intx = value !== 0
      for (const l of this.intxListeners.get(peer) ?? []) l(value !== 0)
      this.emit('intx', peer, value !== 0)
    }
  }

  private async enumerate (slot: Slot): Promise<void> {
    const rq = this.opts.requester
    const cfg = this.open(slot, CFG_REGION, PCI_CFG_SPACE_EXP_SIZE)
    await rq.opened(cfg)
    this.current(slot)
    const h = readHeader(cfg)
    if (h.vendorId === 0xffff || h.vendorId === 0) throw new UnavailableError(`no function behind ${slot.peer} (vendor id 0x${h.vendorId.toString(16)})`)
    if ((h.headerType & PCI_HEADER_TYPE_MASK) !== PCI_HEADER_TYPE_NORMAL) throw new UnavailableError(`header type ${h.headerType} is not a type-0 function`)
    // Decode off while the BARs hold size masks (probe.c __pci_read_base).
    cfg.write16(PCI_COMMAND, h.command & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY))
    const found: Array<{ index: number, size: number, flags: number, busAddress: number }> = []
    for (let n = 0; n < PCI_STD_NUM_BARS; n++) {
      const at = barOffset(n)
      const original = cfg.read32(at)
      cfg.write32(at, 0xffff_ffff)
      const low = u32(await rq.readRemote(cfg, at, 4))
      const is64 = (low & (PCI_BASE_ADDRESS_SPACE_IO | PCI_BASE_ADDRESS_MEM_TYPE_64)) === PCI_BASE_ADDRESS_MEM_TYPE_64 && n < PCI_STD_NUM_BARS - 1
      let high = 0
      const originalHigh = is64 ? cfg.read32(at + 4) : 0
      if (is64) {
        cfg.write32(at + 4, 0xffff_ffff)
        high = u32(await rq.readRemote(cfg, at + 4, 4))
      }
      this.current(slot)
      cfg.write32(at, original)
      if (is64) cfg.write32(at + 4, originalHigh)
      const bar = decodeSizing(low, high)
      if (bar !== null) found.push({ index: n, ...bar, busAddress: 0 })
      if (is64) n++
    }
    // Largest first, as setup-bus.c sorts by alignment.
    let command = h.command | PCI_COMMAND_MASTER
    for (const bar of [...found].sort((a, b) => b.size - a.size)) {
      const io = (bar.flags & PCI_BASE_ADDRESS_SPACE_IO) !== 0
      const base = (io ? this.io : this.mem).alloc(bar.size)
      if (base === null || (!io && (bar.flags & PCI_BASE_ADDRESS_MEM_TYPE_64) === 0 && base + bar.size > TWO32)) {
        throw new UnavailableError(`no bus space for BAR${bar.index} (${bar.size} bytes)`)
      }
      slot.addresses.push({ io, base })
      bar.busAddress = base
      cfg.write32(barOffset(bar.index), base % TWO32)
      if ((bar.flags & (PCI_BASE_ADDRESS_SPACE_IO | PCI_BASE_ADDRESS_MEM_TYPE_64)) === PCI_BASE_ADDRESS_MEM_TYPE_64) {
        cfg.write32(barOffset(bar.index + 1), Math.floor(base / TWO32))
      }
      command |= io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY
    }
    cfg.write16(PCI_COMMAND, command)
    // A non-posted read completes after the writes above: what the function kept.
    const regs = Buffer.from(await rq.readRemote(cfg, PCI_BASE_ADDRESS_0, 4 * PCI_STD_NUM_BARS))
    this.current(slot)
    for (const bar of found) {
      const kept = regs.readUInt32LE(4 * bar.index) & ~barFlagMask(bar.flags)
      if (kept >>> 0 !== bar.busAddress % TWO32) throw new UnavailableError(`BAR${bar.index} did not keep address 0x${bar.busAddress.toString(16)}`)
    }
    const bars = found.map((b) => ({ ...b, window: this.open(slot, barRegion(b.index), b.size) }))
    for (const b of bars) await rq.opened(b.window)
    this.current(slot)
    const { vendorId, deviceId, revisionId, classCode, subsystemVendorId, subsystemId, interruptPin } = h
    slot.fn = { peer: slot.peer, header: { vendorId, deviceId, revisionId, classCode, subsystemVendorId, subsystemId, interruptPin }, config: cfg, bars }
    slot.state = 'ready'
    slot.retry.reset()
    this.opts.logger.info({ peer: slot.peer, vendorId, deviceId, bars: bars.length }, 'pcie function enumerated')
    this.emit('enumerated', slot.fn)
  }

  private open (slot: Slot, region: string, size: number): Window {
    const w = this.opts.requester.open({ peer: slot.peer, region, offset: 0, size, replica: true })
    slot.windows.push(w)
    return w
  }

  /** Throws if the slot was removed while enumeration waited. */
  private current (slot: Slot): void {
    if (this.slots.get(slot.peer) !== slot) throw new Superseded()
  }

  private enumerationFailed (slot: Slot, err: unknown): void {
    this.release(slot)
    if (err instanceof Superseded || this.slots.get(slot.peer) !== slot) return
    // A peer's odd answers fail its slot, never the daemon.
    const message = err instanceof Error ? err.message : String(err)
    slot.state = 'failed'
    slot.lastError = message
    const retryMs = retriable(err) ? slot.retry.schedule(() => { this.retry(slot) }) : null
    this.opts.logger.warn({ peer: slot.peer, err: message, code: err instanceof SoclinkError ? err.code : undefined, retryMs }, 'pcie enumeration failed')
    this.emit('failed', slot.peer, message)
  }

  /** Enumerates the slot again, if it is still the peer's (no link event or link down since). */
  private retry (slot: Slot): void {
    if (this.slots.get(slot.peer) !== slot) return
    slot.state = 'enumerating'
    this.enumerate(slot).catch((err: unknown) => { this.enumerationFailed(slot, err) })
  }

  /** Closes the slot's windows and frees its bus addresses. */
  private release (slot: Slot): void {
    for (const w of slot.windows.splice(0)) if (w.state !== 'closed') this.opts.requester.close(w.id)
    for (const a of slot.addresses.splice(0)) (a.io ? this.io : this.mem).free(a.base)
  }
}

class Superseded extends Error {}

const u32 = (b: Uint8Array): number => Buffer.from(b.buffer, b.byteOffset, b.byteLength).readUInt32LE(0)

function listen<T> (m: Map<string, Set<(v: T) => void>>, peer: string, l: (v: T) => void): () => void {
  let set = m.get(peer)
  if (set === undefined) { set = new Set(); m.set(peer, set) }
  set.add(l)
  return () => { set.delete(l) }
}
