// Copies between a descriptor chain's segments and one byte array, as
// drivers/vhost/vringh.c's vringh_iov_pull_iotlb() and
// vringh_iov_push_iotlb() do for vhost drivers, through the device's
// access to driver memory (the RFC's vhost_read/vhost_write). A driver
// hands these the readable or writable segments of a buffer it took.

import type { Segment } from './vringh.js'

/** How a vhost device reaches driver memory (VhostDevice.read/write). */
export interface VhostMemoryAccess {
  read: (addr: number, length: number) => Uint8Array
  write: (addr: number, bytes: Uint8Array) => void
}

/** vringh_iov_pull: the `total` bytes of `segs`, joined (one segment is read as is). */
export function iovPull (mem: VhostMemoryAccess, segs: readonly Segment[], total: number): Uint8Array {
  if (segs.length === 1) return mem.read(segs[0]!.addr, segs[0]!.len)
  const out = new Uint8Array(total)
  let at = 0
  for (const s of segs) {
    out.set(mem.read(s.addr, s.len), at)
    at += s.len
  }
  return out
}

/**
 * vringh_iov_push: `part` written at byte `pos` of the chain's bytes, each
 * piece where the segments put it, never joined first; what does not fit
 * in the segments is not written (the caller checks writableBytes).
 */
export function iovPush (mem: VhostMemoryAccess, segs: readonly Segment[], part: Uint8Array, pos = 0): void {
  let at = 0
  for (const s of segs) {
    if (at === part.length) return
    if (pos >= s.len) { pos -= s.len; continue }
    const n = Math.min(s.len - pos, part.length - at)
    mem.write(s.addr + pos, n === part.length ? part : part.subarray(at, at + n))
    at += n
    pos = 0
  }
}
