// A MemoryAccess onto part of another MemoryAccess, by addresses of its own:
// [start, start + length) maps to [base, base + length) of the memory
// underneath. With start 0 it is what a driver gets from ioremap() of part
// of a BAR (an NTB memory window that starts MW1_OFFSET into the doorbell
// BAR); with start at a peer's physical address it is that peer's memory
// reached by the addresses its descriptors hold (ntb_vhost reading the
// virtio host's MW0, ntb_vhost_read/ntb_vhost_write). Every access outside
// the view is refused before it reaches the memory underneath, addresses
// below start included.

import { checkRange, type MemoryAccess } from './access.js'
import { OutOfRangeError } from '../errors.js'

export interface OffsetViewOptions {
  /** The view's first address (default 0). */
  start?: number
  /** What the view is, for errors (default "view at 0xBASE"). */
  name?: string
}

export class OffsetView implements MemoryAccess {
  readonly target: MemoryAccess
  readonly base: number
  readonly length: number
  readonly start: number
  /** The view's end, start + length: as a MemoryAccess it holds addresses below it. */
  readonly size: number
  private readonly name: string

  constructor (target: MemoryAccess, base: number, length: number, opts: OffsetViewOptions = {}) {
    const start = opts.start ?? 0
    this.name = opts.name ?? `view at 0x${base.toString(16)}`
    checkRange(this.name, target.size, base, length)
    if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(start + length)) {
      throw new OutOfRangeError(`${this.name}: address ${start} cannot start a ${length}-byte view`)
    }
    this.target = target
    this.base = base
    this.length = length
    this.start = start
    this.size = start + length
  }

  /** Whether [addr, addr + length) lies inside the view. */
  contains (addr: number, length: number): boolean {
    return Number.isSafeInteger(addr) && Number.isSafeInteger(length) && length >= 0 && addr >= this.start && addr + length <= this.size
  }

  read8 (addr: number): number { return this.target.read8(this.at(addr, 1)) }
  read16 (addr: number): number { return this.target.read16(this.at(addr, 2)) }
  read32 (addr: number): number { return this.target.read32(this.at(addr, 4)) }
  read64 (addr: number): number { return this.target.read64(this.at(addr, 8)) }
  read (addr: number, length: number): Uint8Array { return this.target.read(this.at(addr, length), length) }
  readInto (addr: number, into: Uint8Array): void { this.target.readInto(this.at(addr, into.length), into) }
  write8 (addr: number, value: number): void { this.target.write8(this.at(addr, 1), value) }
  write16 (addr: number, value: number): void { this.target.write16(this.at(addr, 2), value) }
  write32 (addr: number, value: number): void { this.target.write32(this.at(addr, 4), value) }
  write64 (addr: number, value: number): void { this.target.write64(this.at(addr, 8), value) }
  write (addr: number, bytes: Uint8Array): void { this.target.write(this.at(addr, bytes.length), bytes) }

  private at (addr: number, length: number): number {
    if (!this.contains(addr, length)) {
      throw new OutOfRangeError(`${length} bytes at 0x${addr.toString(16)} are outside the ${this.name} [0x${this.start.toString(16)}, 0x${this.size.toString(16)})`)
    }
    return this.base + addr - this.start
  }
}
