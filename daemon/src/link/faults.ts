// A fault plan: what a fault-injecting proxy would do to one link, as a
// seeded schedule. Pure: no sockets, no timers; the socket edge
// (fault-gate.ts) asks it for the next fault and carries it out. The same
// spec and seed give the same faults, so a failing chaos run can be replayed.

import { SoclinkError } from '../errors.js'
import { FAULT_ACTIONS } from '../../../proto/api/names.js'

export { FAULT_ACTIONS }
/**
 * close: the TCP connection ends (FIN both ways, no WebSocket close frame);
 * reset: it ends with an RST; blackhole: for `ms` nothing passes either way
 * (held, as TCP holds bytes through a partition: delivered late if the
 * connection lives, lost with it if it dies); delay: for `ms` every packet
 * either way arrives `delayMs` late, in order.
 */
export type FaultAction = typeof FAULT_ACTIONS[number]

export interface FaultPlanSpec {
  /** The actions to draw from (one each time, at random when more than one). */
  actions: FaultAction[]
  /** How many faults in all (default 1: once). */
  count?: number
  /** Before the first fault (default 0). */
  afterMs?: number
  /** Between the end of one fault and the next: drawn from [gapMs, maxGapMs] (default 1000, maxGapMs = gapMs). */
  gapMs?: number
  maxGapMs?: number
  /** How long a blackhole or delay lasts: drawn from [ms, maxMs] (default 1000, maxMs = ms). */
  ms?: number
  maxMs?: number
  /** What a delay adds to each packet (default 100). */
  delayMs?: number
  /** The random generator's seed (default: drawn by the daemon, shown in the plan). */
  seed?: number
}

/** A spec with every default filled in. */
export type FaultPlanSettings = Required<FaultPlanSpec>

export interface Fault {
  action: FaultAction
  /** From the end of the previous fault (or from the plan's start, for the first). */
  waitMs: number
  /** Length of a blackhole or delay; 0 for close and reset. */
  ms: number
  /** Added to each packet during a delay; 0 otherwise. */
  delayMs: number
}

/** A plan that cannot be run (checked beyond its JSON Schema): a bad request. */
export class FaultPlanError extends SoclinkError {
  constructor (message: string) {
    super('ERR_VALIDATION', message)
  }
}

/** Fills in the defaults and checks what a JSON Schema cannot (ranges that depend on each other). */
export function faultPlanSettings (spec: FaultPlanSpec, seed: number): FaultPlanSettings {
  const gapMs = spec.gapMs ?? 1000
  const ms = spec.ms ?? 1000
  const out: FaultPlanSettings = {
    actions: [...new Set(spec.actions)],
    count: spec.count ?? 1,
    afterMs: spec.afterMs ?? 0,
    gapMs,
    maxGapMs: spec.maxGapMs ?? gapMs,
    ms,
    maxMs: spec.maxMs ?? ms,
    delayMs: spec.delayMs ?? 100,
    seed: (spec.seed ?? seed) >>> 0
  }
  if (out.actions.length === 0) throw new FaultPlanError('actions must name at least one of ' + FAULT_ACTIONS.join(', '))
  for (const a of out.actions) if (!FAULT_ACTIONS.includes(a)) throw new FaultPlanError(`unknown action ${JSON.stringify(a)}`)
  if (out.maxGapMs < out.gapMs) throw new FaultPlanError(`maxGapMs ${out.maxGapMs} is below gapMs ${out.gapMs}`)
  if (out.maxMs < out.ms) throw new FaultPlanError(`maxMs ${out.maxMs} is below ms ${out.ms}`)
  return out
}

/** mulberry32: a small, fast 32-bit generator, plenty for spreading faults. */
export function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class FaultPlan {
  readonly settings: FaultPlanSettings
  private readonly random: () => number
  /** Faults handed out so far. */
  fired = 0

  constructor (settings: FaultPlanSettings) {
    this.settings = settings
    this.random = mulberry32(settings.seed)
  }

  get remaining (): number { return this.settings.count - this.fired }

  /** The next fault, or null when the plan is done. */
  next (): Fault | null {
    const s = this.settings
    if (this.fired >= s.count) return null
    const waitMs = this.fired === 0 ? s.afterMs : this.between(s.gapMs, s.maxGapMs)
    const action = s.actions[Math.floor(this.random() * s.actions.length)]!
    const lasting = action === 'blackhole' || action === 'delay'
    // Every draw is made whatever the action, so one fault's kind never shifts the next one's numbers.
    const ms = this.between(s.ms, s.maxMs)
    this.fired++
    return { action, waitMs, ms: lasting ? ms : 0, delayMs: action === 'delay' ? s.delayMs : 0 }
  }

  /** An integer in [lo, hi]. */
  private between (lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1))
  }
}
