// A TranslatedRegion: a region this daemon exposes whose bytes, from `base`
// to its end, live elsewhere. The translation is either
//   - one of this daemon's replica windows onto a peer's region: an NTB
//     memory-window BAR that the endpoint function translates into the
//     other host's memory (pci-epf-ntb.c maps the inbound BAR onto an
//     outbound window, pci_epc_map_addr, at the address the other host gave
//     with CMD_CONFIGURE_MW); or
//   - a range of a Region this daemon owns: pci-epf-ntb.c's peer scratchpad
//     BAR, which is the other host's config BAR from its spad_offset on
//     ("HOST2's peer scratchpad is also HOST1's self scratchpad").
// Bytes below `base` are plain memory this region owns (the doorbell slots
// in front of MW1 in pci-epf-ntb.c's BAR_DB_MW1).
//
// The region keeps a mirror of the translation's bytes, so that every reader
// (the completer, read8..read64) sees plain paged memory:
//   - a write that arrives here (from a peer's window onto this region) goes
//     on to the translation, whose owner orders it, and is mirrored and
//     reported to this region's observers at once, as any region write is;
//   - a change the translation's owner makes (an Update a window receives,
//     a write to the backing Region by anyone else) is mirrored and
//     reported too, so this region's subscribers follow the owner's order.
// Every change of the translation's bytes is forwarded, and the translation
// converges to its owner's bytes, so this region's replicas converge to them
// as well.
//
// Until a translation is attached, or once it is detached or its window's
// link is gone, the region refuses writes to the translated part with a
// reason (the completer answers Unsupported Request) and that part reads as
// zeros.

import { Region } from './region.js'
import { Window } from './window.js'
import { PAGE_SIZE } from './paged-memory.js'
import { checkRange } from './access.js'
import { OutOfRangeError } from '../errors.js'

/** A range of a local Region that a TranslatedRegion shows. */
export interface RegionRange {
  region: Region
  offset: number
  size: number
}

export type Translation = Window | RegionRange

export interface TranslatedRegionCounters {
  /** Writes passed on to the translation. */
  forwarded: number
  /** Changes mirrored from the translation. */
  mirrored: number
}

/** What the region needs of a translation, window or region range alike. */
interface Backing {
  readonly size: number
  /** Why the translation cannot take writes now, or null. */
  unavailable (): string | null
  read (offset: number, length: number): Uint8Array
  write (offset: number, bytes: Uint8Array): void
  /** Told of changes made by others (backing-relative); returns the way to stop. */
  listen (l: (offset: number, length: number) => void): () => void
  /** Ranges that may hold non-zero bytes, to mirror when attached. */
  ranges (): Array<[number, number]>
}

export class TranslatedRegion extends Region {
  /** Where the translated part starts; [0, base) is plain memory. */
  readonly base: number
  readonly counters: TranslatedRegionCounters = { forwarded: 0, mirrored: 0 }
  private target: Translation | null = null
  private backing: Backing | null = null
  private stopListening: () => void = () => {}

  constructor (id: number, name: string, size: number, base = 0) {
    super(id, name, size)
    checkRange(`region ${name}: translation base`, size, base, 0)
    this.base = base
  }

  /** The translation set, if any. */
  get translation (): Translation | null { return this.target }

  /** The window the region is translated onto, if the translation is one. */
  get window (): Window | null { return this.target instanceof Window ? this.target : null }

  /** Sets the translation: from now on [base, base + its size) is a view of it; it must fit. */
  attach (target: Translation): void {
    const b = target instanceof Window ? windowBacking(target) : rangeBacking(target)
    if (b.size > this.size - this.base) throw new OutOfRangeError(`a ${b.size}-byte translation does not fit ${this.what} (${this.size - this.base} bytes from ${this.base})`)
    this.detach()
    this.target = target
    this.backing = b
    this.stopListening = b.listen((offset, length) => { this.mirror(offset, length) })
    for (const [from, length] of b.ranges()) this.mirror(from, length)
  }

  /** Clears the translation: its part reads as zeros again, and the region's subscribers are told so. */
  detach (): void {
    if (this.backing === null) return
    this.stopListening()
    this.stopListening = () => {}
    this.target = null
    this.backing = null
    for (const page of this.populated()) {
      const from = Math.max(page * PAGE_SIZE, this.base)
      const to = Math.min((page + 1) * PAGE_SIZE, this.size)
      if (from < to) super.writeFrom(from, new Uint8Array(to - from), null)
    }
  }

  /** Why a peer's write would be refused now, or null. */
  override refusal (offset: number, length: number): string | null {
    if (offset + length <= this.base) return null
    const b = this.backing
    if (b === null) return `${this.what} has no translation`
    const why = b.unavailable()
    if (why !== null) return `${this.what}: ${why}`
    if (offset + length > this.base + b.size) return `${this.what}: ${length} bytes at ${offset} are past its ${b.size}-byte translation at ${this.base}`
    return null
  }

  override writeFrom (offset: number, bytes: Uint8Array, origin: unknown): void {
    this.check(offset, bytes.length)
    const why = this.refusal(offset, bytes.length)
    if (why !== null) throw new OutOfRangeError(why)
    this.forward(offset, bytes)
    super.writeFrom(offset, bytes, origin)
  }

  override writeRanges (ranges: ReadonlyArray<{ offset: number, length: number }>, bulk: Uint8Array, origin: unknown): void {
    for (const r of ranges) {
      this.check(r.offset, r.length)
      const why = this.refusal(r.offset, r.length)
      if (why !== null) throw new OutOfRangeError(why)
    }
    let at = 0
    for (const r of ranges) {
      this.forward(r.offset, bulk.subarray(at, at + r.length))
      at += r.length
    }
    super.writeRanges(ranges, bulk, origin)
  }

  /** Passes the translated part of a write on to the translation. */
  private forward (offset: number, bytes: Uint8Array): void {
    const end = offset + bytes.length
    if (end <= this.base) return
    const from = Math.max(offset, this.base)
    this.backing!.write(from - this.base, bytes.subarray(from - offset))
    this.counters.forwarded++
  }

  private mirror (offset: number, length: number): void {
    this.counters.mirrored++
    super.writeFrom(this.base + offset, this.backing!.read(offset, length), null)
  }
}

function windowBacking (w: Window): Backing {
  return {
    size: w.size,
    unavailable: () => w.link === null || w.state === 'closed' || w.state === 'failed'
      ? `its translation to ${w.spec.peer} is ${w.link === null ? 'not linked' : w.state}`
      : null,
    read: (offset, length) => w.read(offset, length),
    write: (offset, bytes) => { w.write(offset, bytes) },
    listen: (l) => w.onUpdate(l),
    ranges: () => w.populated().map((page): [number, number] => [page * PAGE_SIZE, Math.min(PAGE_SIZE, w.size - page * PAGE_SIZE)])
  }
}

function rangeBacking (r: RegionRange): Backing {
  checkRange(`region ${r.region.name}: translated range`, r.region.size, r.offset, r.size)
  if (r.size === 0) throw new OutOfRangeError('a translation needs a size above 0')
  const end = r.offset + r.size
  // Our own forwarded write comes back through the region's observers: it
  // is reported once, by writeFrom, not mirrored a second time.
  let forwarding = false
  return {
    size: r.size,
    unavailable: () => null,
    read: (offset, length) => r.region.read(r.offset + offset, length),
    write: (offset, bytes) => {
      forwarding = true
      try { r.region.write(r.offset + offset, bytes) } finally { forwarding = false }
    },
    listen: (l) => r.region.observe((offset, length) => {
      if (forwarding) return
      const from = Math.max(offset, r.offset)
      const to = Math.min(offset + length, end)
      if (from < to) l(from - r.offset, to - from)
    }),
    ranges: () => r.region.populated().flatMap((page): Array<[number, number]> => {
      const from = Math.max(page * PAGE_SIZE, r.offset)
      const to = Math.min((page + 1) * PAGE_SIZE, end)
      return from < to ? [[from - r.offset, to - from]] : []
    })
  }
}
