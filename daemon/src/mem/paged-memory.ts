// Sparse little-endian memory: pages are allocated when first written, and
// unwritten bytes read as zero, so a region may be far larger than what is
// in use (rc system memory, NTB windows).

import { checkRange, checkU64, joinU64, type MemoryAccess } from './access.js'

export const PAGE_SIZE = 4096
const PAGE_MASK = PAGE_SIZE - 1

export abstract class PagedMemory implements MemoryAccess {
  readonly size: number
  private readonly pages = new Map<number, Buffer>()
  private readonly scratch = Buffer.alloc(8)

  constructor (size: number) {
    checkRange('memory', Number.MAX_SAFE_INTEGER, 0, size)
    this.size = size
  }

  /** Names this memory in errors. */
  protected abstract get what (): string

  /** Stores bytes after the caller's checks; subclasses decide what else a write does. */
  abstract write (offset: number, bytes: Uint8Array): void

  get populatedPages (): number { return this.pages.size }

  /** Populated page numbers in ascending order. */
  populated (): number[] {
    return [...this.pages.keys()].sort((a, b) => a - b)
  }

  protected check (offset: number, length: number): void {
    checkRange(this.what, this.size, offset, length)
  }

  /** Copies bytes in without checks or side effects. */
  protected store (offset: number, bytes: Uint8Array): void {
    const inFirst = offset & PAGE_MASK
    if (inFirst + bytes.length <= PAGE_SIZE) {
      // The common case, a write within one page: no view of the source.
      this.pageAt(Math.floor(offset / PAGE_SIZE)).set(bytes, inFirst)
      return
    }
    let done = 0
    while (done < bytes.length) {
      const at = offset + done
      const page = this.pageAt(Math.floor(at / PAGE_SIZE))
      const inPage = at & PAGE_MASK
      const n = Math.min(PAGE_SIZE - inPage, bytes.length - done)
      page.set(bytes.subarray(done, done + n), inPage)
      done += n
    }
  }

  /** The page, allocated (zeroed) if it was never written. */
  private pageAt (pageNo: number): Buffer {
    let page = this.pages.get(pageNo)
    if (page === undefined) {
      page = Buffer.alloc(PAGE_SIZE)
      this.pages.set(pageNo, page)
    }
    return page
  }

  /** Drops every page: all bytes read as zero again. */
  protected clear (): void {
    this.pages.clear()
  }

  readInto (offset: number, into: Uint8Array): void {
    this.check(offset, into.length)
    let done = 0
    while (done < into.length) {
      const at = offset + done
      const page = this.pages.get(Math.floor(at / PAGE_SIZE))
      const inPage = at & PAGE_MASK
      const n = Math.min(PAGE_SIZE - inPage, into.length - done)
      if (page === undefined) into.fill(0, done, done + n)
      else page.copy(into, done, inPage, inPage + n)
      done += n
    }
  }

  read (offset: number, length: number): Uint8Array {
    this.check(offset, length)
    const out = Buffer.allocUnsafe(length)
    this.readInto(offset, out)
    return out
  }

  /** The page holding [offset, offset + width) if the access stays in one page. */
  private pageFor (offset: number, width: number): Buffer | null | undefined {
    this.check(offset, width)
    if ((offset & PAGE_MASK) + width > PAGE_SIZE) return null
    return this.pages.get(Math.floor(offset / PAGE_SIZE))
  }

  private readSmall (offset: number, width: number): Buffer {
    this.readInto(offset, this.scratch.subarray(0, width))
    return this.scratch
  }

  read8 (offset: number): number {
    const p = this.pageFor(offset, 1)
    return p === undefined ? 0 : p === null ? this.readSmall(offset, 1)[0]! : p[offset & PAGE_MASK]!
  }

  read16 (offset: number): number {
    const p = this.pageFor(offset, 2)
    return p === undefined ? 0 : p === null ? this.readSmall(offset, 2).readUInt16LE(0) : p.readUInt16LE(offset & PAGE_MASK)
  }

  read32 (offset: number): number {
    const p = this.pageFor(offset, 4)
    return p === undefined ? 0 : p === null ? this.readSmall(offset, 4).readUInt32LE(0) : p.readUInt32LE(offset & PAGE_MASK)
  }

  read64 (offset: number): number {
    const b = this.readSmall(offset, 8)
    return joinU64(b.readUInt32LE(0), b.readUInt32LE(4), this.what)
  }

  // Small writes go through one scratch buffer per width: write() copies
  // the bytes in before it returns and observers are told ranges, not
  // bytes. A small write made while another is inside write() (an
  // observer's side effect) gets a buffer of its own.
  write8 (offset: number, value: number): void {
    const b = this.scratchFor(this.w1)
    b[0] = value
    this.writeScratch(offset, b)
  }

  write16 (offset: number, value: number): void {
    const b = this.scratchFor(this.w2)
    b.writeUInt16LE(value & 0xffff, 0)
    this.writeScratch(offset, b)
  }

  write32 (offset: number, value: number): void {
    const b = this.scratchFor(this.w4)
    b.writeUInt32LE(value >>> 0, 0)
    this.writeScratch(offset, b)
  }

  write64 (offset: number, value: number): void {
    checkU64(value)
    const b = this.scratchFor(this.w8)
    b.writeUInt32LE(value >>> 0, 0)
    b.writeUInt32LE(Math.floor(value / 0x1_0000_0000), 4)
    this.writeScratch(offset, b)
  }

  private readonly w1 = Buffer.alloc(1)
  private readonly w2 = Buffer.alloc(2)
  private readonly w4 = Buffer.alloc(4)
  private readonly w8 = Buffer.alloc(8)
  private scratchBusy = false

  private scratchFor (b: Buffer): Buffer {
    return this.scratchBusy ? Buffer.allocUnsafe(b.length) : b
  }

  private writeScratch (offset: number, b: Buffer): void {
    if (this.scratchBusy) { this.write(offset, b); return }
    this.scratchBusy = true
    try { this.write(offset, b) } finally { this.scratchBusy = false }
  }
}
