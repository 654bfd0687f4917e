// What ntb_vhost's fallback poll looks at before it runs a queue's
// callback: whether the virtio side made buffers available since the last
// look, read without writing. A split ring's avail->idx, a packed ring's
// descriptor flags (AVAIL/USED bits, where a packed driver publishes
// buffers: virtio 1.1 2.7.1). Running the callback for nothing is not
// free: it re-arms notifications, which writes the ring in the other
// host's memory, so an idle pair would send a write on every poll.

import type { MemoryAccess } from '../mem/access.js'
import type { RingAddrs } from '../uapi/ring-addrs.js'

/** Offset of `flags` in a packed descriptor (struct vring_packed_desc: addr, len, id, flags). */
const PACKED_FLAGS = 14
const PACKED_DESC_SIZE = 16

export class AvailWatch {
  /** Per queue, what the driver had made available at the last look; undefined: not looked at since reset(). */
  private marks: Array<string | undefined> = []

  /** The rings were (re)activated: the next look at each counts as a change. */
  reset (): void { this.marks = [] }

  /** Whether queue `index`'s available buffers changed since the last look; an unreadable ring counts as changed (its callback finds out). */
  moved (index: number, mem: MemoryAccess, addrs: RingAddrs): boolean {
    let mark: string
    try {
      mark = driverMark(mem, addrs)
    } catch {
      return true
    }
    if (this.marks[index] === mark) return false
    this.marks[index] = mark
    return true
  }
}

function driverMark (mem: MemoryAccess, a: RingAddrs): string {
  if (a.layout === 'split') return String(mem.read16(a.driver + 2))
  const flags: number[] = []
  for (let i = 0; i < a.num; i++) flags.push(mem.read16(a.desc + PACKED_DESC_SIZE * i + PACKED_FLAGS))
  return flags.join(',')
}
