// Issue 10's "Done when" goals that a bench run measures, each beside its
// figure from the run's rows: plain arithmetic, unit-tested.

import { ratio, type Baseline, type Figure, type Row } from './figures.js'
import type { Goal } from './report.js'

/** A goal on one row: its ratio to a baseline (one-per-send) or to another row, against a bound. */
interface Spec { goal: string, row: string, to: { baseline: string } | { row: string }, at: 'least' | 'most', bound: number }

const SPECS: Spec[] = [
  { goal: 'rpmsg in-daemon one-way 496 B rc → ep ≥ 1.0× raw ws one-per-send', row: 'bus-up', to: { baseline: 'local-496' }, at: 'least', bound: 1.0 },
  { goal: 'rpmsg in-daemon one-way 496 B ep → rc ≥ 1.0× raw ws one-per-send', row: 'bus-down', to: { baseline: 'local-496' }, at: 'least', bound: 1.0 },
  { goal: 'rpmsg through RpmsgClient, 496 B, 256 in flight, rc → ep ≥ 0.5× raw ws one-per-send between two processes', row: 'client-window-up', to: { baseline: 'procs-496' }, at: 'least', bound: 0.5 },
  { goal: 'rpmsg through RpmsgClient, 496 B, 256 in flight, ep → rc ≥ 0.5× raw ws one-per-send between two processes', row: 'client-window-down', to: { baseline: 'procs-496' }, at: 'least', bound: 0.5 },
  { goal: 'rpmsg client ping-pong RTT p50 ≤ 4× raw ws ping-pong (two processes)', row: 'client-rtt', to: { baseline: 'procs-rtt' }, at: 'most', bound: 4 },
  { goal: 'rpmsg over NTB in-daemon HOST2 → HOST1 ≥ 0.7× the PCIe figure (rc → ep)', row: 'ntb-bus-to-host1', to: { row: 'bus-up' }, at: 'least', bound: 0.7 },
  { goal: 'rpmsg over NTB in-daemon HOST1 → HOST2 ≥ 0.7× the PCIe figure (ep → rc)', row: 'ntb-bus-to-host2', to: { row: 'bus-down' }, at: 'least', bound: 0.7 },
  { goal: 'rpmsg over NTB through RpmsgClient, 256 in flight, ≥ 0.7× the PCIe figure', row: 'ntb-pairs-1', to: { row: 'client-window-up' }, at: 'least', bound: 0.7 },
  { goal: 'virtio test device, split ring ≥ 0.5× raw 2 KiB messages', row: 'virtio-split', to: { baseline: 'local-2k' }, at: 'least', bound: 0.5 },
  { goal: 'virtio test device, packed ring ≥ 0.5× raw 2 KiB messages', row: 'virtio-packed', to: { baseline: 'local-2k' }, at: 'least', bound: 0.5 },
  { goal: 'window writes 496 B ≥ 1.0× raw ws', row: 'win-496', to: { baseline: 'local-496' }, at: 'least', bound: 1.0 },
  { goal: 'window writes 64 KiB ≥ 0.7× raw ws 64 KiB', row: 'win-64k', to: { baseline: 'local-64k' }, at: 'least', bound: 0.7 },
  { goal: 'doorbell ping-pong RTT p50 ≤ 1.5× raw ws ping-pong', row: 'doorbell', to: { baseline: 'local-rtt' }, at: 'most', bound: 1.5 }
]

/** Start-up goals: an amount against a bound. */
const AMOUNTS: Array<{ goal: string, row: string, bound: number }> = [
  { goal: 'idle RSS ≤ 80 MiB with a 1 GiB region, rc', row: 'rss-rc', bound: 80 },
  { goal: 'idle RSS ≤ 80 MiB with a 1 GiB region, ep', row: 'rss-ep', bound: 80 },
  { goal: 'spawn to /healthz ≤ 500 ms, rc', row: 'healthz-rc', bound: 500 },
  { goal: 'spawn to /healthz ≤ 500 ms, ep', row: 'healthz-ep', bound: 500 }
]

/** The figure a ratio was taken from: a rate, or a round trip's p50. */
function plain (f: Figure): string {
  if (f.kind === 'rate') return `${Math.round(f.perSecond).toLocaleString('en-US')} ${f.unit}`
  if (f.kind === 'rtt') return `p50 ${f.p50 < 100 ? f.p50.toFixed(1) : Math.round(f.p50).toLocaleString('en-US')} µs`
  return `${f.value} ${f.unit}`
}

export function goals (rows: Row[], baselines: Map<string, Baseline>): Goal[] {
  const byId = new Map(rows.map((r) => [r.id, r]))
  const figure = (id: string): Figure => {
    const r = byId.get(id)
    if (r === undefined) throw new Error(`goals: no row ${id}`)
    return r.figure
  }
  const out: Goal[] = []
  for (const s of SPECS) {
    const f = figure(s.row)
    const base = 'baseline' in s.to ? baselines.get(s.to.baseline)?.one : figure(s.to.row)
    if (base === undefined || base.kind === 'amount') throw new Error(`goals: nothing to compare ${s.row} with`)
    const x = ratio(f, base)
    out.push({ goal: s.goal, figure: `${x.toFixed(2)}× (${plain(f)} against ${plain(base)})`, met: s.at === 'least' ? x >= s.bound : x <= s.bound })
  }
  for (const a of AMOUNTS) {
    const f = figure(a.row)
    if (f.kind !== 'amount') throw new Error(`goals: row ${a.row} is not an amount`)
    out.push({ goal: a.goal, figure: `${f.value.toFixed(f.value < 10 ? 1 : 0)} ${f.unit}`, met: f.value <= a.bound })
  }
  return out
}
