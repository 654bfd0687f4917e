// What ntb_vhost's fallback poll looks at before it runs a queue's
// callback: whether the virtio side made buffers available since the last
// look, read without writing. A split ring's avail->idx; a packed ring's
// head at the device's next slot: whether its AVAIL/USED bits match the
// Driver Ring Wrap Counter the device expects there (virtio 1.1 2.7.1,
// the check vringh-packed.ts walk() makes), with that slot and counter.
// Both are one 16-bit read per queue, whatever the ring's size. Running the
// callback for nothing is not free: it re-arms notifications, which writes
// the ring in the other host's memory, so an idle pair would send a write
// on every poll.

import type { MemoryAccess } from '../mem/access.js'
import type { RingAddrs } from '../uapi/ring-addrs.js'
import { PACKED_DESC_FLAGS, VRING_PACKED_DESC_SIZE, isPackedAvail } from '../uapi/virtio-packed.js'

/** Where the device reads a packed ring next (VringhPacked): the slot, and the wrap counter a buffer there must carry. */
export interface PackedNext { readonly lastAvail: number, readonly availWrap: number }

export class AvailWatch {
  /** Per queue, what the driver had made available at the last look; undefined: not looked at since reset(). */
  private marks: Array<number | undefined> = []

  /** The rings were (re)activated: the next look at each counts as a change. */
  reset (): void { this.marks = [] }

  /**
   * Whether queue `index`'s available buffers changed since the last look
   * (`next`: the device's position, needed for a packed ring); an
   * unreadable ring, or a packed one without `next`, counts as changed (its
   * callback finds out).
   */
  moved (index: number, mem: MemoryAccess, addrs: RingAddrs, next: PackedNext | null): boolean {
    let mark: number | null
    try {
      mark = driverMark(mem, addrs, next)
    } catch {
      return true
    }
    if (mark === null) return true
    if (this.marks[index] === mark) return false
    this.marks[index] = mark
    return true
  }
}

/**
 * Split: avail->idx. Packed: the device's slot and wrap counter, and whether
 * a buffer waits there; the slot moves when the device takes buffers, the
 * bit when the driver makes one available where the device will look.
 */
function driverMark (mem: MemoryAccess, a: RingAddrs, next: PackedNext | null): number | null {
  if (a.layout === 'split') return mem.read16(a.driver + 2)
  if (next === null) return null
  const flags = mem.read16(a.desc + VRING_PACKED_DESC_SIZE * next.lastAvail + PACKED_DESC_FLAGS)
  return (next.lastAvail * 2 + next.availWrap) * 2 + (isPackedAvail(flags, next.availWrap) ? 1 : 0)
}
