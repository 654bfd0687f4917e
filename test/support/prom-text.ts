// Prometheus metrics for tests: GET /metrics of a daemon, the text read into
// samples (name, labels, value), sums over the samples that match a name and
// some labels, and Debian's `promtool check metrics` (format and lint) run
// on a scrape.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run, type RunResult } from './children.js'
import { scaled } from './time.js'

export interface Sample { name: string, labels: Record<string, string>, value: number }

export interface Scrape {
  status: number
  contentType: string
  text: string
  samples: Sample[]
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** The samples of a text-format exposition (comments and blank lines left out). */
export function parseMetrics (text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = LINE.exec(line)
    if (m === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\"/g, '"').replace(/\\n/g, '\n').replace(/\\\\/g, '\\')
    out.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) })
  }
  return out
}

/** GET /metrics with an optional bearer token. */
export async function scrape (api: string, token?: string): Promise<Scrape> {
  const res = await fetch(`${api}/metrics`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
  const text = await res.text()
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, samples: res.status === 200 ? parseMetrics(text) : [] }
}

/** The sum of the samples named `name` whose labels include `labels`; 0 when none match. */
export function metric (samples: readonly Sample[], name: string, labels: Record<string, string | number> = {}): number {
  let sum = 0
  for (const s of samples) {
    if (s.name !== name) continue
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === String(v))) sum += s.value
  }
  return sum
}

/** Whether any sample named `name` has these labels. */
export function hasSeries (samples: readonly Sample[], name: string, labels: Record<string, string | number> = {}): boolean {
  return samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === String(v)))
}

/** `promtool check metrics` on `text` (as Prometheus docs pipe a scrape into it): code 0 and no output when it is well-formed and lint-clean. */
export async function promtoolCheckMetrics (text: string): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'soclink-metrics-'))
  try {
    const file = join(dir, 'metrics.prom')
    writeFileSync(file, text)
    return await run('sh', ['-c', 'exec promtool check metrics < "$1"', 'sh', file], scaled(30_000))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
