// Device side of a packed virtqueue (virtio 1.1 2.7), with the API of Vringh
// (vringh.ts) and the checks of QEMU's virtqueue_packed_pop(). The ring is
// read through `mem`; descriptor addresses are bus addresses that the device
// only checks (with `canAccess`) and hands to the caller, never dereferences,
// except indirect tables, which are read from `mem`.
//
// The driver may be hostile: every broken rule throws a RingError with its
// own code (uapi/ring-error.ts), and every walk is bounded by num.

import type { MemoryAccess } from '../mem/access.js'
import {
  VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE
} from '../uapi/virtio-config.js'
import {
  PACKED_DESC_FLAGS, PACKED_DESC_ID, PACKED_DESC_LEN, PACKED_EVENT_FLAGS, PACKED_EVENT_OFF_WRAP, VRING_PACKED_DESC_SIZE,
  VRING_PACKED_EVENT_FLAG_DESC, VRING_PACKED_EVENT_FLAG_DISABLE, VRING_PACKED_EVENT_FLAG_ENABLE, VRING_PACKED_EVENT_SIZE,
  VRING_PACKED_MAX_NUM, isPackedAvail, packedNeedEvent, packedOffWrap, packedUsedFlags, type PackedRing
} from '../uapi/virtio-packed.js'
import { RingError } from '../uapi/ring-error.js'
import type { AccessCheck, Segment, VringhCounters } from './vringh.js'

export type { AccessCheck, Segment, VringhCounters } from './vringh.js'

/** One available buffer: its id, where it starts, the slots it takes, the segments the device reads, then those it writes. */
export interface VringhPackedDesc {
  /** Buffer ID, from the last descriptor of the list (virtio 1.1 2.7.6). */
  readonly id: number
  /** The ring slot of its first descriptor. */
  readonly head: number
  /** Ring slots it takes: the list's length, or 1 for an indirect table. */
  readonly descs: number
  readonly readable: Segment[]
  readonly writable: Segment[]
  readonly readableBytes: number
  readonly writableBytes: number
}

export interface VringhPackedOptions {
  /** The negotiated feature set (VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC). */
  features?: bigint
  /** Defaults to "inside mem": buffers in the ring's own address space. */
  canAccess?: AccessCheck
}

const U32_MAX = 0xffff_ffff

const hasBit = (set: bigint, bit: number): boolean => (set & (1n << BigInt(bit))) !== 0n

export class VringhPacked {
  readonly num: number
  readonly eventIdx: boolean
  readonly indirect: boolean
  readonly counters: VringhCounters = { descs: 0, completed: 0, notifies: 0, notifiesSuppressed: 0, errors: 0 }
  /** The next slot to read, and the lap the driver's next buffer belongs to (virtio 1.1 2.7.1). */
  lastAvail = 0
  availWrap = 1
  /** The next slot to write a used descriptor to, and the Device Ring Wrap Counter. */
  nextUsed = 0
  usedWrap = 1
  /** Slots read and not yet passed by a used descriptor. */
  held = 0
  /** The most recent RingError getDesc() threw. */
  lastError: RingError | null = null
  private completedSinceNotify = 0
  /** Slots used since the driver was last actually notified. */
  private unnotified = 0
  /** Slot counts of the buffers read and not completed, by id, oldest first. */
  private readonly outstanding = new Map<number, number[]>()
  private readonly canAccess: AccessCheck
  private readonly ring: PackedRing

  constructor (private readonly mem: MemoryAccess, ring: PackedRing, options: VringhPackedOptions = {}) {
    const { num } = ring
    if (!Number.isSafeInteger(num) || num < 1 || num > VRING_PACKED_MAX_NUM) {
      throw new RingError('ERR_RING_SIZE', `packed ring size ${num} is not in [1, ${VRING_PACKED_MAX_NUM}]`)
    }
    this.num = num
    const features = options.features ?? 0n
    this.eventIdx = hasBit(features, VIRTIO_RING_F_EVENT_IDX)
    this.indirect = hasBit(features, VIRTIO_RING_F_INDIRECT_DESC)
    this.canAccess = options.canAccess ?? ((addr, len) => addr + len <= mem.size)
    const parts: Array<[string, number, number, number]> = [
      ['desc', ring.desc, VRING_PACKED_DESC_SIZE * num, 16],
      ['driver area', ring.driver, VRING_PACKED_EVENT_SIZE, 4],
      ['device area', ring.device, VRING_PACKED_EVENT_SIZE, 4]
    ]
    for (const [name, at, bytes, align] of parts) {
      if (!Number.isSafeInteger(at) || at < 0 || at % align !== 0 || at + bytes > mem.size) {
        throw new RingError('ERR_RING_ADDRESS', `ring ${name} of ${bytes} bytes at ${at} is not ${align}-aligned inside memory of ${mem.size}`)
      }
    }
    this.ring = { num, desc: ring.desc, driver: ring.driver, device: ring.device }
  }

  /**
   * The next available buffer, or null if the driver has published none. A
   * list whose end is found is consumed even if its contents then turn out
   * broken, so the next buffer can still be read; a list with no end within
   * num slots, or one that would overrun slots still held, is not.
   */
  getDesc (): VringhPackedDesc | null {
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

  /**
   * Writes the used descriptor for buffer `id` at the next used slot, flags
   * last, then skips the slots the buffer took (virtio 1.1 2.7.6). Buffers
   * may complete in any order; a used descriptor carries
   * VRING_DESC_F_WRITE when `len` bytes were written (virtio 1.1 2.7.3).
   */
  complete (id: number, len: number): void {
    if (!Number.isInteger(id) || id < 0 || id > 0xffff) throw new RingError('ERR_RING_INDEX', `buffer id ${id} is not a u16`)
    if (!Number.isInteger(len) || len < 0 || len > U32_MAX) throw new RingError('ERR_RING_LENGTH', `used length ${len} is not a u32`)
    const counts = this.outstanding.get(id)
    if (counts === undefined) throw new RingError('ERR_RING_ID', `buffer id ${id} is not held by the device`)
    const descs = counts.shift()!
    if (counts.length === 0) this.outstanding.delete(id)
    const at = this.ring.desc + VRING_PACKED_DESC_SIZE * this.nextUsed
    const lenId = Buffer.allocUnsafe(6)
    lenId.writeUInt32LE(len, 0)
    lenId.writeUInt16LE(id, PACKED_DESC_ID - PACKED_DESC_LEN)
    this.mem.write(at + PACKED_DESC_LEN, lenId)
    this.mem.write16(at + PACKED_DESC_FLAGS, packedUsedFlags(this.usedWrap) | (len > 0 ? VRING_DESC_F_WRITE : 0))
    this.nextUsed += descs
    if (this.nextUsed >= this.num) {
      this.nextUsed -= this.num
      this.usedWrap ^= 1
    }
    this.held -= descs
    this.completedSinceNotify += descs
    this.unnotified += descs
    this.counters.completed++
  }

  /**
   * Whether the driver wants an interrupt for what was completed since the
   * last call, from the Driver Event Suppression area: DISABLE no, DESC (with
   * EVENT_IDX) only if the event slot was passed, else yes (virtio 1.1 2.7.10).
   */
  needNotify (): boolean {
    const moved = this.completedSinceNotify
    this.completedSinceNotify = 0
    const flags = this.mem.read16(this.ring.driver + PACKED_EVENT_FLAGS)
    let notify: boolean
    if (flags === VRING_PACKED_EVENT_FLAG_DESC && this.eventIdx) {
      notify = packedNeedEvent(this.mem.read16(this.ring.driver + PACKED_EVENT_OFF_WRAP), this.num, this.nextUsed, this.usedWrap, moved)
    } else {
      notify = flags !== VRING_PACKED_EVENT_FLAG_DISABLE
    }
    if (notify) { this.counters.notifies++; this.unnotified = 0 } else this.counters.notifiesSuppressed++
    return notify
  }

  /** As Vringh.recheckNotify(): decide again when the driver's event suppression area changes. */
  recheckNotify (): boolean {
    const moved = this.unnotified
    if (moved === 0) return false
    const flags = this.mem.read16(this.ring.driver + PACKED_EVENT_FLAGS)
    const notify = flags === VRING_PACKED_EVENT_FLAG_DESC && this.eventIdx
      ? packedNeedEvent(this.mem.read16(this.ring.driver + PACKED_EVENT_OFF_WRAP), this.num, this.nextUsed, this.usedWrap, moved)
      : flags !== VRING_PACKED_EVENT_FLAG_DISABLE
    if (notify) { this.counters.notifies++; this.unnotified = 0 }
    return notify
  }

  /**
   * Asks the driver to kick again (ENABLE, or with EVENT_IDX DESC at the next
   * slot to read, off_wrap first); false if a buffer arrived meanwhile, so the
   * caller must look again.
   */
  notifyEnable (): boolean {
    if (this.eventIdx) {
      this.mem.write16(this.ring.device + PACKED_EVENT_OFF_WRAP, packedOffWrap(this.lastAvail, this.availWrap))
      this.mem.write16(this.ring.device + PACKED_EVENT_FLAGS, VRING_PACKED_EVENT_FLAG_DESC)
    } else {
      this.mem.write16(this.ring.device + PACKED_EVENT_FLAGS, VRING_PACKED_EVENT_FLAG_ENABLE)
    }
    return !isPackedAvail(this.mem.read16(this.slot(this.lastAvail) + PACKED_DESC_FLAGS), this.availWrap)
  }

  /** Asks the driver not to kick: Device Event Suppression flags DISABLE. */
  notifyDisable (): void {
    this.mem.write16(this.ring.device + PACKED_EVENT_FLAGS, VRING_PACKED_EVENT_FLAG_DISABLE)
  }

  private slot (i: number): number { return this.ring.desc + VRING_PACKED_DESC_SIZE * i }

  private walk (): VringhPackedDesc | null {
    const head = this.lastAvail
    // Only the head's flags say whether a buffer is there (virtio 1.1 2.7.2, 2.7.15).
    let flags = this.mem.read16(this.slot(head) + PACKED_DESC_FLAGS)
    if (!isPackedAvail(flags, this.availWrap)) return null
    let descs = 1
    for (let i = head; (flags & VRING_DESC_F_NEXT) !== 0; descs++) {
      if (descs === this.num) throw new RingError('ERR_RING_LOOP', `list from slot ${head} is longer than the ring of ${this.num} (virtio 1.1 2.7.17)`)
      i = (i + 1) % this.num
      flags = this.mem.read16(this.slot(i) + PACKED_DESC_FLAGS)
    }
    if (this.held + descs > this.num) {
      throw new RingError('ERR_RING_AVAIL', `list of ${descs} from slot ${head} overruns the ${this.held} slots the device holds in a ring of ${this.num}`)
    }
    const id = this.mem.read16(this.slot((head + descs - 1) % this.num) + PACKED_DESC_ID)
    this.lastAvail += descs
    if (this.lastAvail >= this.num) {
      this.lastAvail -= this.num
      this.availWrap ^= 1
    }
    this.held += descs

    const readable: Segment[] = []
    const writable: Segment[] = []
    let bytes = 0
    const take = (addr: number, len: number, write: boolean, what: string): void => {
      if (!write && writable.length > 0) throw new RingError('ERR_RING_ORDER', `readable ${what} after a writable one (virtio 1.1 2.7.17)`)
      if (bytes + len > U32_MAX) throw new RingError('ERR_RING_LENGTH', `buffer ${id} is longer than 2^32 - 1 bytes`)
      this.checkAccess(addr, len, write, what)
      bytes += len
      if (write) writable.push({ addr, len })
      else readable.push({ addr, len })
    }
    for (let k = 0; k < descs; k++) {
      const at = this.slot((head + k) % this.num)
      const [addr, len, f] = this.readDesc(at, `descriptor at slot ${(head + k) % this.num}`)
      if ((f & VRING_DESC_F_INDIRECT) === 0) {
        take(addr, len, (f & VRING_DESC_F_WRITE) !== 0, `descriptor at slot ${(head + k) % this.num}`)
        continue
      }
      const entries = this.checkIndirect(addr, len, descs, `descriptor at slot ${(head + k) % this.num}`)
      for (let e = 0; e < entries; e++) {
        const what = `entry ${e} of the indirect table at ${addr}`
        const [eAddr, eLen, eFlags] = this.readDesc(addr + VRING_PACKED_DESC_SIZE * e, what)
        // Only VRING_DESC_F_WRITE is valid here; NEXT is ignored, a nested table refused (virtio 1.1 2.7.7, 2.7.19).
        if ((eFlags & VRING_DESC_F_INDIRECT) !== 0) throw new RingError('ERR_RING_INDIRECT', `${what}: an indirect table inside an indirect table`)
        take(eAddr, eLen, (eFlags & VRING_DESC_F_WRITE) !== 0, what)
      }
    }
    const counts = this.outstanding.get(id)
    if (counts === undefined) this.outstanding.set(id, [descs])
    else counts.push(descs)
    this.counters.descs++
    const readableBytes = readable.reduce((n, s) => n + s.len, 0)
    return { id, head, descs, readable, writable, readableBytes, writableBytes: bytes - readableBytes }
  }

  /** addr, len, flags of the struct vring_packed_desc at `at`. */
  private readDesc (at: number, what: string): [number, number, number] {
    const high = this.mem.read32(at + 4)
    if (high > 0x1f_ffff) throw new RingError('ERR_RING_ADDRESS', `${what}: address above 2^53`)
    return [high * 0x1_0000_0000 + this.mem.read32(at), this.mem.read32(at + PACKED_DESC_LEN), this.mem.read16(at + PACKED_DESC_FLAGS)]
  }

  /**
   * An indirect descriptor must be negotiated, alone in its list, and point
   * at a readable table of 1 to num whole descriptors (virtio 1.1 2.7.5, 2.7.7,
   * 2.7.17, 2.7.19). Returns the number of entries.
   */
  private checkIndirect (addr: number, len: number, descs: number, what: string): number {
    const bad = (why: string): never => { throw new RingError('ERR_RING_INDIRECT', `${what}: ${why}`) }
    if (!this.indirect) bad('VIRTIO_RING_F_INDIRECT_DESC was not negotiated')
    if (descs > 1) bad('an indirect descriptor in a list linked by VRING_DESC_F_NEXT')
    if (len === 0 || len % VRING_PACKED_DESC_SIZE !== 0 || len / VRING_PACKED_DESC_SIZE > this.num) {
      bad(`table length ${len} is not 16 to ${VRING_PACKED_DESC_SIZE * this.num} in steps of 16`)
    }
    if (addr + len > this.mem.size) throw new RingError('ERR_RING_ADDRESS', `${what}: indirect table of ${len} bytes at ${addr} is outside memory of ${this.mem.size}`)
    this.checkAccess(addr, len, false, `${what}: indirect table`)
    return len / VRING_PACKED_DESC_SIZE
  }

  private checkAccess (addr: number, len: number, write: boolean, what: string): void {
    if (addr + len > Number.MAX_SAFE_INTEGER || !this.canAccess(addr, len, write)) {
      throw new RingError('ERR_RING_ADDRESS', `${what}: ${write ? 'write' : 'read'} of ${len} bytes at ${addr} is not allowed`)
    }
  }
}
