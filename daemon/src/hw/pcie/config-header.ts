// The PCI type-0 configuration header (PCI Local Bus Spec 3.0 §6.1, offsets
// as in Linux include/uapi/linux/pci_regs.h) and the config space an endpoint
// owns: read-only ids, BARs that answer the sizing protocol (§6.2.5.1), and
// the few registers the root complex may change.

import type { MemoryAccess } from '../../mem/access.js'
import type { Region } from '../../mem/region.js'
import type { RegionTable } from '../../mem/region-table.js'
import { OutOfRangeError } from '../../errors.js'

export const PCI_VENDOR_ID = 0x00
export const PCI_DEVICE_ID = 0x02
export const PCI_COMMAND = 0x04
export const PCI_COMMAND_IO = 0x1
export const PCI_COMMAND_MEMORY = 0x2
export const PCI_COMMAND_MASTER = 0x4
export const PCI_COMMAND_INTX_DISABLE = 0x400
export const PCI_STATUS = 0x06
export const PCI_STATUS_INTERRUPT = 0x08
export const PCI_REVISION_ID = 0x08
export const PCI_CLASS_PROG = 0x09
export const PCI_CLASS_DEVICE = 0x0a
export const PCI_HEADER_TYPE = 0x0e
export const PCI_HEADER_TYPE_MASK = 0x7f
export const PCI_HEADER_TYPE_NORMAL = 0
export const PCI_BASE_ADDRESS_0 = 0x10
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c
export const PCI_SUBSYSTEM_ID = 0x2e
export const PCI_INTERRUPT_LINE = 0x3c
export const PCI_INTERRUPT_PIN = 0x3d
export const PCI_BASE_ADDRESS_SPACE_IO = 0x1
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x4
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x8
export const PCI_STD_HEADER_SIZEOF = 64
export const PCI_STD_NUM_BARS = 6
/** A PCIe function's configuration space (PCI_CFG_SPACE_EXP_SIZE). */
export const PCI_CFG_SPACE_EXP_SIZE = 4096

const TWO32 = 0x1_0000_0000

export interface FunctionIds {
  vendorId: number
  deviceId: number
  revisionId: number
  /** 24 bits: base class << 16 | subclass << 8 | programming interface. */
  classCode: number
  subsystemVendorId: number
  subsystemId: number
  /** 0 none, 1..4 INTA..INTD. */
  interruptPin: number
}

export interface BarSpec { size: number, flags: number }

export interface FunctionHeader extends FunctionIds {
  /** Six entries; a 64-bit BAR leaves the next entry null (it holds the upper half). */
  bars: Array<BarSpec | null>
}

/** What a config read shows: ids plus the registers the rc programs. */
export interface HeaderView extends FunctionIds {
  command: number
  status: number
  headerType: number
  interruptLine: number
  /** The six BAR registers as they read now. */
  barRegisters: number[]
}

export const barOffset = (n: number): number => PCI_BASE_ADDRESS_0 + 4 * n

/** Low bits of a BAR that are flags, not address (§6.2.5.1). */
export const barFlagMask = (flags: number): number => (flags & PCI_BASE_ADDRESS_SPACE_IO) !== 0 ? 0x3 : 0xf

/** The two halves of ~(size - 1) for a power-of-two size. */
function sizeMask (size: number): { low: number, high: number } {
  return size < TWO32 ? { low: TWO32 - size, high: 0xffff_ffff } : { low: 0, high: TWO32 - size / TWO32 }
}

/** What a BAR reads after 0xFFFFFFFF is written to it: the low and (64-bit) high register. */
export function sizingResponse (bar: BarSpec): { low: number, high: number } {
  const m = sizeMask(bar.size)
  return { low: ((m.low & ~barFlagMask(bar.flags)) | bar.flags) >>> 0, high: m.high }
}

/** Decodes a sizing response (Linux drivers/pci/probe.c __pci_read_base); null if the BAR is not implemented. */
export function decodeSizing (low: number, high = 0): BarSpec | null {
  const flags = low & barFlagMask(low)
  const maskLow = (low & ~barFlagMask(low)) >>> 0
  const is64 = (flags & (PCI_BASE_ADDRESS_SPACE_IO | PCI_BASE_ADDRESS_MEM_TYPE_64)) === PCI_BASE_ADDRESS_MEM_TYPE_64
  if (is64 && high !== 0xffff_ffff && high !== 0) return { size: (TWO32 - high) * TWO32, flags }
  if (maskLow === 0 && !(is64 && high === 0xffff_ffff)) return null
  return { size: TWO32 - maskLow, flags }
}

export function writeHeader (mem: MemoryAccess, h: FunctionHeader): void {
  mem.write16(PCI_VENDOR_ID, h.vendorId)
  mem.write16(PCI_DEVICE_ID, h.deviceId)
  mem.write8(PCI_REVISION_ID, h.revisionId)
  mem.write8(PCI_CLASS_PROG, h.classCode & 0xff)
  mem.write16(PCI_CLASS_DEVICE, (h.classCode >>> 8) & 0xffff)
  mem.write8(PCI_HEADER_TYPE, PCI_HEADER_TYPE_NORMAL)
  for (let n = 0; n < PCI_STD_NUM_BARS; n++) mem.write32(barOffset(n), h.bars[n]?.flags ?? 0)
  mem.write16(PCI_SUBSYSTEM_VENDOR_ID, h.subsystemVendorId)
  mem.write16(PCI_SUBSYSTEM_ID, h.subsystemId)
  mem.write8(PCI_INTERRUPT_PIN, h.interruptPin)
}

export function readHeader (mem: MemoryAccess): HeaderView {
  return {
    vendorId: mem.read16(PCI_VENDOR_ID),
    deviceId: mem.read16(PCI_DEVICE_ID),
    revisionId: mem.read8(PCI_REVISION_ID),
    classCode: mem.read16(PCI_CLASS_DEVICE) * 0x100 + mem.read8(PCI_CLASS_PROG),
    subsystemVendorId: mem.read16(PCI_SUBSYSTEM_VENDOR_ID),
    subsystemId: mem.read16(PCI_SUBSYSTEM_ID),
    interruptPin: mem.read8(PCI_INTERRUPT_PIN),
    command: mem.read16(PCI_COMMAND),
    status: mem.read16(PCI_STATUS),
    headerType: mem.read8(PCI_HEADER_TYPE),
    interruptLine: mem.read8(PCI_INTERRUPT_LINE),
    barRegisters: Array.from({ length: PCI_STD_NUM_BARS }, (_, n) => mem.read32(barOffset(n)))
  }
}

/** Checks a header's BAR list: powers of two, 64-bit BARs followed by a free slot. */
export function checkBars (bars: Array<BarSpec | null>): void {
  if (bars.length !== PCI_STD_NUM_BARS) throw new OutOfRangeError(`a type-0 header has ${PCI_STD_NUM_BARS} BARs, not ${bars.length}`)
  bars.forEach((b, n) => {
    if (b === null) return
    const min = (b.flags & PCI_BASE_ADDRESS_SPACE_IO) !== 0 ? 4 : 16
    if (!isPow2(b.size) || b.size < min) throw new OutOfRangeError(`BAR${n}: size ${b.size} is not a power of two of at least ${min}`)
    if (b.size > TWO32 / 2 && (b.flags & (PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_SPACE_IO)) !== PCI_BASE_ADDRESS_MEM_TYPE_64) {
      throw new OutOfRangeError(`BAR${n}: size ${b.size} needs a 64-bit memory BAR`)
    }
    if ((b.flags & ~barFlagMask(b.flags)) !== 0 || ((b.flags & PCI_BASE_ADDRESS_SPACE_IO) !== 0 && (b.flags & 0x2) !== 0)) {
      throw new OutOfRangeError(`BAR${n}: flags 0x${b.flags.toString(16)} are not BAR flag bits`)
    }
    if ((b.flags & PCI_BASE_ADDRESS_MEM_TYPE_64) !== 0 && (b.flags & PCI_BASE_ADDRESS_SPACE_IO) === 0 && (n === 5 || bars[n + 1] !== null)) {
      throw new OutOfRangeError(`BAR${n} is 64-bit: BAR${n + 1} must be free for its upper half`)
    }
  })
}

const isPow2 = (x: number): boolean => Number.isSafeInteger(x) && x > 0 && 2 ** Math.round(Math.log2(x)) === x

/** Marks this daemon's own corrections, which the observer lets through. */
const SELF = Symbol('config space')

/** Header bytes the rc may write outside the BARs: COMMAND and INTERRUPT_LINE (§6.2.2, §6.2.4). */
const writableByte = (i: number): boolean => i === PCI_COMMAND || i === PCI_COMMAND + 1 || i === PCI_INTERRUPT_LINE

/**
 * An endpoint function's config space: a Region the rc reads and writes
 * through its window. Writes from peers go through the register rules: ids
 * and flags are read-only, a BAR written with 0xFFFFFFFF reads back its size
 * mask, any other value is kept as an address aligned to the BAR's size.
 * Bytes past the standard header are plain memory.
 */
export class ConfigSpace {
  readonly region: Region
  readonly header: FunctionHeader
  private readonly regions: RegionTable
  private readonly stopObserving: () => void
  /** Called after the rc wrote COMMAND (the endpoint acts on Interrupt Disable). */
  onCommand: ((command: number) => void) | null = null
  /** The header as the register rules last left it. */
  private shadow: Buffer

  constructor (regions: RegionTable, name: string, header: FunctionHeader) {
    checkBars(header.bars)
    this.regions = regions
    this.header = { ...header, bars: header.bars.map((b) => b === null ? null : { ...b }) }
    this.region = regions.create(name, PCI_CFG_SPACE_EXP_SIZE)
    writeHeader(this.region, this.header)
    this.region.markRegisters(0, this.region.size)
    this.shadow = Buffer.from(this.region.read(0, PCI_STD_HEADER_SIZEOF))
    this.stopObserving = this.region.observe((offset, length, origin) => { this.onWrite(offset, length, origin) })
  }

  get command (): number { return this.region.read16(PCI_COMMAND) }

  /** The bus address the rc gave BAR `n` (0 while unassigned). */
  barAddress (n: number): number {
    const bar = this.header.bars[n]
    if (bar == null) return 0
    const low = this.region.read32(barOffset(n)) & ~barFlagMask(bar.flags)
    const is64 = (bar.flags & (PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_SPACE_IO)) === PCI_BASE_ADDRESS_MEM_TYPE_64
    return (is64 ? this.region.read32(barOffset(n + 1)) * TWO32 : 0) + (low >>> 0)
  }

  /**
   * Sets or clears Status.Interrupt Status: the function's interrupt state,
   * which Interrupt Disable does not change (§6.2.3).
   */
  setInterruptStatus (asserted: boolean): void {
    const s = this.region.read16(PCI_STATUS)
    const b = Buffer.alloc(2)
    b.writeUInt16LE(asserted ? s | PCI_STATUS_INTERRUPT : s & ~PCI_STATUS_INTERRUPT, 0)
    this.region.writeFrom(PCI_STATUS, b, SELF)
  }

  dispose (): void {
    this.stopObserving()
    if (this.regions.find(this.region.name) === this.region) this.regions.remove(this.region.name)
  }

  private onWrite (offset: number, length: number, origin: unknown): void {
    if (offset >= PCI_STD_HEADER_SIZEOF) return
    if (origin === null || origin === SELF) {
      this.shadow = Buffer.from(this.region.read(0, PCI_STD_HEADER_SIZEOF))
      return
    }
    const now = Buffer.from(this.region.read(0, PCI_STD_HEADER_SIZEOF))
    const fixed = Buffer.from(now)
    const end = Math.min(offset + length, PCI_STD_HEADER_SIZEOF)
    for (let i = offset; i < end; i++) if (!writableByte(i)) fixed[i] = this.shadow[i]!
    for (let n = 0; n < PCI_STD_NUM_BARS; n++) {
      const at = barOffset(n)
      if (at < end && at + 4 > offset) fixed.writeUInt32LE(this.barValue(n, now.readUInt32LE(at)), at)
    }
    this.shadow = fixed
    if (!fixed.equals(now)) this.region.writeFrom(0, fixed, SELF)
    if (offset <= PCI_COMMAND + 1 && end > PCI_COMMAND) this.onCommand?.(fixed.readUInt16LE(PCI_COMMAND))
  }

  private barValue (n: number, written: number): number {
    const bar = this.header.bars[n]
    const lower = n > 0 ? this.header.bars[n - 1] : null
    if (bar != null) {
      if (written === 0xffff_ffff) return sizingResponse(bar).low
      return ((written & sizeMask(bar.size).low & ~barFlagMask(bar.flags)) | bar.flags) >>> 0
    }
    if (lower != null && (lower.flags & (PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_SPACE_IO)) === PCI_BASE_ADDRESS_MEM_TYPE_64) {
      const high = sizeMask(lower.size).high
      return written === 0xffff_ffff ? high : (written & high) >>> 0
    }
    return 0
  }
}
