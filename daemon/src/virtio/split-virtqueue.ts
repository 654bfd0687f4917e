// Driver side of a split virtqueue, after the split path of Linux's
// drivers/virtio/virtio_ring.c (virtqueue_add_split, virtqueue_kick_prepare_split,
// virtqueue_get_buf_ctx_split, virtqueue_{disable,enable}_cb*_split). The ring
// lives in `mem` at the addresses of `ring`; segment addresses are in the same
// address space. The free list threads through desc.next, shadowed here (as
// desc_extra[].next) so the device cannot corrupt it.

import { checkRange, type MemoryAccess } from '../mem/access.js'
import {
  VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, VRING_AVAIL_F_NO_INTERRUPT, VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_USED_F_NO_NOTIFY, hasFeature
} from '../uapi/virtio-config.js'
import { RingError } from '../uapi/ring-error.js'
import { allocIndirectTable, bufferSegments, type IndirectAllocator, type Segment, type UsedBuf, type VirtqueueCounters } from './buffers.js'

export type { IndirectAllocator, Segment, UsedBuf, VirtqueueCounters } from './buffers.js'
import { VRING_DESC_SIZE, VRING_USED_ELEM_SIZE, vringNeedEvent, type RingFields } from '../uapi/virtio-ring.js'

export interface SplitVirtqueueOptions {
  /** The negotiated feature set; VIRTIO_RING_F_EVENT_IDX and VIRTIO_RING_F_INDIRECT_DESC matter here. */
  features?: bigint
  /** Needed for indirect tables; without it every buffer uses direct descriptors. */
  indirect?: IndirectAllocator
}



export class SplitVirtqueue<T = unknown> {
  readonly num: number
  readonly ring: RingFields
  readonly eventIdx: boolean
  readonly counters: VirtqueueCounters = { added: 0, used: 0, kicks: 0, kicksSuppressed: 0, full: 0, indirect: 0 }
  /** Set on a device bug; every later add() or getBuf() throws ERR_RING_BROKEN. */
  broken = false
  numFree: number
  /** Buffers added and not yet returned by getBuf(). */
  inFlight = 0
  lastUsedIdx = 0
  private availIdxShadow = 0
  private availFlagsShadow = 0
  private numAdded = 0
  /** Buffers made available since the device was last actually notified. */
  private unnotified = 0
  private freeHead = 0
  private readonly allocator: IndirectAllocator | undefined
  private readonly next: Uint16Array
  private readonly chainLen: Uint16Array
  private readonly outstanding: Uint8Array
  private readonly tokens: Array<T | undefined>
  private readonly tables: Array<{ addr: number, bytes: number } | undefined>
  /** One descriptor's bytes on their way into the ring (mem.write copies them). */
  private readonly descScratch = Buffer.alloc(VRING_DESC_SIZE)

  /** Zeroes the ring, as a freshly allocated one is (vring_alloc_queue). */
  constructor (private readonly mem: MemoryAccess, ring: RingFields, options: SplitVirtqueueOptions = {}) {
    const features = options.features ?? 0n
    this.num = ring.num
    this.ring = ring
    this.eventIdx = hasFeature(features, VIRTIO_RING_F_EVENT_IDX)
    this.allocator = hasFeature(features, VIRTIO_RING_F_INDIRECT_DESC) ? options.indirect : undefined
    const parts: Array<[string, number, number]> = [
      ['desc', ring.desc, VRING_DESC_SIZE * ring.num],
      ['avail', ring.avail, ring.usedEvent + 2 - ring.avail],
      ['used', ring.used, ring.availEvent + 2 - ring.used]
    ]
    for (const [name, at, bytes] of parts) checkRange(`ring ${name}`, mem.size, at, bytes)
    for (const [, at, bytes] of parts) mem.write(at, new Uint8Array(bytes))
    this.numFree = ring.num
    this.next = new Uint16Array(ring.num).map((_, i) => (i + 1) % ring.num)
    this.chainLen = new Uint16Array(ring.num)
    this.outstanding = new Uint8Array(ring.num)
    this.tokens = new Array<T | undefined>(ring.num)
    this.tables = new Array<{ addr: number, bytes: number } | undefined>(ring.num)
  }

  /** Whether the ring holds no free descriptor. */
  get full (): boolean { return this.numFree === 0 }

  /**
   * Adds a buffer: `out` segments the device reads, then `inn` segments it
   * writes; `token` comes back from getBuf(). Publishes the head in the avail
   * ring, then bumps avail->idx. Throws ERR_RING_FULL without changing
   * anything when the descriptors are not there.
   */
  add (out: readonly Segment[], inn: readonly Segment[], token: T): void {
    this.checkUsable()
    const segs = bufferSegments(out, inn, this.num, 'virtio 1.x 2.7.5.3.1')
    const total = segs.length
    const table = this.numFree > 0 && total > 1 ? allocIndirectTable(this.allocator, this.mem.size, total) : undefined
    const needed = table === undefined ? total : 1
    if (this.numFree < needed) {
      this.counters.full++
      throw new RingError('ERR_RING_FULL', `${needed} descriptors needed, ${this.numFree} free`)
    }
    const head = this.freeHead
    const flagsOf = (k: number): number => (k < out.length ? 0 : VRING_DESC_F_WRITE) | (k < total - 1 ? VRING_DESC_F_NEXT : 0)
    if (table !== undefined) {
      segs.forEach((s, k) => { this.writeDesc(table.addr + VRING_DESC_SIZE * k, s.addr, s.len, flagsOf(k), k + 1) })
      this.writeDesc(this.descAt(head), table.addr, table.bytes, VRING_DESC_F_INDIRECT, this.next[head]!)
      this.freeHead = this.next[head]!
      this.counters.indirect++
    } else {
      let i = head
      segs.forEach((s, k) => {
        this.writeDesc(this.descAt(i), s.addr, s.len, flagsOf(k), this.next[i]!)
        i = this.next[i]!
      })
      this.freeHead = i
    }
    this.numFree -= needed
    this.chainLen[head] = needed
    this.outstanding[head] = 1
    this.tokens[head] = token
    this.tables[head] = table
    this.inFlight++
    this.mem.write16(this.ring.availRing + 2 * (this.availIdxShadow & (this.num - 1)), head)
    this.availIdxShadow = (this.availIdxShadow + 1) & 0xffff
    this.mem.write16(this.ring.availIdx, this.availIdxShadow)
    this.numAdded++
    this.unnotified++
    this.counters.added++
  }

  /**
   * Whether the device wants a notification for the buffers added since the
   * last call: vring_need_event(avail_event, new, old) with EVENT_IDX, else
   * used->flags without VRING_USED_F_NO_NOTIFY (virtqueue_kick_prepare_split).
   */
  kickPrepare (): boolean {
    const added = this.numAdded
    const newIdx = this.availIdxShadow
    this.numAdded = 0
    let kick: boolean
    if (added > 0xffff) kick = true
    else if (this.eventIdx) kick = vringNeedEvent(this.mem.read16(this.ring.availEvent), newIdx, (newIdx - added) & 0xffff)
    else kick = (this.mem.read16(this.ring.used) & VRING_USED_F_NO_NOTIFY) === 0
    if (kick) { this.counters.kicks++; this.unnotified = 0 } else this.counters.kicksSuppressed++
    return kick
  }

  /**
   * Decides again, over every buffer added since the last real kick. Called
   * when the device's avail_event or used->flags changes: with memory that
   * is replicated, not shared, that write can cross a kick decision that
   * read its old value, and the wakeup would be lost.
   */
  recheckKick (): boolean {
    const moved = this.unnotified
    if (moved === 0) return false
    const newIdx = this.availIdxShadow
    const kick = this.eventIdx
      ? moved > 0xffff || vringNeedEvent(this.mem.read16(this.ring.availEvent), newIdx, (newIdx - moved) & 0xffff)
      : (this.mem.read16(this.ring.used) & VRING_USED_F_NO_NOTIFY) === 0
    if (kick) { this.counters.kicks++; this.unnotified = 0 }
    return kick
  }

  /** The next buffer the device has used, or null; its descriptors go back to the free list. */
  getBuf (): UsedBuf<T> | null {
    this.checkUsable()
    const usedIdx = this.mem.read16(this.ring.usedIdx)
    if (usedIdx === this.lastUsedIdx) return null
    const ahead = (usedIdx - this.lastUsedIdx) & 0xffff
    if (ahead > this.inFlight) this.fail(`used->idx ${usedIdx} is ${ahead} ahead of ${this.lastUsedIdx} with ${this.inFlight} buffers outstanding`)
    const elem = this.ring.usedRing + VRING_USED_ELEM_SIZE * (this.lastUsedIdx & (this.num - 1))
    const id = this.mem.read32(elem)
    const len = this.mem.read32(elem + 4)
    if (id >= this.num || this.outstanding[id] === 0) this.fail(`used id ${id} is not an outstanding head`)
    const token = this.tokens[id] as T
    this.detach(id)
    this.lastUsedIdx = (this.lastUsedIdx + 1) & 0xffff
    if (this.eventIdx && (this.availFlagsShadow & VRING_AVAIL_F_NO_INTERRUPT) === 0) {
      this.mem.write16(this.ring.usedEvent, this.lastUsedIdx)
    }
    this.counters.used++
    return { token, len }
  }

  /**
   * Asks the device not to interrupt: avail->flags NO_INTERRUPT, or with
   * EVENT_IDX a used_event the device has already passed. Advisory only.
   */
  disableCb (): void {
    if ((this.availFlagsShadow & VRING_AVAIL_F_NO_INTERRUPT) !== 0) return
    this.availFlagsShadow |= VRING_AVAIL_F_NO_INTERRUPT
    if (this.eventIdx) this.mem.write16(this.ring.usedEvent, (this.lastUsedIdx - 1) & 0xffff)
    else this.mem.write16(this.ring.avail, this.availFlagsShadow)
  }

  /** Re-enables interrupts and returns the used index to pass to poll() (virtqueue_enable_cb_prepare). */
  enableCbPrepare (): number {
    if ((this.availFlagsShadow & VRING_AVAIL_F_NO_INTERRUPT) !== 0) {
      this.availFlagsShadow &= ~VRING_AVAIL_F_NO_INTERRUPT
      if (!this.eventIdx) this.mem.write16(this.ring.avail, this.availFlagsShadow)
    }
    if (this.eventIdx) this.mem.write16(this.ring.usedEvent, this.lastUsedIdx)
    return this.lastUsedIdx
  }

  /** Whether the device has used buffers past `lastUsedIdx` (virtqueue_poll). */
  poll (lastUsedIdx: number): boolean {
    return lastUsedIdx !== this.mem.read16(this.ring.usedIdx)
  }

  /** Re-enables interrupts; false if buffers are already waiting, so the caller must poll again (virtqueue_enable_cb). */
  enableCb (): boolean {
    return !this.poll(this.enableCbPrepare())
  }

  /** As enableCb(), but with EVENT_IDX asks for an interrupt only after 3/4 of the outstanding buffers (virtqueue_enable_cb_delayed). */
  enableCbDelayed (): boolean {
    if (!this.eventIdx) return this.enableCb()
    this.availFlagsShadow &= ~VRING_AVAIL_F_NO_INTERRUPT
    const bufs = Math.floor(((this.availIdxShadow - this.lastUsedIdx) & 0xffff) * 3 / 4)
    this.mem.write16(this.ring.usedEvent, (this.lastUsedIdx + bufs) & 0xffff)
    return ((this.mem.read16(this.ring.usedIdx) - this.lastUsedIdx) & 0xffff) <= bufs
  }

  /** After a device reset: takes back every outstanding buffer and returns their tokens (virtqueue_detach_unused_buf). */
  detachUnused (): T[] {
    const tokens: T[] = []
    for (let head = 0; head < this.num; head++) {
      if (this.outstanding[head] === 0) continue
      tokens.push(this.tokens[head] as T)
      this.detach(head)
      this.availIdxShadow = (this.availIdxShadow - 1) & 0xffff
      this.mem.write16(this.ring.availIdx, this.availIdxShadow)
    }
    return tokens
  }



  /** Returns head's chain to the front of the free list (detach_buf_split). */
  private detach (head: number): void {
    const table = this.tables[head]
    if (table !== undefined) this.allocator!.free(table.addr, table.bytes)
    let last = head
    for (let k = 1; k < this.chainLen[head]!; k++) last = this.next[last]!
    this.next[last] = this.freeHead
    this.freeHead = head
    this.numFree += this.chainLen[head]!
    this.outstanding[head] = 0
    this.tokens[head] = undefined
    this.tables[head] = undefined
    this.inFlight--
  }

  private descAt (i: number): number { return this.ring.desc + VRING_DESC_SIZE * i }

  /** struct vring_desc in one write: addr u64, len u32, flags u16, next u16. */
  private writeDesc (at: number, addr: number, len: number, flags: number, next: number): void {
    const b = this.descScratch
    b.writeUInt32LE(addr % 0x1_0000_0000, 0)
    b.writeUInt32LE(Math.floor(addr / 0x1_0000_0000), 4)
    b.writeUInt32LE(len, 8)
    b.writeUInt16LE(flags, 12)
    b.writeUInt16LE(next, 14)
    this.mem.write(at, b)
  }

  private checkUsable (): void {
    if (this.broken) throw new RingError('ERR_RING_BROKEN', 'the virtqueue is broken by an earlier device bug')
  }

  /** A device bug: the queue is broken from now on (BAD_RING). */
  private fail (message: string): never {
    this.broken = true
    throw new RingError('ERR_RING_USED', message)
  }
}
