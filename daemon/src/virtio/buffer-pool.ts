// Memory for rings and buffers on the driver side, handed out by the
// transport: the RFC's virtio_alloc_buffer() / virtio_free_buffer() ([P 12],
// virtio_config_ops alloc_buffer/free_buffer), over the bus addresses of the
// memory the driver owns (rc system memory, NTB memory window 0).
//
// FirstFitPool is a first-fit allocator over one range: free extents kept
// sorted by address, the first that fits is split, freed extents merge with
// their neighbours. Sizes round up to 16 bytes, so every block is 16-aligned
// as a descriptor table must be (virtio 1.x 2.7.5 and 2.7.10.1).

import { checkRange, type MemoryAccess } from '../mem/access.js'
import { ConflictError, OutOfRangeError } from '../errors.js'

export interface BufferPool {
  /** The memory the addresses point into. */
  readonly memory: MemoryAccess
  /** The bus address of `size` bytes aligned to `align` (a power of two, at least 16), or null if no run is free. */
  alloc (size: number, align?: number): number | null
  /** Gives back a block alloc() returned. */
  free (addr: number): void
}

export interface PoolCounters { allocs: number, frees: number, failures: number, bytesInUse: number }

const GRAIN = 16

interface Extent { addr: number, size: number }

export class FirstFitPool implements BufferPool {
  readonly counters: PoolCounters = { allocs: 0, frees: 0, failures: 0, bytesInUse: 0 }
  /** Free extents, sorted by address, never adjacent. */
  private readonly extents: Extent[]
  /** Size of every block handed out, by its address. */
  private readonly blocks = new Map<number, number>()

  /** Hands out [base, base + size) of `memory`; base must be 16-aligned. */
  constructor (readonly memory: MemoryAccess, readonly base: number, readonly size: number) {
    checkRange('buffer pool', memory.size, base, size)
    if (base % GRAIN !== 0) throw new OutOfRangeError(`buffer pool base ${base} is not a multiple of ${GRAIN}`)
    const usable = size - (size % GRAIN)
    this.extents = usable > 0 ? [{ addr: base, size: usable }] : []
  }

  /** Bytes not handed out (possibly in several runs). */
  get bytesFree (): number { return this.extents.reduce((n, e) => n + e.size, 0) }

  get blocksInUse (): number { return this.blocks.size }

  alloc (size: number, align = GRAIN): number | null {
    if (!Number.isSafeInteger(size) || size < 1) throw new OutOfRangeError(`allocation of ${size} bytes`)
    if (!Number.isSafeInteger(align) || align < GRAIN || (align & (align - 1)) !== 0) {
      throw new OutOfRangeError(`alignment ${align} is not a power of two of at least ${GRAIN}`)
    }
    const need = Math.ceil(size / GRAIN) * GRAIN
    for (let k = 0; k < this.extents.length; k++) {
      const e = this.extents[k]!
      const addr = Math.ceil(e.addr / align) * align
      const pad = addr - e.addr
      if (pad + need > e.size) continue
      const tail = { addr: addr + need, size: e.size - pad - need }
      const pieces = [{ addr: e.addr, size: pad }, tail].filter((p) => p.size > 0)
      this.extents.splice(k, 1, ...pieces)
      this.blocks.set(addr, need)
      this.counters.allocs++
      this.counters.bytesInUse += need
      return addr
    }
    this.counters.failures++
    return null
  }

  free (addr: number): void {
    const size = this.blocks.get(addr)
    if (size === undefined) throw new ConflictError(`address ${addr} is not a block of this pool`)
    this.blocks.delete(addr)
    this.counters.frees++
    this.counters.bytesInUse -= size
    // The first extent after the block, found by binary search.
    let lo = 0
    let hi = this.extents.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.extents[mid]!.addr < addr) lo = mid + 1
      else hi = mid
    }
    const before = this.extents[lo - 1]
    const after = this.extents[lo]
    const joinsBefore = before !== undefined && before.addr + before.size === addr
    const joinsAfter = after !== undefined && addr + size === after.addr
    if (joinsBefore && joinsAfter) {
      before.size += size + after.size
      this.extents.splice(lo, 1)
    } else if (joinsBefore) {
      before.size += size
    } else if (joinsAfter) {
      after.addr = addr
      after.size += size
    } else {
      this.extents.splice(lo, 0, { addr, size })
    }
  }
}
