// The byte ranges written since they were last sent: what write combining
// sends as one frame (proto/link.proto, "Write combining"). Kept sorted and
// coalesced, so that adjacent and overlapping writes become one range. Pure.

/** Ranges one Write or Update carries at most (a u16 in the compact layout). */
export const MAX_RANGES_PER_FRAME = 0xffff

import type { Range } from '../link/compact.js'

/** A byte range [offset, offset + length), as Write.ranges carries it. */
export type { Range } from '../link/compact.js'

/** Whether [offset, offset + length) meets any of `ranges`. */
export function overlapsAny (ranges: readonly Range[], offset: number, length: number): boolean {
  for (const r of ranges) if (offset < r.offset + r.length && offset + length > r.offset) return true
  return false
}

export class DirtyRanges {
  /** Sorted, disjoint, non-adjacent [starts[i], ends[i]). */
  private starts: number[] = []
  private ends: number[] = []
  /** Bytes covered by every range together. */
  bytes = 0

  get empty (): boolean { return this.starts.length === 0 }
  get count (): number { return this.starts.length }

  /** Marks [from, to) dirty. */
  add (from: number, to: number): void {
    if (from >= to) return
    const s = this.starts
    const e = this.ends
    const n = s.length
    // The common case: a write at or past the last range (rings and buffers fill upward).
    if (n === 0 || from > e[n - 1]!) {
      s.push(from)
      e.push(to)
      this.bytes += to - from
      return
    }
    // First range that ends at or after `from` (touching counts).
    let lo = 0
    let hi = n
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (e[mid]! < from) lo = mid + 1
      else hi = mid
    }
    // Already dirty (a ring index written again): nothing to change.
    if (s[lo]! <= from && e[lo]! >= to) return
    // Ranges [lo, k) start at or before `to`: they merge with the new one.
    let k = lo
    let start = from
    let end = to
    while (k < n && s[k]! <= to) {
      if (s[k]! < start) start = s[k]!
      if (e[k]! > end) end = e[k]!
      this.bytes -= e[k]! - s[k]!
      k++
    }
    if (k - lo === 1) {
      s[lo] = start
      e[lo] = end
    } else {
      s.splice(lo, k - lo, start)
      e.splice(lo, k - lo, end)
    }
    this.bytes += end - start
  }

  /** Whether any dirty byte lies in [from, to). */
  intersects (from: number, to: number): boolean {
    const s = this.starts
    const e = this.ends
    let lo = 0
    let hi = s.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (e[mid]! <= from) lo = mid + 1
      else hi = mid
    }
    return lo < s.length && s[lo]! < to
  }

  /** The ranges in ascending order, as [offset, length] pairs handed to `fn`. */
  forEach (fn: (offset: number, length: number, index: number) => void): void {
    for (let i = 0; i < this.starts.length; i++) fn(this.starts[i]!, this.ends[i]! - this.starts[i]!, i)
  }

  /** The ranges as objects, shifted by `-base` (window-relative offsets). */
  toRanges (base = 0): Range[] {
    const out: Range[] = new Array(this.starts.length)
    for (let i = 0; i < this.starts.length; i++) out[i] = { offset: this.starts[i]! - base, length: this.ends[i]! - this.starts[i]! }
    return out
  }

  /**
   * The ranges cut into frames of at most `maxBytes` (a range longer than
   * that is split), offsets shifted by `-base`; then clear. One frame's
   * bytes stay well under a link's largest message.
   */
  takeFrames (maxBytes: number, base = 0): Array<{ ranges: Range[], bytes: number }> {
    const frames: Array<{ ranges: Range[], bytes: number }> = []
    let cur: { ranges: Range[], bytes: number } = { ranges: [], bytes: 0 }
    for (let i = 0; i < this.starts.length; i++) {
      let offset = this.starts[i]!
      const end = this.ends[i]!
      while (offset < end) {
        if (cur.bytes === maxBytes || cur.ranges.length === MAX_RANGES_PER_FRAME) { frames.push(cur); cur = { ranges: [], bytes: 0 } }
        const n = Math.min(end - offset, maxBytes - cur.bytes)
        cur.ranges.push({ offset: offset - base, length: n })
        cur.bytes += n
        offset += n
      }
    }
    if (cur.ranges.length > 0) frames.push(cur)
    this.clear()
    return frames
  }

  clear (): void {
    if (this.starts.length === 0) return
    this.starts = []
    this.ends = []
    this.bytes = 0
  }
}
