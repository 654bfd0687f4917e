// A TranslatedRegion: a region this daemon exposes whose bytes live on
// another peer, reached through one of this daemon's replica windows: an NTB
// memory-window BAR that the endpoint function translates into the other
// host's memory (pci-epf-ntb.c maps the inbound BAR onto an outbound window,
// pci_epc_map_addr, at the address the other host gave with
// CMD_CONFIGURE_MW).
//
// The region keeps a mirror of the window's view, so that every reader (the
// completer, read8..read64) sees plain paged memory:
//   - a write that arrives here (from a peer's window onto this region) goes
//     on to the window, whose owner orders it, and is mirrored and reported
//     to this region's observers at once, as any region write is;
//   - an Update the window receives from its owner is mirrored and reported
//     too, so this region's subscribers follow the owner's order one hop
//     later.
// Every change of the window's view is forwarded, and the window converges
// to its owner's bytes, so this region's replicas converge to them as well.
//
// Until a window is attached (the translation is set), or once it is
// detached or its link is gone, the region refuses writes with a reason
// (the completer answers Unsupported Request) and reads as zeros.

import { Region } from './region.js'
import type { Window } from './window.js'
import { PAGE_SIZE } from './paged-memory.js'
import { OutOfRangeError } from '../errors.js'

export interface TranslatedRegionCounters {
  /** Writes passed on to the window. */
  forwarded: number
  /** Owner Updates mirrored from the window. */
  mirrored: number
}

export class TranslatedRegion extends Region {
  readonly counters: TranslatedRegionCounters = { forwarded: 0, mirrored: 0 }
  private target: Window | null = null
  private offUpdate: () => void = () => {}

  /** The window the region is translated onto, if any. */
  get window (): Window | null { return this.target }

  /** Sets the translation: from now on the region is a view of `window`, whose size must not exceed the region's. */
  attach (window: Window): void {
    if (window.size > this.size) throw new OutOfRangeError(`a ${window.size}-byte translation does not fit ${this.what} (${this.size} bytes)`)
    this.detach()
    this.target = window
    this.offUpdate = window.onUpdate((offset, length) => { this.mirror(offset, length) })
    for (const page of window.populated()) {
      const from = page * PAGE_SIZE
      this.mirror(from, Math.min(PAGE_SIZE, window.size - from))
    }
  }

  /** Clears the translation: the region reads as zeros again, and its subscribers are told so. */
  detach (): void {
    if (this.target === null) return
    this.offUpdate()
    this.offUpdate = () => {}
    this.target = null
    for (const page of this.populated()) {
      const from = page * PAGE_SIZE
      super.writeFrom(from, new Uint8Array(Math.min(PAGE_SIZE, this.size - from)), null)
    }
  }

  /** Why a peer's write would be refused now, or null. */
  override refusal (offset: number, length: number): string | null {
    const w = this.target
    if (w === null) return `${this.what} has no translation`
    if (w.link === null || w.state === 'closed' || w.state === 'failed') return `${this.what}: its translation to ${w.spec.peer} is ${w.link === null ? 'not linked' : w.state}`
    if (offset + length > w.size) return `${this.what}: ${length} bytes at ${offset} are past its ${w.size}-byte translation`
    return null
  }

  override writeFrom (offset: number, bytes: Uint8Array, origin: unknown): void {
    this.check(offset, bytes.length)
    const why = this.refusal(offset, bytes.length)
    if (why !== null) throw new OutOfRangeError(why)
    this.target!.write(offset, bytes)
    this.counters.forwarded++
    super.writeFrom(offset, bytes, origin)
  }

  private mirror (offset: number, length: number): void {
    this.counters.mirrored++
    super.writeFrom(offset, this.target!.read(offset, length), null)
  }
}
