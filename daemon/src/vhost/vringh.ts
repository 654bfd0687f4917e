// Device side of a split virtqueue, in the style of Linux's vringh
// (drivers/vhost/vringh.c: __vringh_get_head, __vringh_iov, __vringh_complete,
// __vringh_need_notify, __vringh_notify_enable/disable). The ring is read
// through `mem`; descriptor addresses are bus addresses that the device only
// checks (with `canAccess`) and hands to the caller, never dereferences,
// except indirect tables, which are read from `mem`.
//
// The driver may be hostile: every broken rule throws a RingError with its
// own code (uapi/ring-error.ts), and every walk is bounded by the table it reads.

import type { MemoryAccess } from '../mem/access.js'
import {
  VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, VRING_AVAIL_F_NO_INTERRUPT, VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_USED_F_NO_NOTIFY
} from '../uapi/virtio-config.js'
import { VRING_DESC_SIZE, VRING_MAX_NUM, VRING_USED_ELEM_SIZE, vringNeedEvent } from '../uapi/virtio-ring.js'
import { RingError } from '../uapi/ring-error.js'

/** Where the three parts of the ring are in `mem` (as vringh_init's desc, avail, used). */
export interface VringAddrs { readonly num: number, readonly desc: number, readonly avail: number, readonly used: number }

/** A run of driver memory, as the descriptor gave it. */
export interface Segment { readonly addr: number, readonly len: number }

/** One available buffer: its head, the segments the device reads, then those it writes. */
export interface VringhDesc {
  readonly head: number
  readonly readable: Segment[]
  readonly writable: Segment[]
  readonly readableBytes: number
  readonly writableBytes: number
}

/** Whether the device may read (write false) or write [addr, addr + len). */
export type AccessCheck = (addr: number, len: number, write: boolean) => boolean

export interface VringhOptions {
  /** The negotiated feature set (VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC). */
  features?: bigint
  /** Defaults to "inside mem": buffers in the ring's own address space. */
  canAccess?: AccessCheck
}

export interface VringhCounters { descs: number, completed: number, notifies: number, notifiesSuppressed: number, errors: number }

const U32_MAX = 0xffff_ffff
/** desc.next is a u16: an indirect table has at most 65536 reachable entries. */
const MAX_INDIRECT = 0x1_0000

const hasBit = (set: bigint, bit: number): boolean => (set & (1n << BigInt(bit))) !== 0n

export class Vringh {
  readonly num: number
  readonly eventIdx: boolean
  readonly indirect: boolean
  readonly counters: VringhCounters = { descs: 0, completed: 0, notifies: 0, notifiesSuppressed: 0, errors: 0 }
  /** avail->ring entries consumed, free-running u16 (last_avail_idx). */
  lastAvailIdx = 0
  /** used->idx as this side last wrote it, free-running u16. */
  lastUsedIdx = 0
  /** The most recent RingError getDesc() threw. */
  lastError: RingError | null = null
  private completedSinceNotify = 0
  /** Buffers used since the driver was last actually notified. */
  private unnotified = 0
  private readonly canAccess: AccessCheck
  /** One used element's bytes on their way into the ring (mem.write copies them). */
  private readonly elemScratch = Buffer.alloc(VRING_USED_ELEM_SIZE)
  private readonly f: { desc: number, avail: number, availIdx: number, availRing: number, usedEvent: number, used: number, usedIdx: number, usedRing: number, availEvent: number }

  constructor (private readonly mem: MemoryAccess, ring: VringAddrs, options: VringhOptions = {}) {
    const { num } = ring
    if (!Number.isSafeInteger(num) || num < 1 || num > VRING_MAX_NUM || (num & (num - 1)) !== 0) {
      throw new RingError('ERR_RING_SIZE', `ring size ${num} is not a power of two in [1, ${VRING_MAX_NUM}]`)
    }
    this.num = num
    const features = options.features ?? 0n
    this.eventIdx = hasBit(features, VIRTIO_RING_F_EVENT_IDX)
    this.indirect = hasBit(features, VIRTIO_RING_F_INDIRECT_DESC)
    this.canAccess = options.canAccess ?? ((addr, len) => addr + len <= mem.size)
    const parts: Array<[string, number, number, number]> = [
      ['desc', ring.desc, VRING_DESC_SIZE * num, 16],
      ['avail', ring.avail, 6 + 2 * num, 2],
      ['used', ring.used, 6 + VRING_USED_ELEM_SIZE * num, 4]
    ]
    for (const [name, at, bytes, align] of parts) {
      if (!Number.isSafeInteger(at) || at < 0 || at % align !== 0 || at + bytes > mem.size) {
        throw new RingError('ERR_RING_ADDRESS', `ring ${name} of ${bytes} bytes at ${at} is not ${align}-aligned inside memory of ${mem.size}`)
      }
    }
    this.f = {
      desc: ring.desc,
      avail: ring.avail,
      availIdx: ring.avail + 2,
      availRing: ring.avail + 4,
      usedEvent: ring.avail + 4 + 2 * num,
      used: ring.used,
      usedIdx: ring.used + 2,
      usedRing: ring.used + 4,
      availEvent: ring.used + 4 + VRING_USED_ELEM_SIZE * num
    }
  }

  /**
   * The next available buffer, or null if the driver has published none.
   * An entry is consumed (lastAvailIdx moves) once its head is read, even if
   * its chain then turns out broken, as in __vringh_get_head.
   */
  getDesc (): VringhDesc | null {
    try {
      return this.walk()
    } catch (err) {
      if (err instanceof RingError) {
        this.lastError = err
        this.counters.errors++
      }
      throw err
    }
  }

  /** Puts {head, len} in the used ring, then bumps used->idx (__vringh_complete). */
  complete (head: number, len: number): void {
    if (!Number.isInteger(head) || head < 0 || head >= this.num) throw new RingError('ERR_RING_INDEX', `head ${head} is outside the ring of ${this.num}`)
    if (!Number.isInteger(len) || len < 0 || len > U32_MAX) throw new RingError('ERR_RING_LENGTH', `used length ${len} is not a u32`)
    const elem = this.elemScratch
    elem.writeUInt32LE(head, 0)
    elem.writeUInt32LE(len, 4)
    this.mem.write(this.f.usedRing + VRING_USED_ELEM_SIZE * (this.lastUsedIdx & (this.num - 1)), elem)
    this.lastUsedIdx = (this.lastUsedIdx + 1) & 0xffff
    this.mem.write16(this.f.usedIdx, this.lastUsedIdx)
    this.completedSinceNotify++
    this.unnotified++
    this.counters.completed++
  }

  /**
   * Whether the driver wants an interrupt for what was completed since the
   * last call: vring_need_event(used_event, new, old) with EVENT_IDX, else
   * avail->flags without VRING_AVAIL_F_NO_INTERRUPT (__vringh_need_notify).
   */
  needNotify (): boolean {
    const completed = this.completedSinceNotify
    this.completedSinceNotify = 0
    let notify: boolean
    if (!this.eventIdx) notify = (this.mem.read16(this.f.avail) & VRING_AVAIL_F_NO_INTERRUPT) === 0
    else if (completed > 0xffff) notify = true
    else notify = vringNeedEvent(this.mem.read16(this.f.usedEvent), this.lastUsedIdx, (this.lastUsedIdx - completed) & 0xffff)
    if (notify) { this.counters.notifies++; this.unnotified = 0 } else this.counters.notifiesSuppressed++
    return notify
  }

  /**
   * Decides again, over every buffer used since the last real notification.
   * Called when the driver's used_event or avail->flags changes: with memory
   * that is replicated, not shared, that write can cross a decision that
   * read its old value, and the interrupt would be lost.
   */
  recheckNotify (): boolean {
    const moved = this.unnotified
    if (moved === 0) return false
    const notify = this.eventIdx
      ? moved > 0xffff || vringNeedEvent(this.mem.read16(this.f.usedEvent), this.lastUsedIdx, (this.lastUsedIdx - moved) & 0xffff)
      : (this.mem.read16(this.f.avail) & VRING_AVAIL_F_NO_INTERRUPT) === 0
    if (notify) { this.counters.notifies++; this.unnotified = 0 }
    return notify
  }

  /**
   * Asks the driver to kick again (used->flags 0, or avail_event = lastAvailIdx);
   * false if buffers arrived meanwhile, so the caller must look again.
   */
  notifyEnable (): boolean {
    if (this.eventIdx) this.mem.write16(this.f.availEvent, this.lastAvailIdx)
    else this.mem.write16(this.f.used, 0)
    return this.mem.read16(this.f.availIdx) === this.lastAvailIdx
  }

  /** Asks the driver not to kick (used->flags NO_NOTIFY; with EVENT_IDX, avail_event is simply left behind). */
  notifyDisable (): void {
    if (!this.eventIdx) this.mem.write16(this.f.used, VRING_USED_F_NO_NOTIFY)
  }

  private walk (): VringhDesc | null {
    const availIdx = this.mem.read16(this.f.availIdx)
    const pending = (availIdx - this.lastAvailIdx) & 0xffff
    if (pending === 0) return null
    if (pending > this.num) throw new RingError('ERR_RING_AVAIL', `avail->idx ${availIdx} is ${pending} ahead of ${this.lastAvailIdx} in a ring of ${this.num}`)
    const head = this.mem.read16(this.f.availRing + 2 * (this.lastAvailIdx & (this.num - 1)))
    this.lastAvailIdx = (this.lastAvailIdx + 1) & 0xffff
    if (head >= this.num) throw new RingError('ERR_RING_INDEX', `avail head ${head} is outside the ring of ${this.num}`)

    const readable: Segment[] = []
    const writable: Segment[] = []
    let readableBytes = 0
    let writableBytes = 0
    let table = this.f.desc
    let max = this.num
    let inIndirect = false
    let count = 0
    for (let i = head; ;) {
      const where = inIndirect ? `indirect table of ${max}` : `ring of ${max}`
      if (i >= max) throw new RingError('ERR_RING_INDEX', `descriptor ${i} is outside the ${where}`)
      if (++count > max) throw new RingError('ERR_RING_LOOP', `chain from head ${head} is longer than its ${where}`)
      const at = table + VRING_DESC_SIZE * i
      const high = this.mem.read32(at + 4)
      const len = this.mem.read32(at + 8)
      const flags = this.mem.read16(at + 12)
      if (high > 0x1f_ffff) throw new RingError('ERR_RING_ADDRESS', `descriptor ${i} address is above 2^53`)
      const addr = high * 0x1_0000_0000 + this.mem.read32(at)
      if ((flags & VRING_DESC_F_INDIRECT) !== 0) {
        this.checkIndirect(i, addr, len, flags, inIndirect)
        table = addr
        max = len / VRING_DESC_SIZE
        inIndirect = true
        count = 0
        i = 0
        continue
      }
      const write = (flags & VRING_DESC_F_WRITE) !== 0
      if (!write && writable.length > 0) throw new RingError('ERR_RING_ORDER', `readable descriptor ${i} after a writable one`)
      if (readableBytes + writableBytes + len > U32_MAX) throw new RingError('ERR_RING_LENGTH', `chain from head ${head} is longer than 2^32 - 1 bytes`)
      this.checkAccess(addr, len, write, `descriptor ${i}`)
      if (write) {
        writable.push({ addr, len })
        writableBytes += len
      } else {
        readable.push({ addr, len })
        readableBytes += len
      }
      if ((flags & VRING_DESC_F_NEXT) === 0) break
      i = this.mem.read16(at + 14)
    }
    this.counters.descs++
    return { head, readable, writable, readableBytes, writableBytes }
  }

  /** An indirect descriptor must be negotiated, last in its chain, not nested, and point at a readable table (virtio 1.x 2.7.5.3). */
  private checkIndirect (i: number, addr: number, len: number, flags: number, inIndirect: boolean): void {
    const bad = (why: string): never => { throw new RingError('ERR_RING_INDIRECT', `indirect descriptor ${i}: ${why}`) }
    if (!this.indirect) bad('VIRTIO_RING_F_INDIRECT_DESC was not negotiated')
    if (inIndirect) bad('nested in an indirect table')
    if ((flags & VRING_DESC_F_NEXT) !== 0) bad('has VRING_DESC_F_NEXT too')
    if (len === 0 || len % VRING_DESC_SIZE !== 0 || len / VRING_DESC_SIZE > MAX_INDIRECT) bad(`table length ${len} is not 16 to ${16 * MAX_INDIRECT} in steps of 16`)
    if (addr + len > this.mem.size) throw new RingError('ERR_RING_ADDRESS', `indirect table of ${len} bytes at ${addr} is outside memory of ${this.mem.size}`)
    this.checkAccess(addr, len, false, `indirect table of descriptor ${i}`)
  }

  private checkAccess (addr: number, len: number, write: boolean, what: string): void {
    if (addr + len > Number.MAX_SAFE_INTEGER || !this.canAccess(addr, len, write)) {
      throw new RingError('ERR_RING_ADDRESS', `${what}: ${write ? 'write' : 'read'} of ${len} bytes at ${addr} is not allowed`)
    }
  }
}
