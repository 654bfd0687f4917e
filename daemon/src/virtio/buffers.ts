// What both driver rings (split and packed) share about a buffer before it
// goes into a ring: its segments, checked, and the memory for an indirect
// descriptor table (16-byte descriptors in both layouts).

import { checkRange } from '../mem/access.js'
import { RingError } from '../uapi/ring-error.js'

/** A run of guest memory: the driver reads it (out) or the device writes it (in). */
export interface Segment { readonly addr: number, readonly len: number }

/** A buffer the device has finished: the token given to add() and the bytes it wrote. */
export interface UsedBuf<T> { readonly token: T, readonly len: number }

/** Memory for indirect descriptor tables, in the ring's address space. */
export interface IndirectAllocator {
  /** The address of `bytes` bytes, 16-aligned, or null to fall back to direct descriptors. */
  alloc (bytes: number): number | null
  free (addr: number, bytes: number): void
}

export interface VirtqueueCounters {
  added: number
  used: number
  kicks: number
  kicksSuppressed: number
  full: number
  indirect: number
}

const U32_MAX = 0xffff_ffff
/** Both struct vring_desc and struct vring_packed_desc. */
const DESC_SIZE = 16

/**
 * The out segments then the in segments, each a u64 address and a u32
 * length, at least one and at most the ring's size (`rule` cites the spec).
 */
export function bufferSegments (out: readonly Segment[], inn: readonly Segment[], num: number, rule: string): Segment[] {
  const segs = [...out, ...inn]
  if (segs.length === 0) throw new RingError('ERR_RING', 'a buffer needs at least one segment')
  if (segs.length > num) throw new RingError('ERR_RING', `${segs.length} segments are more than the ring's ${num} (${rule})`)
  for (const s of segs) {
    if (!Number.isSafeInteger(s.addr) || s.addr < 0 || !Number.isInteger(s.len) || s.len < 0 || s.len > U32_MAX) {
      throw new RingError('ERR_RING', `segment {addr ${s.addr}, len ${s.len}} is not a u64 address and a u32 length`)
    }
  }
  return segs
}

/** An indirect table for `total` descriptors, or undefined to use direct ones. */
export function allocIndirectTable (allocator: IndirectAllocator | undefined, memSize: number, total: number): { addr: number, bytes: number } | undefined {
  if (allocator === undefined) return undefined
  const bytes = DESC_SIZE * total
  const addr = allocator.alloc(bytes)
  if (addr === null) return undefined
  try {
    checkRange('indirect table', memSize, addr, bytes)
  } catch (err) {
    allocator.free(addr, bytes)
    throw err
  }
  return { addr, bytes }
}
