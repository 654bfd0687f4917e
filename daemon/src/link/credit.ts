// Back-pressure at a link's edge: how much of the replay buffer writers at
// the edge (REST, read completions, the rpmsg gateway) may fill, the room
// promised to them this turn, and the writers waiting for room, first come
// first served. PeerLink owns one per link and tells it when acks free bytes
// and when a turn ends; the session itself is never ended by an edge writer.
//
// Writers at the edge (REST writes and reads through windows, region writes
// streamed to subscribers, read completions, the rpmsg gateway) ask for room
// first (hasRoom, waitForRoom) and may fill the replay buffer up to
// EDGE_SHARE of its bound; they wait, and the session goes on. The rest is
// kept for protocol frames, which are never refused: vring and buffer
// writes are bounded by the rings (a buffer comes back only in a packet that
// acknowledges the frames that carried it, so at most the rings' buffers are
// unacknowledged), and acks, pings, doorbells, Ordered and Subscribe frames
// are a few bytes each. Only past the whole bound does the session fail
// (ReplayOverflowError).

import { realClock, type Clock, type Timer } from './clock.js'
import { LinkFullError, TooLargeError, UnavailableError } from '../errors.js'

/** Share of maxReplayBytes writers at the edge may fill; the rest is kept for protocol frames. */
export const EDGE_SHARE = 0.5

interface RoomWaiter {
  bytes: number
  resolve: () => void
  reject: (err: Error) => void
  timer: Timer
}

export interface CreditHost {
  /** Bytes in the replay buffer now; null without a session. */
  unackedBytes: () => number | null
  /** The peer, for messages. */
  label: () => string
  /** Reserved bytes are released at the end of the turn: make sure one comes. */
  scheduleTurn: () => void
  /** Room came back after a writer found none. */
  onRoom: () => void
}

export class EdgeCredit {
  /** Bytes edge writers may have unacknowledged at once. */
  readonly limit: number
  /** Bytes promised to edge writers this turn, not yet in the replay buffer. */
  private reserved = 0
  private readonly waiters: RoomWaiter[] = []
  /** A writer found no room: onRoom is called once there is some again. */
  private starved = false

  /** `clock` times waitForRoom (PeerLink passes the link's). */
  constructor (maxReplayBytes: number, private readonly host: CreditHost, private readonly clock: Clock = realClock) {
    this.limit = Math.floor(maxReplayBytes * EDGE_SHARE)
  }

  /** Bytes an edge writer may queue now (0 without a session). */
  get room (): number {
    const unacked = this.host.unackedBytes()
    return unacked === null ? 0 : Math.max(0, this.limit - unacked - this.reserved)
  }

  /** Whether someone waits, or found no room, and should hear of acks. */
  get wanted (): boolean { return this.waiters.length > 0 || this.starved }

  /** Whether `bytes` may be queued now (room, and nobody waiting before). A false answer asks for onRoom. */
  hasRoom (bytes: number): boolean {
    if (this.host.unackedBytes() !== null && this.waiters.length === 0 && bytes <= this.room) return true
    this.starved = true
    return false
  }

  /** Takes room for `bytes` queued in this turn (combined writes reach the replay buffer at its end). */
  reserve (bytes: number): void {
    this.reserved += bytes
    this.host.scheduleTurn()
  }

  /**
   * Resolves, with the room reserved, once `bytes` fit. Rejects with
   * LinkFullError after `timeoutMs`, UnavailableError if the session ends,
   * TooLargeError at once if `bytes` can never fit.
   */
  async waitForRoom (bytes: number, timeoutMs: number): Promise<void> {
    const label = this.host.label()
    if (bytes > this.limit) throw new TooLargeError(`${bytes} bytes can never fit in the link to ${label}: writers may have ${this.limit} bytes unacknowledged (half of maxReplayBytes)`)
    if (this.host.unackedBytes() === null) throw new UnavailableError(`link to ${label} is down`)
    if (this.hasRoom(bytes)) { this.reserve(bytes); return }
    await new Promise<void>((resolve, reject) => {
      const w: RoomWaiter = {
        bytes,
        resolve,
        reject,
        timer: this.clock.setTimeout(() => {
          const i = this.waiters.indexOf(w)
          if (i >= 0) this.waiters.splice(i, 1)
          reject(new LinkFullError(`the link to ${label} has had no room for ${bytes} bytes for ${timeoutMs} ms (${this.host.unackedBytes() ?? 0} bytes unacknowledged); try again`))
          this.serve()
        }, timeoutMs)
      }
      this.waiters.push(w)
    })
  }

  /** Acks freed room: serve waiters in order, then tell the starved. */
  serve (): void {
    while (this.waiters.length > 0 && this.waiters[0]!.bytes <= this.room) {
      const w = this.waiters.shift()!
      this.clock.clearTimeout(w.timer)
      this.reserve(w.bytes)
      w.resolve()
    }
    if (this.starved && this.waiters.length === 0 && this.room > 0) {
      this.starved = false
      this.host.onRoom()
    }
  }

  /** The turn's frames are in the replay buffer: reservations end. */
  turnEnded (): void {
    this.reserved = 0
    if (this.wanted) this.serve()
  }

  /** The session ended: every waiter fails. */
  sessionEnded (reason: string): void {
    this.reserved = 0
    for (const w of this.waiters.splice(0)) {
      this.clock.clearTimeout(w.timer)
      w.reject(new UnavailableError(`link to ${this.host.label()} went down: ${reason}`))
    }
  }
}
