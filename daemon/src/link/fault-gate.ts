// The socket edge of fault injection: a PeerLink's packets pass through
// this gate, which carries out a fault plan (faults.ts) on the link's real
// connection, as a proxy between the two daemons would. Everything above the
// socket (session, replay, resume, redial) is the code that runs without
// faults: that is what the plan exercises. With no plan the gate is idle and
// packets go straight to the socket.

import type { Logger } from 'pino'
import type { Clock, Timer } from './clock.js'
import type { LinkSocket } from './transport.js'
import { FaultPlan, FAULT_ACTIONS, type Fault, type FaultAction, type FaultPlanSettings } from './faults.js'

export interface FaultView {
  plan: FaultPlanSettings
  /** Faults carried out so far, and still to come. */
  fired: number
  remaining: number
  /** The blackhole or delay in progress. */
  active: 'blackhole' | 'delay' | null
  /** Packets held now (both ways). */
  held: number
  /** Packets that were held when their connection ended: lost with it, as in a real network. */
  lost: number
  counts: Record<FaultAction, number>
}

/** What the gate needs from its link. */
export interface GateEdge {
  /** The connection the link uses now, or null between connections. */
  socket: () => LinkSocket | null
  /** Hands a packet that came in on `ws` to the link. */
  deliver: (ws: LinkSocket, data: Buffer, isBinary: boolean) => void
  logger: Logger
  clock: Clock
}

interface Held { ws: LinkSocket, data: Buffer, isBinary: boolean, at: number }

/** Packets one way, released in order at their times. */
class Lane {
  readonly items: Held[] = []
  private timer: Timer | null = null
  private last = 0

  constructor (private readonly clock: Clock, private readonly release: (h: Held) => void) {}

  push (h: Held): void {
    h.at = Math.max(h.at, this.last)
    this.last = h.at
    this.items.push(h)
    if (this.timer === null) this.arm()
  }

  private arm (): void {
    const head = this.items[0]
    if (head === undefined) return
    this.timer = this.clock.setTimeout(() => { this.timer = null; this.run() }, Math.max(0, head.at - this.clock.now()))
  }

  private run (): void {
    const now = this.clock.now()
    while (this.items.length > 0 && this.items[0]!.at <= now) this.release(this.items.shift()!)
    this.arm()
  }

  /** Drops everything held (returns how many). */
  clear (): number {
    this.clock.clearTimeout(this.timer)
    this.timer = null
    const n = this.items.length
    this.items.length = 0
    this.last = 0
    return n
  }
}

export class FaultGate {
  private readonly edge: GateEdge
  private plan: FaultPlan | null = null
  private readonly clock: Clock
  private timer: Timer | null = null
  private episode: { action: 'blackhole' | 'delay', until: number, delayMs: number } | null = null
  private readonly out: Lane
  private readonly in: Lane
  private lost = 0
  private counts = zeroCounts()

  constructor (edge: GateEdge) {
    this.edge = edge
    this.clock = edge.clock
    this.out = new Lane(edge.clock, (h) => {
      if (this.live(h.ws)) h.ws.send(h.data)
      else this.lost++
    })
    this.in = new Lane(edge.clock, (h) => {
      if (this.live(h.ws)) this.edge.deliver(h.ws, h.data, h.isBinary)
      else this.lost++
    })
  }

  /** True while packets must go through the gate (a fault in progress, or packets still held). */
  get active (): boolean {
    return this.episode !== null || this.out.items.length > 0 || this.in.items.length > 0
  }

  /** How long a dialer waits before it dials: a blackhole lets no connection through. */
  dialWaitMs (): number {
    return this.episode?.action === 'blackhole' ? Math.max(0, this.episode.until - this.clock.now()) : 0
  }

  /** Starts a plan (replacing any); null clears it and releases what is held. */
  set (settings: FaultPlanSettings | null): void {
    this.stopPlan()
    this.episode = null
    this.counts = zeroCounts()
    this.lost = 0
    if (settings === null) {
      this.plan = null
      this.releaseHeld()
      return
    }
    this.plan = new FaultPlan(settings)
    this.edge.logger.warn({ plan: settings }, 'fault plan set')
    // A first fault due at once is in force before set() returns (and so before the PUT that set it is
    // answered): a timer of 0 ms could let a packet the caller sends next slip through ahead of it.
    const first = this.plan.next()
    if (first === null) return
    if (first.waitMs === 0) this.fire(first)
    else this.timer = this.clock.setTimeout(() => { this.timer = null; this.fire(first) }, first.waitMs)
  }

  view (): FaultView | null {
    const p = this.plan
    if (p === null) return null
    const fired = Object.values(this.counts).reduce((a, b) => a + b, 0)
    return {
      plan: p.settings,
      fired,
      remaining: p.settings.count - fired,
      active: this.episode?.action ?? null,
      held: this.out.items.length + this.in.items.length,
      lost: this.lost,
      counts: { ...this.counts }
    }
  }

  /** An outgoing packet on `ws`, while the gate is active. */
  send (ws: LinkSocket, data: Buffer): void {
    this.out.push({ ws, data, isBinary: true, at: this.releaseAt() })
  }

  /** An incoming packet on `ws`, while the gate is active. */
  receive (ws: LinkSocket, data: Buffer, isBinary: boolean): void {
    this.in.push({ ws, data, isBinary, at: this.releaseAt() })
  }

  /** The link closed for good: no more faults, nothing held. */
  close (): void {
    this.stopPlan()
    this.episode = null
    this.out.clear()
    this.in.clear()
  }

  private releaseAt (): number {
    const e = this.episode
    if (e === null) return this.clock.now()
    return e.action === 'blackhole' ? e.until : this.clock.now() + e.delayMs
  }

  private live (ws: LinkSocket): boolean {
    return ws === this.edge.socket() && ws.open
  }

  private releaseHeld (): void {
    const held = [...this.out.items.map((h) => [h, true] as const), ...this.in.items.map((h) => [h, false] as const)]
    this.out.clear()
    this.in.clear()
    for (const [h, outgoing] of held) {
      if (!this.live(h.ws)) continue
      if (outgoing) h.ws.send(h.data)
      else this.edge.deliver(h.ws, h.data, h.isBinary)
    }
  }

  private stopPlan (): void {
    this.clock.clearTimeout(this.timer)
    this.timer = null
  }

  private scheduleNext (): void {
    const f = this.plan?.next() ?? null
    if (f === null) return
    this.timer = this.clock.setTimeout(() => { this.timer = null; this.fire(f) }, f.waitMs)
  }

  private fire (f: Fault): void {
    this.counts[f.action]++
    const ws = this.edge.socket()
    this.edge.logger.warn({ fault: f, connected: ws !== null }, `fault injected: ${f.action}`)
    switch (f.action) {
      case 'close':
      case 'reset':
        // As a proxy between the daemons would: under the WebSocket, not with a close frame (ws-transport.ts).
        ws?.cut(f.action)
        break
      case 'blackhole':
      case 'delay':
        this.episode = { action: f.action, until: this.clock.now() + f.ms, delayMs: f.delayMs }
        this.timer = this.clock.setTimeout(() => { this.timer = null; this.episode = null; this.scheduleNext() }, f.ms)
        return
    }
    this.scheduleNext()
  }
}

function zeroCounts (): Record<FaultAction, number> {
  return Object.fromEntries(FAULT_ACTIONS.map((a) => [a, 0])) as Record<FaultAction, number>
}
