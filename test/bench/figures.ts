// What a bench row measured, and how it compares with a baseline: plain
// data and arithmetic, no sockets, so the report is unit-tested.

import type { RoundTrips } from './stats.js'

/** Things per second; bytesEach gives MB/s too. */
export interface Rate { kind: 'rate', perSecond: number, unit: string, bytesEach?: number, latency?: RoundTrips }
/** Round trips, microseconds. */
export interface Rtt extends RoundTrips { kind: 'rtt' }
/** A quantity with no baseline (memory, start-up time). */
export interface Amount { kind: 'amount', value: number, unit: string, detail?: string }
export type Figure = Rate | Rtt | Amount

/** A raw WebSocket baseline: one message per send(), and corked per event-loop turn. */
export interface Baseline { label: string, one: Rate | Rtt, corked: Rate | Rtt }

export interface Row {
  id: string
  name: string
  figure: Figure
  /** Key of the row's baseline in the run's baselines. */
  baseline?: string
  /** Another figure of the same run this row is read against (NTB against PCIe). */
  against?: { label: string, figure: Rate | Rtt }
}

export const rate = (perSecond: number, unit: string, bytesEach?: number, latency?: RoundTrips): Rate =>
  ({ kind: 'rate', perSecond, unit, ...(bytesEach === undefined ? {} : { bytesEach }), ...(latency === undefined ? {} : { latency }) })
export const rtt = (r: RoundTrips): Rtt => ({ kind: 'rtt', ...r })
export const amount = (value: number, unit: string, detail?: string): Amount => ({ kind: 'amount', value, unit, ...(detail === undefined ? {} : { detail }) })

/**
 * How `f` compares with `base`: rates as f/base (above 1 is faster), round
 * trips as p50/p50 (below 1 is faster). NaN when the kinds differ.
 */
export function ratio (f: Figure, base: Rate | Rtt): number {
  if (f.kind === 'rate' && base.kind === 'rate') return f.perSecond / base.perSecond
  if (f.kind === 'rtt' && base.kind === 'rtt') return f.p50 / base.p50
  return NaN
}

/** p99 against p99, for round trips. */
export function tailRatio (f: Rtt, base: Rtt): number { return f.p99 / base.p99 }

const int = (n: number): string => Math.round(n).toLocaleString('en-US')
const us = (n: number): string => n < 100 ? n.toFixed(1) : int(n)

export function formatFigure (f: Figure): string {
  switch (f.kind) {
    case 'rate': {
      const mbs = f.bytesEach === undefined ? '' : ` (${(f.perSecond * f.bytesEach / 1e6).toFixed(1)} MB/s)`
      const lat = f.latency === undefined ? '' : `; send() p50 ${us(f.latency.p50)} µs, p99 ${us(f.latency.p99)} µs`
      return `${int(f.perSecond)} ${f.unit}${mbs}${lat}`
    }
    case 'rtt': return `p50 ${us(f.p50)} µs, p99 ${us(f.p99)} µs`
    case 'amount': return `${f.value.toFixed(f.value < 10 ? 1 : 0)} ${f.unit}${f.detail === undefined ? '' : ` (${f.detail})`}`
  }
}

/** One ratio cell: rates as r×; round trips as the p50 ratio with the p99 ratio beside it. */
export function formatRatio (f: Figure, base: Rate | Rtt): string {
  const r = ratio(f, base)
  if (Number.isNaN(r)) return '—'
  if (f.kind === 'rtt' && base.kind === 'rtt') return `${r.toFixed(2)} (p99 ${tailRatio(f, base).toFixed(2)})`
  return r.toFixed(2)
}

/** A ratio to another row of the run, in words: "0.60× the PCIe figure", round trips with "(p99 …×)" after. */
export function formatAgainst (f: Figure, other: Rate | Rtt, label: string): string {
  const tail = f.kind === 'rtt' && other.kind === 'rtt' ? ` (p99 ${tailRatio(f, other).toFixed(2)}×)` : ''
  return `${ratio(f, other).toFixed(2)}× ${label}${tail}`
}
