// A Window: this daemon's view of a range of a peer's region (through a BAR,
// an outbound window or an NTB memory window). A replica window keeps a
// synced copy: its own writes apply locally at once and travel to the owner;
// the owner's Updates arrive in the owner's order and are laid under the
// window's writes the owner has not yet ordered (see completer.ts). Reads
// are local. An uncached window keeps no copy and reads through the link.
//
// Combining (proto/link.proto, "Write combining"): once the window is open
// on a peer that speaks FEATURE_COMPACT, a replica window's writes are
// stored and marked dirty; at the link's next ordering point the dirty
// ranges go as one Write, their bytes read from the replica then. Writes to
// the owner's register ranges go one by one, at once.

import { PagedMemory, PAGE_SIZE } from './paged-memory.js'
import { bulkWithHeadroom, type DeferredFrames, type FrameSender } from './frame-sender.js'
import { DirtyRanges, overlapsAny, type Range } from './dirty-ranges.js'
import { UnavailableError } from '../errors.js'

/** Bytes one combined Write carries at most; more goes in several. */
const MAX_WRITE_BYTES = 1024 * 1024

export type WindowState = 'opening' | 'open' | 'failed' | 'closed'

interface PendingWrite {
  wseq: number
  offset: number
  data: Uint8Array
}

export interface WindowSpec {
  peer: string
  /** The region on the peer, by name or id. */
  region: string | number
  offset: number
  size: number
  replica: boolean
}

export interface WindowCounters {
  writes: number
  updates: number
  reads: number
  errors: number
}

export class Window extends PagedMemory implements DeferredFrames {
  readonly id: number
  readonly spec: WindowSpec
  state: WindowState = 'opening'
  lastError = ''
  /** The owner's status when it refused the window (UR or CA), else 0. */
  refusal = 0
  regionId = 0
  regionName = ''
  readonly counters: WindowCounters = { writes: 0, updates: 0, reads: 0, errors: 0 }
  /** Bytes of own writes (counters.writes) and of the owner's Updates (counters.updates). */
  readonly bytes = { written: 0, updated: 0 }
  /** The link while a session exists; null while the peer is down. */
  link: FrameSender | null = null
  private wseq = 0
  /** Own writes not yet ordered, oldest first, from pendingHead on. */
  private pending: PendingWrite[] = []
  private pendingHead = 0
  /** How many pending writes touch each page: an Update on other pages skips the overlay. */
  private readonly pendingPages = new Map<number, number>()
  private readonly updateListeners = new Set<(offset: number, length: number) => void>()
  /** Own writes stored and not yet sent (combining). */
  private readonly dirty = new DirtyRanges()
  /** The owner's register ranges in this window (Subscribed.registers). */
  registers: Range[] = []

  constructor (id: number, spec: WindowSpec) {
    super(spec.size)
    this.id = id
    this.spec = spec
  }

  protected get what (): string { return `window ${this.id} (${this.spec.peer}:${String(this.spec.region)})` }

  /** Writes not yet ordered by the owner. */
  get unordered (): number { return this.pending.length - this.pendingHead }

  write (offset: number, bytes: Uint8Array): void {
    this.check(offset, bytes.length)
    const link = this.link
    if (link === null || this.state === 'closed' || this.state === 'failed') {
      throw new UnavailableError(`${this.what} is ${this.link === null ? 'not linked' : this.state}`)
    }
    if (this.spec.replica && this.state === 'open' && link.combining && !overlapsAny(this.registers, offset, bytes.length)) {
      this.store(offset, bytes)
      this.dirty.add(offset, offset + bytes.length)
      link.defer(this)
      this.counters.writes++
      this.bytes.written += bytes.length
      return
    }
    const data = Uint8Array.prototype.slice.call(bytes)
    const wseq = ++this.wseq
    if (this.spec.replica) {
      this.store(offset, data)
      this.pending.push({ wseq, offset, data })
      this.countPages(offset, data.length, 1)
    }
    link.send({ write: { window: this.id, offset, length: data.length, wseq } }, data)
    this.counters.writes++
    this.bytes.written += data.length
  }

  /** The link reached an ordering point: the dirty ranges go as one Write (or a few, past 1 MiB). */
  emitFrames (): void {
    const link = this.link
    if (this.dirty.empty || link === null) return
    for (const f of this.dirty.takeFrames(MAX_WRITE_BYTES)) {
      const { bulk, headroom } = bulkWithHeadroom(f.bytes, f.ranges.length)
      const wseq = ++this.wseq
      let at = 0
      for (const r of f.ranges) {
        const data = bulk.subarray(at, at + r.length)
        this.readInto(r.offset, data)
        this.pending.push({ wseq, offset: r.offset, data })
        this.countPages(r.offset, r.length, 1)
        at += r.length
      }
      link.send({ write: { window: this.id, wseq, ranges: f.ranges } }, bulk, headroom)
    }
  }

  /** Owner's Update: apply, then lay the still-unordered own writes back on top. */
  applyUpdate (offset: number, data: Uint8Array): void {
    this.applyUpdateRanges([{ offset, length: data.length }], data)
  }

  /**
   * Owner's Update of one or more ranges (bytes in `bulk`, in order): all
   * applied, own unordered writes laid back over them, then each reported.
   */
  applyUpdateRanges (ranges: readonly Range[], bulk: Uint8Array): void {
    for (const r of ranges) this.check(r.offset, r.length)
    // Own writes not yet sent would be overwritten: send them first, so
    // they become pending writes the overlay puts back.
    if (!this.dirty.empty && this.link !== null) {
      for (const r of ranges) {
        if (this.dirty.intersects(r.offset, r.offset + r.length)) { this.link.materialize(); break }
      }
    }
    let at = 0
    for (const r of ranges) {
      this.store(r.offset, bulk.subarray(at, at + r.length))
      at += r.length
      if (this.touchesPending(r.offset, r.length)) this.overlay(r.offset, r.offset + r.length)
    }
    this.counters.updates++
    this.bytes.updated += at
    for (const r of ranges) for (const l of this.updateListeners) l(r.offset, r.length)
  }

  private overlay (offset: number, end: number): void {
    for (let i = this.pendingHead; i < this.pending.length; i++) {
      const p = this.pending[i]!
      const from = Math.max(p.offset, offset)
      const to = Math.min(p.offset + p.data.length, end)
      if (from < to) this.store(from, p.data.subarray(from - p.offset, to - p.offset))
    }
  }

  private touchesPending (offset: number, length: number): boolean {
    if (this.pendingPages.size === 0) return false
    const last = Math.floor((offset + length - 1) / PAGE_SIZE)
    for (let page = Math.floor(offset / PAGE_SIZE); page <= last; page++) if (this.pendingPages.has(page)) return true
    return false
  }

  private countPages (offset: number, length: number, delta: number): void {
    if (length === 0) return
    const last = Math.floor((offset + length - 1) / PAGE_SIZE)
    for (let page = Math.floor(offset / PAGE_SIZE); page <= last; page++) {
      const n = (this.pendingPages.get(page) ?? 0) + delta
      if (n === 0) this.pendingPages.delete(page)
      else this.pendingPages.set(page, n)
    }
  }

  /**
   * Told of each owner Update once applied (window-relative range): how a
   * register block's user notices what the owner wrote back, without polling.
   */
  onUpdate (l: (offset: number, length: number) => void): () => void {
    this.updateListeners.add(l)
    return () => { this.updateListeners.delete(l) }
  }

  /** Owner's Ordered: own writes up to wseq are part of the owner's order now. */
  ordered (wseq: number): void {
    while (this.pendingHead < this.pending.length && this.pending[this.pendingHead]!.wseq <= wseq) {
      const p = this.pending[this.pendingHead++]!
      this.countPages(p.offset, p.data.length, -1)
    }
    if (this.pendingHead === this.pending.length) {
      this.pending = []
      this.pendingHead = 0
    } else if (this.pendingHead > 1024) {
      this.pending = this.pending.slice(this.pendingHead)
      this.pendingHead = 0
    }
  }

  /** Owner refused write `wseq`: forget it (the owner's Updates correct the bytes). */
  rejected (wseq: number, why: string): void {
    const keep: PendingWrite[] = []
    for (let i = this.pendingHead; i < this.pending.length; i++) {
      const p = this.pending[i]!
      if (p.wseq === wseq) this.countPages(p.offset, p.data.length, -1)
      else keep.push(p)
    }
    this.pending = keep
    this.pendingHead = 0
    this.counters.errors++
    this.lastError = why
  }

  /** A new session: the replica starts again from the owner's snapshot. */
  reset (link: FrameSender | null): void {
    this.clear()
    this.dirty.clear()
    this.registers = []
    this.pending = []
    this.pendingHead = 0
    this.pendingPages.clear()
    this.wseq = 0
    this.link = link
    if (this.state !== 'closed') this.state = 'opening'
  }
}
