// Named doorbell targets this daemon declares (an NTB doorbell register, an
// MSI vector, a virtqueue notification) and the rings that peers send them.
// A Doorbell travels in the link's order, so it is never delivered before
// the writes that preceded it on the same link.
//
// Each target keeps the latency of its rings as this daemon sees it: from
// the arrival of the packet that carried the Doorbell (frames ahead of it in
// that packet, writes included, are applied first) to the return of its
// handler (an MSI's: the interrupt's whole handling). The link already reads
// the clock per packet (liveness), so a ring costs one clock read more.

import { EventEmitter } from 'node:events'
import { wire, type Frame } from './codec.js'
import type { Delivery } from './session.js'
import { ConflictError, NotFoundError } from '../errors.js'
import { realClock, type Clock } from './clock.js'
import { LatencyHistogram, TURN_BOUNDS } from './latency.js'

export type DoorbellHandler = (peer: string, value: number) => void

export interface DoorbellTarget {
  name: string
  rings: number
  lastValue: number
  handler: DoorbellHandler | undefined
  /** Seconds from the packet's arrival to the handler's return, per ring. */
  readonly latency: LatencyHistogram
}

interface Sender {
  readonly name: string
  send (frame: Frame): void
  /** When the packet being delivered arrived, on `clock`'s scale (a PeerLink's); absent: not measured. */
  readonly arrivedAt?: number
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/

export class DoorbellTable extends EventEmitter<{ ring: [peer: string, target: string, value: number] }> {
  private readonly targets = new Map<string, DoorbellTarget>()
  /** Rings of targets that were never declared. */
  unknownRings = 0

  /** The clock the links' arrival times are on. */
  constructor (private readonly clock: Clock = realClock) {
    super()
  }

  declare (name: string, handler?: DoorbellHandler): DoorbellTarget {
    if (!NAME.test(name)) throw new ConflictError(`doorbell name ${JSON.stringify(name)} must match ${String(NAME)}`)
    if (this.targets.has(name)) throw new ConflictError(`doorbell ${name} is declared`)
    const t: DoorbellTarget = { name, rings: 0, lastValue: 0, handler, latency: new LatencyHistogram(TURN_BOUNDS) }
    this.targets.set(name, t)
    return t
  }

  remove (name: string): void {
    if (!this.targets.delete(name)) throw new NotFoundError('doorbell', name)
  }

  list (): DoorbellTarget[] {
    return [...this.targets.values()]
  }

  /** Rings `target` on the peer at the other end of `link`. */
  ring (link: Sender, target: string, value: number): void {
    link.send({ doorbell: { target, value } })
  }

  /** Handles a Doorbell frame; false if the frame is something else. */
  handle (link: Sender, d: Delivery): boolean {
    const db = d.frame.doorbell
    if (db == null) return false
    const name = db.target ?? ''
    const value = db.value ?? 0
    const t = this.targets.get(name)
    if (t === undefined) {
      this.unknownRings++
      link.send({
        errorReport: {
          request: wire.ErrorReport.Request.REQUEST_DOORBELL,
          status: wire.Status.STATUS_UNSUPPORTED_REQUEST,
          target: name,
          message: `no doorbell target ${JSON.stringify(name)}`
        }
      })
      return true
    }
    t.rings++
    t.lastValue = value
    t.handler?.(link.name, value)
    const arrived = link.arrivedAt
    if (arrived !== undefined) t.latency.observe((this.clock.now() - arrived) / 1000)
    this.emit('ring', link.name, name, value)
    return true
  }
}
