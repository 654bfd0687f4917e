// The owner's side of windows: serves peers' Subscribe, Write and Read on
// this daemon's regions (the PCIe completer), and streams every write of a
// region, in the owner's order, to the replicas subscribed to it.
//
// Ordering: a window's own writes are not echoed back; the owner tells the
// window how far it has applied them with Ordered. An Ordered is always sent
// before the next Update to that window, so the replica can lay the Update
// over exactly the writes that came before it.
//
// Combining (proto/link.proto, "Write combining"): a subscription collects
// the ranges written in one turn and sends them as one Update when its link
// reaches an ordering point, the bytes read from the region then. Register
// ranges are sent write by write, at once.

import { wire, type Frame } from '../link/codec.js'
import type { Delivery } from '../link/session.js'
import { PAGE_SIZE } from './paged-memory.js'
import type { Region } from './region.js'
import type { RegionTable } from './region-table.js'
import { SoclinkError } from '../errors.js'
import { linkStatusOf } from './link-status.js'
import { bulkWithHeadroom, type DeferredFrames, type FrameSender } from './frame-sender.js'
import { DirtyRanges, overlapsAny, type Range } from './dirty-ranges.js'

const Status = wire.Status
/** Largest non-posted read served in one completion. */
export const MAX_READ = 16 * 1024 * 1024
/** Bytes one combined Update carries at most; more goes in several. */
export const MAX_UPDATE_BYTES = 1024 * 1024

/** One window a peer has open onto a region: the owner's end of it. */
class Subscription implements DeferredFrames {
  /** Highest wseq applied but not yet reported with Ordered. */
  unordered = 0
  /** Region ranges written since the last Update, to send at the next ordering point. */
  readonly dirty = new DirtyRanges()
  /** Window-relative register ranges (never combined). */
  readonly registers: Range[]
  stopObserving: () => void = () => {}

  constructor (
    readonly owner: Completer,
    readonly link: FrameSender,
    readonly window: number,
    readonly region: Region,
    readonly base: number,
    readonly size: number,
    readonly replica: boolean
  ) {
    this.registers = region.registersIn(base, size)
  }

  /** Whether [offset, offset + length) (region offsets) meets a register range. */
  touchesRegisters (offset: number, length: number): boolean {
    return overlapsAny(this.registers, offset - this.base, length)
  }

  emitFrames (): void { this.owner.emitUpdates(this) }
}

export interface CompleterCounters {
  subscriptions: number
  writesApplied: number
  updatesSent: number
  readsServed: number
  unsupportedRequests: number
  completerAborts: number
  /** Reads answered RETRY: their completion did not fit in the link's replay buffer then. */
  retries: number
  /** Requests whose answer could not be sent (the session ended). */
  unanswered: number
  /** Windows refused: the region's peers list does not name the peer. */
  accessDenied: number
}

export class Completer {
  private readonly regions: RegionTable
  /** Per link, its windows by the peer's window id. */
  private readonly subs = new Map<FrameSender, Map<number, Subscription>>()
  readonly counters: CompleterCounters = {
    subscriptions: 0, writesApplied: 0, updatesSent: 0, readsServed: 0, unsupportedRequests: 0, completerAborts: 0, retries: 0, unanswered: 0, accessDenied: 0
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
            s.link.send({ subscribed: { window: s.window, status: linkStatusOf('ERR_UNSUPPORTED_REQUEST'), regionId: r.id, regionName: r.name, regionSize: r.size, message: `region ${r.name} was removed` } })
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
    try {
      if (f.subscribe != null) this.subscribe(link, f.subscribe)
      else if (f.write != null) this.write(link, f.write, d.bulk ?? new Uint8Array())
      else if (f.read != null) this.read(link, f.read)
      else if (f.unsubscribe != null) {
        const s = this.subs.get(link)?.get(f.unsubscribe.window ?? 0)
        if (s !== undefined) this.drop(s)
      } else return false
    } catch (err) {
      // An answer the link cannot take (its session just ended under a
      // reply): the requester learns it from the session's end (reads in
      // flight fail, windows reopen). A completer never takes the daemon down.
      if (!(err instanceof SoclinkError)) throw err
      this.counters.unanswered++
    }
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
      reply(linkStatusOf('ERR_UNSUPPORTED_REQUEST'), `no region ${JSON.stringify(ref)}`)
      return
    }
    // The region's peers list (region-table.ts): reads and writes need a window, so this guards them too.
    if (!this.regions.allows(region, link.name)) {
      this.counters.accessDenied++
      reply(linkStatusOf('ERR_FORBIDDEN'), `region ${region.name} does not list peer ${link.name} among its peers`)
      return
    }
    if (size === 0 || base + size > region.size) {
      this.counters.completerAborts++
      reply(linkStatusOf('ERR_OUT_OF_RANGE'), `window [${base}, ${base + size}) is outside region ${region.name} (${region.size} bytes)`)
      return
    }
    if (m?.has(window) === true) this.drop(m.get(window)!)
    if (m === undefined) { m = new Map(); this.subs.set(link, m) }
    const sub = new Subscription(this, link, window, region, base, size, req.replica === true)
    m.set(window, sub)
    this.counters.subscriptions++
    if (sub.replica) {
      // The snapshot goes out first (combined, as any write), then every later write, in order.
      for (const page of region.populated()) {
        const from = Math.max(page * PAGE_SIZE, base)
        const to = Math.min((page + 1) * PAGE_SIZE, base + size)
        if (from < to) sub.dirty.add(from, to)
      }
      if (!sub.dirty.empty) link.defer(sub)
      sub.stopObserving = region.observe((offset, length, origin) => { this.forward(sub, offset, length, origin) })
    }
    const registers = sub.registers
    link.send({ subscribed: { window, status: Status.STATUS_OK, regionId: region.id, regionName: region.name, regionSize: region.size, message: '', registers } })
  }

  private forward (sub: Subscription, offset: number, length: number, origin: unknown): void {
    if (origin === sub) return
    const from = Math.max(offset, sub.base)
    const to = Math.min(offset + length, sub.base + sub.size)
    if (from >= to) return
    try {
      if (sub.touchesRegisters(from, to - from)) {
        // A register's new value goes now; send() is an ordering point, so
        // this window's Ordered and combined Updates so far go first.
        sub.link.send({ update: { window: sub.window, offset: from - sub.base, length: to - from } }, sub.region.read(from, to - from))
        this.counters.updatesSent++
        return
      }
      sub.dirty.add(from, to)
      sub.link.defer(sub)
    } catch (err) {
      // A subscriber whose link just failed is dropped by linkDown; the
      // owner's write itself stands.
      if (!(err instanceof SoclinkError)) throw err
    }
  }

  /**
   * The subscription's link reached an ordering point: Ordered for the
   * window's writes applied so far, then its dirty ranges as one Update
   * (several single-range ones to a peer without FEATURE_COMPACT), the bytes
   * read from the region now.
   */
  emitUpdates (sub: Subscription): void {
    if (sub.unordered !== 0) {
      const wseq = sub.unordered
      sub.unordered = 0
      sub.link.send({ ordered: { window: sub.window, wseq } })
    }
    const dirty = sub.dirty
    if (dirty.empty) return
    const region = sub.region
    if (sub.link.combining) {
      for (const f of dirty.takeFrames(MAX_UPDATE_BYTES, sub.base)) {
        const { bulk, headroom } = bulkWithHeadroom(f.bytes, f.ranges.length)
        let at = 0
        for (const r of f.ranges) {
          region.readInto(sub.base + r.offset, bulk.subarray(at, at + r.length))
          at += r.length
        }
        sub.link.send({ update: { window: sub.window, ranges: f.ranges } }, bulk, headroom)
        this.counters.updatesSent++
      }
      return
    }
    // A peer without FEATURE_COMPACT: one single-range Update per range, in 4 KiB pieces at most.
    for (const f of dirty.takeFrames(PAGE_SIZE, sub.base)) {
      for (const r of f.ranges) {
        sub.link.send({ update: { window: sub.window, offset: r.offset, length: r.length } }, region.read(sub.base + r.offset, r.length))
        this.counters.updatesSent++
      }
    }
  }

  /**
   * A window's posted write: one range, or several (a combined Write), all
   * checked before any is applied, and applied together.
   */
  private write (link: FrameSender, w: NonNullable<Frame['write']>, data: Uint8Array): void {
    const window = w.window ?? 0
    const wseq = w.wseq ?? 0
    const sub = this.subs.get(link)?.get(window)
    const ranges: Range[] = w.ranges != null && w.ranges.length > 0
      ? w.ranges.map((r) => ({ offset: r.offset ?? 0, length: r.length ?? 0 }))
      : [{ offset: w.offset ?? 0, length: data.length }]
    const fail = (status: number, message: string): void => {
      link.send({ errorReport: { request: wire.ErrorReport.Request.REQUEST_WRITE, status, window, wseq, message } })
    }
    if (sub === undefined) {
      this.counters.unsupportedRequests++
      fail(linkStatusOf('ERR_UNSUPPORTED_REQUEST'), `no window ${window}`)
      return
    }
    for (const r of ranges) {
      if (r.offset + r.length > sub.size) {
        this.counters.completerAborts++
        fail(linkStatusOf('ERR_OUT_OF_RANGE'), `write of ${r.length} bytes at ${r.offset} is outside window ${window} (${sub.size} bytes)`)
        return
      }
    }
    // A range the region refuses now (a translation not there) is refused
    // alone: the ranges of one combined Write were separate writes to the
    // window, and the others stand.
    let refused: string | null = null
    const accepted: Array<{ offset: number, length: number, at: number }> = []
    let at = 0
    for (const r of ranges) {
      const why = sub.region.refusal(sub.base + r.offset, r.length)
      if (why === null) accepted.push({ offset: sub.base + r.offset, length: r.length, at })
      else {
        refused ??= why
        // The replica applied the write already: the region's bytes put it right.
        if (sub.replica) sub.dirty.add(sub.base + r.offset, sub.base + r.offset + r.length)
      }
      at += r.length
    }
    if (refused !== null) {
      this.counters.unsupportedRequests++
      fail(linkStatusOf('ERR_UNSUPPORTED_REQUEST'), refused)
      if (sub.replica) link.defer(sub)
      if (accepted.length === 0) return
    }
    // Marked ordered before it is applied: a write the owner makes in
    // reaction (a register's side effect) comes after it, so its Update must
    // follow the Ordered that covers this write.
    if (sub.replica && wseq !== 0) {
      sub.unordered = wseq
      link.defer(sub)
    }
    if (accepted.length === ranges.length && ranges.length > 1) sub.region.writeRanges(accepted, data, sub)
    else for (const r of accepted) sub.region.writeFrom(r.offset, data.subarray(r.at, r.at + r.length), sub)
    this.counters.writesApplied++
  }

  private read (link: FrameSender, r: NonNullable<Frame['read']>): void {
    const tag = r.tag ?? 0
    const sub = this.subs.get(link)?.get(r.window ?? 0)
    const offset = r.offset ?? 0
    const length = r.length ?? 0
    if (sub === undefined) {
      this.counters.unsupportedRequests++
      link.send({ readCompletion: { tag, status: linkStatusOf('ERR_UNSUPPORTED_REQUEST'), length: 0 } }, new Uint8Array())
      return
    }
    if (length > MAX_READ || offset + length > sub.size) {
      this.counters.completerAborts++
      link.send({ readCompletion: { tag, status: linkStatusOf('ERR_OUT_OF_RANGE'), length: 0 } }, new Uint8Array())
      return
    }
    // The completion is an edge writer's: it may fill only the share of the
    // replay buffer such answers have (link/credit.ts). Several large reads
    // at once would otherwise end the session; the ones that do not fit now
    // are answered RETRY, and the requester asks again later.
    if (!link.hasRoom(length)) {
      this.counters.retries++
      link.send({ readCompletion: { tag, status: linkStatusOf('ERR_LINK_FULL'), length: 0 } }, new Uint8Array())
      return
    }
    const data = sub.region.read(sub.base + offset, length)
    this.counters.readsServed++
    link.send({ readCompletion: { tag, status: Status.STATUS_OK, length } }, data)
  }

  private drop (s: Subscription): void {
    s.stopObserving()
    s.dirty.clear()
    s.unordered = 0
    this.subs.get(s.link)?.delete(s.window)
  }
}
