// soclink rpmsg perf's results: the JSON document and the human table.

import { table } from './format.js'
import type { ArrivalCounts } from './rpmsg-perf-check.js'

/** One direction of one run: what arrived, and how fast. */
export interface PerfFlow extends ArrivalCounts {
  from: string
  to: string
  /** Messages sent (over all endpoint pairs). */
  messages: number
  /** From the first send to the last arrival. */
  seconds: number
  msgPerSec: number
  /** Payload bytes per second, in 10^6 bytes. */
  mbPerSec: number
}

export interface PerfRtt {
  /** Round trips attempted (over all endpoint pairs), and answered. */
  rounds: number
  replies: number
  p50Ms: number | null
  p99Ms: number | null
  minMs: number | null
  maxMs: number | null
}

export interface PerfResult {
  /** The daemons' names: --api's, then --peer-api's. */
  a: string
  b: string
  size: number
  endpoints: number
  count: number
  oneWay: PerfFlow[]
  bothWays: PerfFlow[]
  rtt: PerfRtt
}

/** Rounded for reading: 3 significant decimals at most. */
const r3 = (n: number): number => Math.round(n * 1000) / 1000

export function flowOf (from: string, to: string, messages: number, size: number, seconds: number, counts: ArrivalCounts): PerfFlow {
  const rate = seconds > 0 ? counts.received / seconds : 0
  return { from, to, messages, seconds: r3(seconds), msgPerSec: Math.round(rate), mbPerSec: r3(rate * size / 1e6), ...counts }
}

const ms = (v: number | null): string => v === null ? '-' : v.toFixed(3)

export function perfText (p: PerfResult): string {
  const pairs = `${p.endpoints} endpoint pair${p.endpoints === 1 ? '' : 's'}`
  const head = `rpmsg perf ${p.a} <-> ${p.b}: ${p.size}-byte payloads, ${pairs}, ${p.count} messages per pair and direction`
  const rows = [...p.oneWay.map((f) => ['one-way', f] as const), ...p.bothWays.map((f) => ['both ways', f] as const)]
    .map(([run, f]) => [run, f.from, f.to, f.messages, f.seconds.toFixed(3), f.msgPerSec, f.mbPerSec.toFixed(2), f.lost, f.duplicated, f.reordered, f.corrupt])
  const t = table(['RUN', 'FROM', 'TO', 'MESSAGES', 'TIME S', 'MSG/S', 'MB/S', 'LOST', 'DUP', 'REORDERED', 'CORRUPT'], rows)
  const r = p.rtt
  const rtt = `round trip ${p.a} -> ${p.b} -> ${p.a}: ${r.replies}/${r.rounds} answered, p50 ${ms(r.p50Ms)} ms, p99 ${ms(r.p99Ms)} ms (min ${ms(r.minMs)}, max ${ms(r.maxMs)})`
  return `${head}\n${t}\n${rtt}`
}

/** Messages that did not arrive intact and once: lost, duplicated or corrupt (reordered ones arrived). */
export function damaged (p: PerfResult): number {
  return [...p.oneWay, ...p.bothWays].reduce((n, f) => n + f.lost + f.duplicated + f.corrupt, 0) + (p.rtt.rounds - p.rtt.replies)
}
