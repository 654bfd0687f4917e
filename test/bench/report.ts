// The tables of BENCHMARKS.md, from the rows and baselines of one run.

import { formatAgainst, formatFigure, formatRatio, type Baseline, type Row } from './figures.js'

export interface Goal { goal: string, figure: string, met: boolean }

const line = (cells: string[]): string => `| ${cells.join(' | ')} |`

export function baselineTable (baselines: Map<string, Baseline>): string {
  return [
    line(['raw ws baseline', 'one message per send()', 'corked per event-loop turn']),
    line(['---', '---', '---']),
    ...[...baselines.values()].map((b) => line([b.label, formatFigure(b.one), formatFigure(b.corked)]))
  ].join('\n')
}

/**
 * Every row against both baselines of its kind; a row read against another
 * row of the run (NTB against PCIe) says so in its result.
 */
export function rowTable (rows: Row[], baselines: Map<string, Baseline>): string {
  const out = [
    line(['measurement', 'result', '× raw one-per-send', '× raw corked', 'baseline']),
    line(['---', '---', '---', '---', '---'])
  ]
  for (const r of rows) {
    const b = r.baseline === undefined ? undefined : baselines.get(r.baseline)
    if (r.baseline !== undefined && b === undefined) throw new Error(`row ${r.id}: no baseline ${r.baseline}`)
    const against = r.against === undefined ? '' : `; ${formatAgainst(r.figure, r.against.figure, r.against.label)}`
    out.push(line([
      r.name,
      formatFigure(r.figure) + against,
      b === undefined ? '—' : formatRatio(r.figure, b.one),
      b === undefined ? '—' : formatRatio(r.figure, b.corked),
      b === undefined ? '—' : b.label
    ]))
  }
  return out.join('\n')
}

export function goalTable (goals: Goal[]): string {
  return [
    line(['goal (issue 10, "Done when")', 'measured in this run', 'met']),
    line(['---', '---', '---']),
    ...goals.map((g) => line([g.goal, g.figure, g.met ? 'met' : '**not met**']))
  ].join('\n')
}
