// Driver side of a packed virtqueue (virtio 1.1 2.7), after the packed path of
// Linux's drivers/virtio/virtio_ring.c (virtqueue_add_packed,
// virtqueue_kick_prepare_packed, virtqueue_get_buf_ctx_packed,
// virtqueue_{disable,enable}_cb*_packed). The ring lives in `mem` at the
// addresses of `ring`; segment addresses are in the same address space.
// Descriptor slots are taken and given back in ring order, so the ring needs
// only a count of free slots; buffer ids come from a free-id list kept here
// (as desc_extra[].next), where the device cannot corrupt it.

import { checkRange, type MemoryAccess } from '../mem/access.js'
import {
  VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, hasFeature
} from '../uapi/virtio-config.js'
import { RingError } from '../uapi/ring-error.js'
import {
  PACKED_DESC_FLAGS, PACKED_DESC_ID, PACKED_DESC_LEN, PACKED_EVENT_FLAGS, PACKED_EVENT_OFF_WRAP, VRING_PACKED_DESC_SIZE,
  VRING_PACKED_EVENT_FLAG_DESC, VRING_PACKED_EVENT_FLAG_DISABLE, VRING_PACKED_EVENT_FLAG_ENABLE, VRING_PACKED_EVENT_SIZE,
  isPackedUsed, packedAvailFlags, packedNeedEvent, packedOffWrap, packedRing, type PackedRing
} from '../uapi/virtio-packed.js'
import { allocIndirectTable, bufferSegments, type IndirectAllocator, type Segment, type UsedBuf, type VirtqueueCounters } from './buffers.js'

export type { IndirectAllocator, Segment, UsedBuf, VirtqueueCounters } from './buffers.js'

export interface PackedVirtqueueOptions {
  /** The negotiated feature set; VIRTIO_RING_F_EVENT_IDX and VIRTIO_RING_F_INDIRECT_DESC matter here. */
  features?: bigint
  /** Needed for indirect tables; without it every buffer uses direct descriptors. */
  indirect?: IndirectAllocator
}


export class PackedVirtqueue<T = unknown> {
  readonly num: number
  readonly ring: PackedRing
  readonly eventIdx: boolean
  readonly counters: VirtqueueCounters = { added: 0, used: 0, kicks: 0, kicksSuppressed: 0, full: 0, indirect: 0 }
  /** Set on a device bug; every later add() or getBuf() throws ERR_RING_BROKEN. */
  broken = false
  /** Descriptor slots not held by an outstanding buffer. */
  numFree: number
  /** Buffers added and not yet returned by getBuf(). */
  inFlight = 0
  /** The next slot to make available, and the Driver Ring Wrap Counter (virtio 1.1 2.7.1). */
  nextAvail = 0
  availWrap = 1
  /** The slot where the next used descriptor will appear, and the lap it belongs to. */
  lastUsed = 0
  usedWrap = 1
  private eventFlagsShadow = VRING_PACKED_EVENT_FLAG_ENABLE
  private numAdded = 0
  /** Slots made available since the device was last actually notified. */
  private unnotified = 0
  private freeHead = 0
  private readonly allocator: IndirectAllocator | undefined
  private readonly nextId: Uint16Array
  private readonly chainLen: Uint16Array
  private readonly outstanding: Uint8Array
  private readonly tokens: Array<T | undefined>
  private readonly tables: Array<{ addr: number, bytes: number } | undefined>

  /** Zeroes the ring: "The descriptor ring is zero-initialized" (virtio 1.1 2.7.13). */
  constructor (private readonly mem: MemoryAccess, ring: PackedRing, options: PackedVirtqueueOptions = {}) {
    this.ring = packedRing(ring.num, ring.desc, ring.driver, ring.device)
    const features = options.features ?? 0n
    this.num = ring.num
    this.eventIdx = hasFeature(features, VIRTIO_RING_F_EVENT_IDX)
    this.allocator = hasFeature(features, VIRTIO_RING_F_INDIRECT_DESC) ? options.indirect : undefined
    const parts: Array<[string, number, number]> = [['desc', ring.desc, VRING_PACKED_DESC_SIZE * ring.num], ['driver area', ring.driver, 4], ['device area', ring.device, 4]]
    for (const [name, at, bytes] of parts) checkRange(`ring ${name}`, mem.size, at, bytes)
    this.zeroRing()
    this.numFree = this.num
    this.nextId = new Uint16Array(ring.num).map((_, i) => (i + 1) % ring.num)
    this.chainLen = new Uint16Array(ring.num)
    this.outstanding = new Uint8Array(ring.num)
    this.tokens = new Array<T | undefined>(ring.num)
    this.tables = new Array<{ addr: number, bytes: number } | undefined>(ring.num)
  }

  /** Whether the ring holds no free descriptor. */
  get full (): boolean { return this.numFree === 0 }

  /**
   * Adds a buffer: `out` segments the device reads, then `inn` segments it
   * writes; `token` comes back from getBuf(). Throws ERR_RING_FULL without
   * changing anything when the slots are not there.
   */
  add (out: readonly Segment[], inn: readonly Segment[], token: T): void {
    this.checkUsable()
    const segs = bufferSegments(out, inn, this.num, 'virtio 1.1 2.7.17')
    const total = segs.length
    const table = this.numFree > 0 && total > 1 ? allocIndirectTable(this.allocator, this.mem.size, total) : undefined
    const needed = table === undefined ? total : 1
    if (this.numFree < needed) {
      this.counters.full++
      throw new RingError('ERR_RING_FULL', `${needed} descriptors needed, ${this.numFree} free`)
    }
    const id = this.freeHead
    const head = this.nextAvail
    let headFlags = 0
    let pos = head
    // Every slot gets the AVAIL/USED bits of the lap it lies in (virtio 1.1 2.7.21.1); the head's flags wait.
    const put = (k: number, addr: number, len: number, flags: number): void => {
      const f = flags | packedAvailFlags(this.availWrap)
      if (k === 0) headFlags = f
      this.writeDesc(this.descAt(pos), addr, len, id, k === 0 ? null : f)
      if (++pos === this.num) [pos, this.availWrap] = [0, this.availWrap ^ 1]
    }
    if (table !== undefined) {
      // Only VRING_DESC_F_WRITE is valid in an indirect table; ids there are reserved (virtio 1.1 2.7.7).
      segs.forEach((s, k) => { this.writeDesc(table.addr + VRING_PACKED_DESC_SIZE * k, s.addr, s.len, 0, k < out.length ? 0 : VRING_DESC_F_WRITE) })
      put(0, table.addr, table.bytes, VRING_DESC_F_INDIRECT)
      this.counters.indirect++
    } else {
      segs.forEach((s, k) => { put(k, s.addr, s.len, (k < out.length ? 0 : VRING_DESC_F_WRITE) | (k < total - 1 ? VRING_DESC_F_NEXT : 0)) })
    }
    // The head's flags go last, after every other descriptor and after the
    // head's own addr/len/id: the device polls only that one u16, and until it
    // flips to this lap the whole chain is invisible, so the device never
    // reads a half-written chain (virtio 1.1 2.7.6, 2.7.21.1.1).
    this.mem.write16(this.descAt(head) + PACKED_DESC_FLAGS, headFlags)
    this.nextAvail = pos
    this.freeHead = this.nextId[id]!
    this.numFree -= needed
    this.chainLen[id] = needed
    this.outstanding[id] = 1
    this.tokens[id] = token
    this.tables[id] = table
    this.inFlight++
    this.numAdded += needed
    this.unnotified += needed
    this.counters.added++
  }

  /**
   * Whether the device wants a notification for the descriptors added since
   * the last call, from the Device Event Suppression area: DISABLE no,
   * DESC (with EVENT_IDX) only if the event slot was passed, else yes
   * (virtqueue_kick_prepare_packed; virtio 1.1 2.7.10, 2.7.21.2).
   */
  kickPrepare (): boolean {
    const added = this.numAdded
    this.numAdded = 0
    const flags = this.mem.read16(this.ring.device + PACKED_EVENT_FLAGS)
    let kick: boolean
    if (flags === VRING_PACKED_EVENT_FLAG_DESC && this.eventIdx) {
      kick = packedNeedEvent(this.mem.read16(this.ring.device + PACKED_EVENT_OFF_WRAP), this.num, this.nextAvail, this.availWrap, added)
    } else {
      kick = flags !== VRING_PACKED_EVENT_FLAG_DISABLE
    }
    if (kick) { this.counters.kicks++; this.unnotified = 0 } else this.counters.kicksSuppressed++
    return kick
  }

  /** As SplitVirtqueue.recheckKick(): decide again when the device's event suppression area changes. */
  recheckKick (): boolean {
    const moved = this.unnotified
    if (moved === 0) return false
    const flags = this.mem.read16(this.ring.device + PACKED_EVENT_FLAGS)
    const kick = flags === VRING_PACKED_EVENT_FLAG_DESC && this.eventIdx
      ? packedNeedEvent(this.mem.read16(this.ring.device + PACKED_EVENT_OFF_WRAP), this.num, this.nextAvail, this.availWrap, moved)
      : flags !== VRING_PACKED_EVENT_FLAG_DISABLE
    if (kick) { this.counters.kicks++; this.unnotified = 0 }
    return kick
  }

  /** The next buffer the device has used, or null; its slots and id go back to the free pool. */
  getBuf (): UsedBuf<T> | null {
    this.checkUsable()
    const at = this.descAt(this.lastUsed)
    const flags = this.mem.read16(at + PACKED_DESC_FLAGS)
    if (!isPackedUsed(flags, this.usedWrap)) return null
    const id = this.mem.read16(at + PACKED_DESC_ID)
    // The length counts only with VRING_DESC_F_WRITE (virtio 1.1 2.7.4).
    const len = (flags & VRING_DESC_F_WRITE) !== 0 ? this.mem.read32(at + PACKED_DESC_LEN) : 0
    if (id >= this.num || this.outstanding[id] === 0) this.fail(`used id ${id} at slot ${this.lastUsed} is not an outstanding buffer`)
    const token = this.tokens[id] as T
    // One used descriptor stands for the whole chain: skip its slots (virtio 1.1 2.7.6).
    this.lastUsed += this.chainLen[id]!
    if (this.lastUsed >= this.num) [this.lastUsed, this.usedWrap] = [this.lastUsed - this.num, this.usedWrap ^ 1]
    this.release(id)
    if (this.eventFlagsShadow === VRING_PACKED_EVENT_FLAG_DESC) {
      this.mem.write16(this.ring.driver + PACKED_EVENT_OFF_WRAP, packedOffWrap(this.lastUsed, this.usedWrap))
    }
    this.counters.used++
    return { token, len }
  }

  /** Asks the device not to interrupt: Driver Event Suppression flags DISABLE. Advisory only. */
  disableCb (): void {
    if (this.eventFlagsShadow === VRING_PACKED_EVENT_FLAG_DISABLE) return
    this.eventFlagsShadow = VRING_PACKED_EVENT_FLAG_DISABLE
    this.mem.write16(this.ring.driver + PACKED_EVENT_FLAGS, this.eventFlagsShadow)
  }

  /** Re-enables interrupts and returns the off_wrap to pass to poll() (virtqueue_enable_cb_prepare_packed). */
  enableCbPrepare (): number {
    const offWrap = packedOffWrap(this.lastUsed, this.usedWrap)
    this.enableAt(offWrap)
    return offWrap
  }

  /** Whether the slot of `offWrap` holds a used descriptor of its lap (virtqueue_poll_packed). */
  poll (offWrap: number): boolean {
    const flags = this.mem.read16(this.descAt(offWrap & 0x7fff) + PACKED_DESC_FLAGS)
    return isPackedUsed(flags, offWrap >> 15)
  }

  /** Re-enables interrupts; false if buffers are already waiting, so the caller must poll again (virtqueue_enable_cb). */
  enableCb (): boolean {
    return !this.poll(this.enableCbPrepare())
  }

  /** As enableCb(), but with EVENT_IDX asks for an interrupt only 3/4 of the way through the held slots (virtqueue_enable_cb_delayed_packed). */
  enableCbDelayed (): boolean {
    if (!this.eventIdx) return this.enableCb()
    const off = this.lastUsed + Math.floor((this.num - this.numFree) * 3 / 4)
    this.enableAt(off >= this.num ? packedOffWrap(off - this.num, this.usedWrap ^ 1) : packedOffWrap(off, this.usedWrap))
    return !this.poll(packedOffWrap(this.lastUsed, this.usedWrap))
  }

  /**
   * After a device reset: takes back every outstanding buffer, returns their
   * tokens, and starts the ring again from slot 0 in lap 1, zeroed, as the
   * reset device will (virtqueue_detach_unused_buf, virtqueue_reinit_packed).
   */
  detachUnused (): T[] {
    const tokens: T[] = []
    for (let id = 0; id < this.num; id++) {
      if (this.outstanding[id] === 0) continue
      tokens.push(this.tokens[id] as T)
      this.release(id)
    }
    this.zeroRing()
    this.nextAvail = this.lastUsed = this.numAdded = this.unnotified = 0
    this.eventFlagsShadow = VRING_PACKED_EVENT_FLAG_ENABLE
    this.availWrap = this.usedWrap = 1
    return tokens
  }

  /** With EVENT_IDX the event slot goes out before the flags that make it count (virtio 1.1 2.7.10). */
  private enableAt (offWrap: number): void {
    if (this.eventIdx) this.mem.write16(this.ring.driver + PACKED_EVENT_OFF_WRAP, offWrap)
    if (this.eventFlagsShadow === VRING_PACKED_EVENT_FLAG_DISABLE) {
      this.eventFlagsShadow = this.eventIdx ? VRING_PACKED_EVENT_FLAG_DESC : VRING_PACKED_EVENT_FLAG_ENABLE
      this.mem.write16(this.ring.driver + PACKED_EVENT_FLAGS, this.eventFlagsShadow)
    }
  }



  /** Gives back id's slots, table and id (detach_buf_packed). */
  private release (id: number): void {
    const table = this.tables[id]
    if (table !== undefined) this.allocator!.free(table.addr, table.bytes)
    this.numFree += this.chainLen[id]!
    this.nextId[id] = this.freeHead
    this.freeHead = id
    this.outstanding[id] = 0
    this.tokens[id] = undefined
    this.tables[id] = undefined
    this.inFlight--
  }

  private zeroRing (): void {
    this.mem.write(this.ring.desc, new Uint8Array(VRING_PACKED_DESC_SIZE * this.ring.num))
    this.mem.write(this.ring.driver, new Uint8Array(VRING_PACKED_EVENT_SIZE))
    this.mem.write(this.ring.device, new Uint8Array(VRING_PACKED_EVENT_SIZE))
  }

  private descAt (i: number): number { return this.ring.desc + VRING_PACKED_DESC_SIZE * i }

  /** struct vring_packed_desc: addr u64, len u32, id u16, then flags u16 unless `flags` is null. */
  private writeDesc (at: number, addr: number, len: number, id: number, flags: number | null): void {
    const b = Buffer.allocUnsafe(flags === null ? PACKED_DESC_FLAGS : VRING_PACKED_DESC_SIZE)
    b.writeUInt32LE(addr % 0x1_0000_0000, 0)
    b.writeUInt32LE(Math.floor(addr / 0x1_0000_0000), 4)
    b.writeUInt32LE(len, PACKED_DESC_LEN)
    b.writeUInt16LE(id, PACKED_DESC_ID)
    if (flags !== null) b.writeUInt16LE(flags, PACKED_DESC_FLAGS)
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
