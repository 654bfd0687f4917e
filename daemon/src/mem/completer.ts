// The owner's side of windows: serves peers' Subscribe, Write and Read on
// this daemon's regions (the PCIe completer), and streams every write of a
// region, in the owner's order, to the replicas subscribed to it.
//
// Ordering: a window's own writes are not echoed back; the owner tells the
// window how far it has applied them with Ordered. An Ordered is always sent
// before the next Update to that window, so the replica can lay the Update
// over exactly the writes that came before it.

import { wire, type Frame } from '../link/codec.js'
import type { Delivery } from '../link/session.js'
import { PAGE_SIZE } from './paged-memory.js'
import type { Region } from './region.js'
import type { RegionTable } from './region-table.js'
import { SoclinkError } from '../errors.js'
import type { FrameSender } from './frame-sender.js'

const Status = wire.Status
/** Largest non-posted read served in one completion. */
export const MAX_READ = 16 * 1024 * 1024

interface Subscription {
  link: FrameSender
  window: number
  region: Region
  base: number
  size: number
  replica: boolean
  /** Highest wseq applied but not yet reported with Ordered. */
  unordered: number
  stopObserving: () => void
}

export interface CompleterCounters {
  subscriptions: number
  writesApplied: number
  updatesSent: number
  readsServed: number
  unsupportedRequests: number
  completerAborts: number
}

export class Completer {
  private readonly regions: RegionTable
  /** Per link, its windows by the peer's window id. */
  private readonly subs = new Map<FrameSender, Map<number, Subscription>>()
  private readonly unordered = new Set<Subscription>()
  private orderedFlushQueued = false
  readonly counters: CompleterCounters = {
    subscriptions: 0, writesApplied: 0, updatesSent: 0, readsServed: 0, unsupportedRequests: 0, completerAborts: 0
  }

  constructor (regions: RegionTable) {
    this.regions = regions
    // A removed region fails its windows on the peers (Subscribed with UR),
    // as a BAR that disappears answers Unsupported Request from then on.
    regions.onRemoved((r) => {
      for (const m of this.subs.values()) {
        for (const s of [...m.values()]) {
          if (s.region !== r) continue
          this.drop(s)
          try {
            s.link.send({ subscribed: { window: s.window, status: Status.STATUS_UNSUPPORTED_REQUEST, regionId: r.id, regionName: r.name, regionSize: r.size, message: `region ${r.name} was removed` } })
          } catch (err) {
            if (!(err instanceof SoclinkError)) throw err
          }
        }
      }
    })
  }

  /** Handles a frame addressed to the owner side; false if it is not one. */
  handle (link: FrameSender, d: Delivery): boolean {
    const f = d.frame
    if (f.subscribe != null) this.subscribe(link, f.subscribe)
    else if (f.write != null) this.write(link, f.write, d.bulk ?? new Uint8Array())
    else if (f.read != null) this.read(link, f.read)
    else if (f.unsubscribe != null) {
      const s = this.subs.get(link)?.get(f.unsubscribe.window ?? 0)
      if (s !== undefined) this.drop(s)
    } else return false
    return true
  }

  /** The link's session ended: its windows are gone. */
  linkDown (link: FrameSender): void {
    const m = this.subs.get(link)
    if (m === undefined) return
    for (const s of [...m.values()]) this.drop(s)
    this.subs.delete(link)
  }

  /** Subscriptions per region, for state views. */
  subscribers (region: Region): Array<{ peer: string, window: number, base: number, size: number, replica: boolean }> {
    const out = []
    for (const m of this.subs.values()) {
      for (const s of m.values()) {
        if (s.region === region) out.push({ peer: s.link.name, window: s.window, base: s.base, size: s.size, replica: s.replica })
      }
    }
    return out
  }

  private subscribe (link: FrameSender, req: NonNullable<Frame['subscribe']>): void {
    const window = req.window ?? 0
    const ref = req.regionName !== undefined && req.regionName !== null && req.regionName !== '' ? req.regionName : (req.regionId ?? 0)
    const region = this.regions.findFor(ref, link.name)
    const base = req.offset ?? 0
    const size = req.size ?? 0
    let m = this.subs.get(link)
    const reply = (status: number, message: string): void => {
      link.send({ subscribed: { window, status, regionId: region?.id ?? 0, regionName: region?.name ?? '', regionSize: region?.size ?? 0, message } })
    }
    if (region === undefined) {
      this.counters.unsupportedRequests++
      reply(Status.STATUS_UNSUPPORTED_REQUEST, `no region ${JSON.stringify(ref)}`)
      return
    }
    if (size === 0 || base + size > region.size) {
      this.counters.completerAborts++
      reply(Status.STATUS_COMPLETER_ABORT, `window [${base}, ${base + size}) is outside region ${region.name} (${region.size} bytes)`)
      return
    }
    if (m?.has(window) === true) this.drop(m.get(window)!)
    if (m === undefined) { m = new Map(); this.subs.set(link, m) }
    const sub: Subscription = {
      link, window, region, base, size, replica: req.replica === true, unordered: 0,
      stopObserving: () => {}
    }
    m.set(window, sub)
    this.counters.subscriptions++
    if (sub.replica) {
      // The snapshot goes out first, then every later write, in order.
      for (const page of region.populated()) {
        const from = Math.max(page * PAGE_SIZE, base)
        const to = Math.min((page + 1) * PAGE_SIZE, base + size)
        if (from < to) this.sendUpdate(sub, from, region.read(from, to - from))
      }
      sub.stopObserving = region.observe((offset, bytes, origin) => { this.forward(sub, offset, bytes, origin) })
    }
    reply(Status.STATUS_OK, '')
  }

  private forward (sub: Subscription, offset: number, bytes: Uint8Array, origin: unknown): void {
    if (origin === sub) return
    const from = Math.max(offset, sub.base)
    const to = Math.min(offset + bytes.length, sub.base + sub.size)
    if (from >= to) return
    try {
      this.sendUpdate(sub, from, bytes.slice(from - offset, to - offset))
    } catch (err) {
      // A subscriber whose link just failed is dropped by linkDown; the
      // owner's write itself stands.
      if (!(err instanceof SoclinkError)) throw err
    }
  }

  private sendUpdate (sub: Subscription, regionOffset: number, data: Uint8Array): void {
    if (sub.unordered !== 0) this.sendOrdered(sub)
    sub.link.send({ update: { window: sub.window, offset: regionOffset - sub.base, length: data.length } }, data)
    this.counters.updatesSent++
  }

  private sendOrdered (sub: Subscription): void {
    sub.link.send({ ordered: { window: sub.window, wseq: sub.unordered } })
    sub.unordered = 0
    this.unordered.delete(sub)
  }

  private write (link: FrameSender, w: NonNullable<Frame['write']>, data: Uint8Array): void {
    const window = w.window ?? 0
    const wseq = w.wseq ?? 0
    const sub = this.subs.get(link)?.get(window)
    const offset = w.offset ?? 0
    const fail = (status: number, message: string): void => {
      link.send({ errorReport: { request: wire.ErrorReport.Request.REQUEST_WRITE, status, window, wseq, message } })
    }
    if (sub === undefined) {
      this.counters.unsupportedRequests++
      fail(Status.STATUS_UNSUPPORTED_REQUEST, `no window ${window}`)
      return
    }
    if (offset + data.length > sub.size) {
      this.counters.completerAborts++
      fail(Status.STATUS_COMPLETER_ABORT, `write of ${data.length} bytes at ${offset} is outside window ${window} (${sub.size} bytes)`)
      return
    }
    const refused = sub.region.refusal(sub.base + offset, data.length)
    if (refused !== null) {
      this.counters.unsupportedRequests++
      fail(Status.STATUS_UNSUPPORTED_REQUEST, refused)
      // The replica applied the write already: the region's bytes put it right.
      if (sub.replica) this.sendUpdate(sub, sub.base + offset, sub.region.read(sub.base + offset, data.length))
      return
    }
    // Marked ordered before it is applied: a write the owner makes in
    // reaction (a register's side effect) comes after it, so its Update must
    // follow the Ordered that covers this write.
    if (sub.replica && wseq !== 0) {
      sub.unordered = wseq
      this.unordered.add(sub)
      this.queueOrderedFlush()
    }
    sub.region.writeFrom(sub.base + offset, data, sub)
    this.counters.writesApplied++
  }

  /**
   * Ordered frames left at the end of the current callback go out before the
   * link's end-of-turn flush (microtasks run first).
   */
  private queueOrderedFlush (): void {
    if (this.orderedFlushQueued) return
    this.orderedFlushQueued = true
    queueMicrotask(() => {
      this.orderedFlushQueued = false
      for (const s of [...this.unordered]) {
        try { this.sendOrdered(s) } catch (err) { if (!(err instanceof SoclinkError)) throw err }
      }
    })
  }

  private read (link: FrameSender, r: NonNullable<Frame['read']>): void {
    const tag = r.tag ?? 0
    const sub = this.subs.get(link)?.get(r.window ?? 0)
    const offset = r.offset ?? 0
    const length = r.length ?? 0
    if (sub === undefined) {
      this.counters.unsupportedRequests++
      link.send({ readCompletion: { tag, status: Status.STATUS_UNSUPPORTED_REQUEST, length: 0 } }, new Uint8Array())
      return
    }
    if (length > MAX_READ || offset + length > sub.size) {
      this.counters.completerAborts++
      link.send({ readCompletion: { tag, status: Status.STATUS_COMPLETER_ABORT, length: 0 } }, new Uint8Array())
      return
    }
    const data = sub.region.read(sub.base + offset, length)
    this.counters.readsServed++
    link.send({ readCompletion: { tag, status: Status.STATUS_OK, length } }, data)
  }

  private drop (s: Subscription): void {
    s.stopObserving()
    this.unordered.delete(s)
    this.subs.get(s.link)?.delete(s.window)
  }
}
