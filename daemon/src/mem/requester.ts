// The requester's side of windows: opens this daemon's windows on peers'
// regions, applies what owners send back (Subscribed, Update, Ordered,
// ReadCompletion, ErrorReport), issues non-posted reads, and reopens every
// window from a fresh snapshot when a session with its peer starts again.

import { EventEmitter } from 'node:events'
import { wire } from '../link/codec.js'
import type { Delivery } from '../link/session.js'
import { Window, type WindowSpec } from './window.js'
import type { FrameSender } from './frame-sender.js'
import { checkRange } from './access.js'
import { describeLinkStatus, errorOfLinkStatus } from './link-status.js'
import { NotFoundError, OutOfRangeError, TimeoutError, UnavailableError } from '../errors.js'

const Status = wire.Status

interface PendingRead {
  link: FrameSender
  resolve: (data: Uint8Array) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export interface RequesterEvents {
  /** A window opened, failed or closed. */
  window: [Window]
  /** An owner reported an error for a posted request. */
  error: [peer: string, message: string]
}

export class Requester extends EventEmitter<RequesterEvents> {
  private readonly windows = new Map<number, Window>()
  private nextWindow = 1
  private readonly reads = new Map<number, PendingRead>()
  private nextTag = 1
  private readonly readTimeoutMs: number
  private readonly linkOf: (peer: string) => FrameSender | null

  /** `linkOf` gives the live link to a peer, or null while it is down. */
  constructor (linkOf: (peer: string) => FrameSender | null, readTimeoutMs = 5000) {
    super()
    this.linkOf = linkOf
    this.readTimeoutMs = readTimeoutMs
  }

  /** Opens a window; it subscribes now if the peer is up, else when it comes up. */
  open (spec: WindowSpec): Window {
    checkRange('window', Number.MAX_SAFE_INTEGER, spec.offset, spec.size)
    if (spec.size === 0) throw new OutOfRangeError('a window needs a size above 0')
    const w = new Window(this.nextWindow++, spec)
    this.windows.set(w.id, w)
    const link = this.linkOf(spec.peer)
    if (link !== null) this.subscribe(w, link)
    return w
  }

  /** Resolves once the window is open; rejects if the owner refuses it. */
  /**
   * Resolves once the window is open; rejects if the owner refuses it, or at
   * once if the window is closed meanwhile (its device went away).
   */
  async opened (w: Window, timeoutMs = 5000): Promise<Window> {
    const settled = (): Error | Window | null =>
      w.state === 'open' ? w : w.state === 'failed' ? this.refusalOf(w) : w.state === 'closed' ? new UnavailableError(`window ${w.id} onto ${w.spec.peer}:${String(w.spec.region)} was closed`) : null
    const now = settled()
    if (now instanceof Error) throw now
    if (now !== null) return now
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.off('window', check); reject(new TimeoutError(`window ${w.id} did not open within ${timeoutMs} ms`)) }, timeoutMs)
      const check = (x: Window): void => {
        if (x !== w) return
        const r = settled()
        if (r === null) return
        clearTimeout(timer)
        this.off('window', check)
        if (r instanceof Error) reject(r)
        else resolve(r)
      }
      this.on('window', check)
    })
  }

  private refusalOf (w: Window): Error {
    return errorOfLinkStatus(w.refusal, `${w.spec.peer} refused the window: ${w.lastError}`)
  }

  get (id: number): Window {
    const w = this.windows.get(id)
    if (w === undefined) throw new NotFoundError('window', id)
    return w
  }

  /** Windows open (any state but closed). */
  get size (): number { return this.windows.size }

  list (): Window[] {
    return [...this.windows.values()]
  }

  close (id: number): void {
    const w = this.get(id)
    this.windows.delete(id)
    w.state = 'closed'
    try {
      w.link?.send({ unsubscribe: { window: w.id } })
    } catch {
      // The link cannot send (it is closed): the owner drops this window's subscription with the session.
    }
    w.link = null
    this.emit('window', w)
  }

  private subscribe (w: Window, link: FrameSender): void {
    w.reset(link)
    const s = w.spec
    link.send({
      subscribe: {
        window: w.id,
        regionName: typeof s.region === 'string' ? s.region : '',
        regionId: typeof s.region === 'number' ? s.region : 0,
        offset: s.offset,
        size: s.size,
        replica: s.replica
      }
    })
  }

  /** A new session with `peer`: reopen its windows from fresh snapshots. */
  linkUp (link: FrameSender): void {
    for (const w of this.windows.values()) if (w.spec.peer === link.name) this.subscribe(w, link)
  }

  /** The session with `peer` ended: its windows wait, reads in flight fail. */
  linkDown (link: FrameSender): void {
    for (const w of this.windows.values()) {
      if (w.spec.peer !== link.name) continue
      w.reset(null)
      this.emit('window', w)
    }
    for (const [tag, r] of this.reads) {
      if (r.link !== link) continue
      this.reads.delete(tag)
      clearTimeout(r.timer)
      r.reject(new UnavailableError(`link to ${link.name} went down during the read`))
    }
  }

  /** Non-posted read through the link, answered by the owner (never the replica). */
  async readRemote (w: Window, offset: number, length: number): Promise<Uint8Array> {
    checkRange(`window ${w.id}`, w.size, offset, length)
    const link = w.link
    if (link === null) throw new UnavailableError(`window ${w.id}: peer ${w.spec.peer} is down`)
    const tag = this.nextTag
    this.nextTag = this.nextTag >= 0xffff_ffff ? 1 : this.nextTag + 1
    w.counters.reads++
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(tag)
        reject(new TimeoutError(`read ${tag} on window ${w.id} had no completion within ${this.readTimeoutMs} ms`))
      }, this.readTimeoutMs)
      this.reads.set(tag, { link, resolve, reject, timer })
      link.send({ read: { tag, window: w.id, offset, length } })
    })
  }

  /** Handles a frame addressed to the requester side; false if it is not one. */
  handle (link: FrameSender, d: Delivery): boolean {
    const f = d.frame
    if (f.update != null) {
      const u = f.update
      const w = this.windowFor(link, u.window)
      const bulk = d.bulk ?? new Uint8Array()
      if (w !== undefined) {
        if (u.ranges != null && u.ranges.length > 0) w.applyUpdateRanges(u.ranges.map((r) => ({ offset: r.offset ?? 0, length: r.length ?? 0 })), bulk)
        else w.applyUpdate(u.offset ?? 0, bulk)
      }
    } else if (f.ordered != null) {
      this.windowFor(link, f.ordered.window)?.ordered(f.ordered.wseq ?? 0)
    } else if (f.subscribed != null) {
      const s = f.subscribed
      const w = this.windowFor(link, s.window)
      if (w === undefined) return true
      if (s.status === Status.STATUS_OK) {
        w.state = 'open'
        w.registers = (s.registers ?? []).map((r) => ({ offset: r.offset ?? 0, length: r.length ?? 0 }))
        w.regionId = s.regionId ?? 0
        w.regionName = s.regionName ?? ''
        w.lastError = ''
      } else {
        w.state = 'failed'
        w.refusal = s.status ?? Status.STATUS_UNSUPPORTED_REQUEST
        w.lastError = s.message ?? 'refused'
      }
      this.emit('window', w)
    } else if (f.readCompletion != null) {
      const c = f.readCompletion
      const r = this.reads.get(c.tag ?? 0)
      if (r === undefined || r.link !== link) return true
      this.reads.delete(c.tag ?? 0)
      clearTimeout(r.timer)
      if (c.status === Status.STATUS_OK) r.resolve(Uint8Array.prototype.slice.call(d.bulk ?? new Uint8Array()))
      else r.reject(errorOfLinkStatus(c.status ?? Status.STATUS_UNSUPPORTED_REQUEST, `${link.name} refused the read: ${describeLinkStatus(c.status)}`))
    } else if (f.errorReport != null) {
      const e = f.errorReport
      if (e.request === wire.ErrorReport.Request.REQUEST_WRITE) this.windowFor(link, e.window)?.rejected(e.wseq ?? 0, e.message ?? '')
      this.emit('error', link.name, e.message ?? '')
    } else return false
    return true
  }

  private windowFor (link: FrameSender, id: number | null | undefined): Window | undefined {
    const w = this.windows.get(id ?? 0)
    return w !== undefined && w.link === link ? w : undefined
  }
}
