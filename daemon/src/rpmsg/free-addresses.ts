// The lowest free rpmsg address from a base up, in O(log n) per allocation
// and release, where idr_alloc(&vrp->endpoints, ept, RPMSG_RESERVED_ADDRESSES,
// 0, GFP_KERNEL) walks a radix tree (virtio_rpmsg_bus.c __rpmsg_create_ept()):
// a high-water mark `top` (every address from the base below it has been
// taken once) and a min-heap of the addresses below `top` given back since.
// Addresses taken at a fixed address go around it: the heap is checked
// lazily against `inUse`, and `top` steps over them. Pure.

export class FreeAddresses {
  private top: number
  private readonly heap: number[] = []
  /** The addresses in the heap, so none is pushed twice. */
  private readonly inHeap = new Set<number>()

  constructor (private readonly base: number, private readonly max: number, private readonly inUse: (addr: number) => boolean) {
    this.top = base
  }

  /** The lowest free address, or -1 if every one up to max is taken. Not yet taken: the caller takes it. */
  lowest (): number {
    while (this.heap.length > 0) {
      const a = this.heap[0]!
      if (!this.inUse(a)) return a
      this.pop()
    }
    while (this.top <= this.max && this.inUse(this.top)) this.top++
    return this.top <= this.max ? this.top : -1
  }

  /** `addr` was just taken (it was lowest()). */
  taken (addr: number): void {
    if (this.heap.length > 0 && this.heap[0] === addr) this.pop()
    else if (addr === this.top) this.top++
  }

  /** `addr` is free again. */
  released (addr: number): void {
    if (addr < this.base || addr >= this.top || this.inHeap.has(addr)) return
    this.inHeap.add(addr)
    const h = this.heap
    h.push(addr)
    let i = h.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (h[parent]! <= addr) break
      h[i] = h[parent]!
      i = parent
    }
    h[i] = addr
  }

  private pop (): void {
    const h = this.heap
    this.inHeap.delete(h[0]!)
    const last = h.pop()!
    if (h.length === 0) return
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= h.length) break
      const c = l + 1 < h.length && h[l + 1]! < h[l]! ? l + 1 : l
      if (h[c]! >= last) break
      h[i] = h[c]!
      i = c
    }
    h[i] = last
  }
}
