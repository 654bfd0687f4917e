// Bus address space for BARs: first fit, each range aligned to its own size
// (a BAR decodes naturally aligned addresses, PCI Local Bus Spec 3.0 §6.2.5.1).

interface Range { base: number, size: number }

export class BusAllocator {
  private readonly used: Range[] = []
  private readonly start: number
  private readonly limit: number

  constructor (start: number, limit: number) {
    this.start = start
    this.limit = limit
  }

  /** A base for `size` bytes (a power of two), or null when the space is full. */
  alloc (size: number): number | null {
    let at = alignUp(this.start, size)
    let i = 0
    for (; i < this.used.length; i++) {
      const u = this.used[i]!
      if (at + size <= u.base) break
      if (u.base + u.size > at) at = alignUp(u.base + u.size, size)
    }
    if (at + size > this.limit) return null
    this.used.splice(i, 0, { base: at, size })
    return at
  }

  free (base: number): void {
    const i = this.used.findIndex((u) => u.base === base)
    if (i >= 0) this.used.splice(i, 1)
  }

  get allocated (): Range[] { return this.used.map((u) => ({ ...u })) }
}

const alignUp = (x: number, align: number): number => Math.ceil(x / align) * align
