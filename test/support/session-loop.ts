// In-memory links that carry frames the way PeerLink does, without sockets:
// write combining (deferred sources, every send an ordering point, the rest
// at the end of the turn), a LinkSession per side (sequence numbers, acks,
// replay) and the packet codec, compact or protobuf. Packets are delivered
// asynchronously, a random number per turn, and `reconnect()` drops every
// packet in flight and resumes both sessions from each other's resume point,
// as a dropped TCP connection that comes back does.

import { LinkSession, type Delivery } from '../../daemon/src/link/session.js'
import { decodePacket, type Frame } from '../../daemon/src/link/codec.js'
import { decodeCompact, isCompact } from '../../daemon/src/link/compact.js'
import type { DeferredFrames, FrameSender } from '../../daemon/src/mem/frame-sender.js'
import { DeferredQueue } from '../../daemon/src/link/deferred.js'

export type SessionHandler = (link: SessionEnd, d: Delivery) => boolean

export class SessionEnd implements FrameSender {
  readonly name: string
  far!: SessionEnd
  handler: SessionHandler | null = null
  readonly errors: unknown[] = []
  readonly unhandled: Frame[] = []
  readonly session: LinkSession
  /** Packets sent by the far end and not yet delivered here. */
  readonly inbox: Buffer[] = []
  private readonly deferred = new DeferredQueue()
  private flushQueued = false

  constructor (name: string, readonly combining: boolean, incarnations: [Uint8Array, Uint8Array]) {
    this.name = name
    this.session = new LinkSession(incarnations[0], incarnations[1])
    this.session.compact = combining
  }

  send (frame: Frame, bulk?: Uint8Array, headroom?: number): void {
    this.materialize()
    this.session.send(frame, bulk, headroom)
    this.queueFlush()
  }

  defer (source: DeferredFrames): void {
    this.deferred.add(source)
    this.queueFlush()
  }

  hasRoom (): boolean { return true }

  materialize (): void { this.deferred.run() }

  /** The end of the turn: combined writes, then every queued frame, onto the wire. */
  flush (): void {
    this.flushQueued = false
    this.materialize()
    for (const p of this.session.drain()) this.far.inbox.push(p)
  }

  private queueFlush (): void {
    if (this.flushQueued) return
    this.flushQueued = true
    setImmediate(() => { this.flush() })
  }

  /** Delivers up to `n` packets from the inbox. */
  deliver (n: number): void {
    for (let i = 0; i < n && this.inbox.length > 0; i++) {
      const p = this.inbox.shift()!
      let ds: Delivery[]
      try {
        ds = this.session.receive(isCompact(p) ? decodeCompact(p) : decodePacket(p))
      } catch (err) {
        this.errors.push(err)
        continue
      }
      for (const d of ds) {
        try {
          if (this.handler?.(this, d) !== true) this.unhandled.push(d.frame)
        } catch (err) {
          this.errors.push(err)
        }
      }
      if (this.session.owesAck) this.queueFlush()
    }
  }

  get idle (): boolean { return this.inbox.length === 0 && !this.deferred.pending && !this.session.pending && !this.flushQueued }
}

/** Both ends of one link, named after the far side as PeerLink is. */
export function sessionLink (a: string, b: string, combining: boolean): [SessionEnd, SessionEnd] {
  const ia = Uint8Array.of(1, 2, 3, 4)
  const ib = Uint8Array.of(5, 6, 7, 8)
  const atA = new SessionEnd(b, combining, [ia, ib])
  const atB = new SessionEnd(a, combining, [ib, ia])
  atA.far = atB
  atB.far = atA
  return [atA, atB]
}

/**
 * The connection under a link drops and comes back: packets in flight are
 * lost, and each side resends from the point the other asks for.
 */
export function reconnect (x: SessionEnd): void {
  const y = x.far
  x.inbox.length = 0
  y.inbox.length = 0
  for (const [from, to] of [[x, y], [y, x]] as const) {
    if (!from.session.resumeFrom(to.session.nextExpected)) throw new Error(`${to.name} -> ${from.name}: cannot resume`)
  }
  x.flush()
  y.flush()
}
