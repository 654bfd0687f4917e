// The progress line's text (progress.ts draws it): counts, rates with units
// and the time left. Pure: no I/O, no clock; the caller passes the numbers.
// Rates in SI prefixes (10^3, 10^6), as soclink's other rates (MB/s is
// 10^6 bytes per second, as ntb_perf and rpmsg perf print it).

/** What is counted: `bytes` scales with B, kB, MB; others print as counts of `name`. */
export interface ProgressUnit { name: string, bytes?: boolean }

export const MESSAGES: ProgressUnit = { name: 'msg' }
export const BUFFERS: ProgressUnit = { name: 'buf' }
export const PINGS: ProgressUnit = { name: 'ping' }
export const BYTES: ProgressUnit = { name: 'B', bytes: true }

const PREFIXES = ['', 'k', 'M', 'G', 'T']

/** 3 significant digits with an SI prefix: 950, 1.23k, 45.6M; below 10, one decimal when not whole. */
export function scaled (n: number): string {
  if (!Number.isFinite(n) || n < 0) return '-'
  let p = 0
  let v = n
  while (v >= 999.5 && p < PREFIXES.length - 1) { v /= 1000; p++ }
  if (p === 0) return v < 10 && !Number.isInteger(v) ? v.toFixed(1) : String(Math.round(v))
  const digits = v < 9.995 ? 2 : v < 99.95 ? 1 : 0
  return `${v.toFixed(digits)}${PREFIXES[p]!}`
}

/** A count as the line shows it: bytes scaled (12.3MB), anything else exact with thousands separators. */
export function formatCount (n: number, unit: ProgressUnit): string {
  return unit.bytes === true ? `${scaled(n)}${unit.name}` : Math.round(n).toLocaleString('en-US')
}

/** A rate per second: 1.23k msg/s, 45.6MB/s. */
export function formatRate (perSecond: number, unit: ProgressUnit): string {
  return unit.bytes === true ? `${scaled(perSecond)}${unit.name}/s` : `${scaled(perSecond)} ${unit.name}/s`
}

/** Time left: `-` when unknown, then 0.4 s, 12 s, 3m05s, 2h03m. */
export function formatEta (seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '-'
  if (seconds < 10) return `${seconds.toFixed(1)} s`
  const s = Math.round(seconds)
  if (s < 60) return `${s} s`
  const two = (x: number): string => String(x).padStart(2, '0')
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`
  return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`
}

/** What the line is drawn from: `done` of `total` after `seconds`. */
export interface ProgressSample { label: string, done: number, total: number, seconds: number, unit: ProgressUnit }

/** The rate so far (the average since the start) and the time left at that rate; null while unknown. */
export function rateAndEta (s: ProgressSample): { rate: number | null, eta: number | null } {
  if (s.seconds <= 0) return { rate: null, eta: null }
  const rate = s.done / s.seconds
  return { rate, eta: rate > 0 ? Math.max(0, s.total - s.done) / rate : null }
}

/** `label: 1,234/10,000 msg (12%), 3.21k msg/s, ETA 2.7 s` */
export function progressText (s: ProgressSample): string {
  const { rate, eta } = rateAndEta(s)
  const pct = s.total > 0 ? Math.min(100, Math.floor(100 * s.done / s.total)) : 0
  const count = s.unit.bytes === true
    ? `${formatCount(s.done, s.unit)}/${formatCount(s.total, s.unit)}`
    : `${formatCount(s.done, s.unit)}/${formatCount(s.total, s.unit)} ${s.unit.name}`
  return `${s.label}: ${count} (${pct}%), ${rate === null ? '-' : formatRate(rate, s.unit)}, ETA ${formatEta(eta)}`
}

/** Cut to a terminal's width (a line that wraps cannot be redrawn in place with \r). */
export function fitWidth (text: string, columns: number | undefined): string {
  if (columns === undefined || columns < 2 || text.length < columns) return text
  return text.slice(0, columns - 1)
}
