// A MemoryAccess onto [base, base + size) of another MemoryAccess: what a
// driver gets from ioremap() of part of a BAR (an NTB memory window that
// starts MW1_OFFSET into the doorbell BAR). Offsets are relative to base;
// accesses outside the view are refused before they reach the memory
// underneath.

import { checkRange, type MemoryAccess } from './access.js'

export class OffsetView implements MemoryAccess {
  readonly target: MemoryAccess
  readonly base: number
  readonly size: number

  constructor (target: MemoryAccess, base: number, size: number) {
    checkRange('view', target.size, base, size)
    this.target = target
    this.base = base
    this.size = size
  }

  read8 (offset: number): number { return this.target.read8(this.at(offset, 1)) }
  read16 (offset: number): number { return this.target.read16(this.at(offset, 2)) }
  read32 (offset: number): number { return this.target.read32(this.at(offset, 4)) }
  read64 (offset: number): number { return this.target.read64(this.at(offset, 8)) }
  read (offset: number, length: number): Uint8Array { return this.target.read(this.at(offset, length), length) }
  readInto (offset: number, into: Uint8Array): void { this.target.readInto(this.at(offset, into.length), into) }
  write8 (offset: number, value: number): void { this.target.write8(this.at(offset, 1), value) }
  write16 (offset: number, value: number): void { this.target.write16(this.at(offset, 2), value) }
  write32 (offset: number, value: number): void { this.target.write32(this.at(offset, 4), value) }
  write64 (offset: number, value: number): void { this.target.write64(this.at(offset, 8), value) }
  write (offset: number, bytes: Uint8Array): void { this.target.write(this.at(offset, bytes.length), bytes) }

  private at (offset: number, length: number): number {
    checkRange(`view at 0x${this.base.toString(16)}`, this.size, offset, length)
    return this.base + offset
  }
}
