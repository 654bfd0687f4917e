// Metric families whose values are read at scrape time from the counters
// the layers keep anyway (plain numbers and LatencyHistograms), so that
// nothing on a hot path knows about Prometheus. Each family's collect()
// clears what the last scrape saw and sets every series afresh: a series
// whose object is gone (a peer forgotten, a device reset) leaves the output.

import type { Histogram, Registry } from 'prom-client'
import { promClient } from './prom.js'
import type { LatencyHistogram } from '../../link/latency.js'

export type Labels = Record<string, string | number>
/** One series: its labels and its value now. */
export type Sample = readonly [Labels, number]

export interface Family {
  name: string
  help: string
  labels: readonly string[]
}

/** A counter whose series are read from the layers' own counts (monotonic while their object lives). */
export function counter (registry: Registry, f: Family, read: () => Iterable<Sample>): void {
  const c = new (promClient().Counter)({
    name: f.name,
    help: f.help,
    labelNames: f.labels,
    registers: [registry],
    collect () {
      c.reset()
      for (const [labels, value] of read()) c.inc(labels, value)
    }
  })
}

export function gauge (registry: Registry, f: Family, read: () => Iterable<Sample>): void {
  const g = new (promClient().Gauge)({
    name: f.name,
    help: f.help,
    labelNames: f.labels,
    registers: [registry],
    collect () {
      g.reset()
      for (const [labels, value] of read()) g.set(labels, value)
    }
  })
}

type HistogramExport = Awaited<ReturnType<Histogram<string>['get']>>

/**
 * A histogram whose buckets a LatencyHistogram already holds: its export
 * (prom-client's getForPromString/get) is made from them at scrape time, in
 * the shape prom-client's own Histogram gives (_bucket per le, _sum, _count),
 * so the registry formats it as any other.
 */
function readHistogram (registry: Registry, family: Family, read: () => Iterable<readonly [Labels, LatencyHistogram]>): Histogram<string> {
  // Made on the first scrape, as prom-client is loaded then (prom.ts).
  ReadHistogram ??= defineReadHistogram(promClient().Histogram)
  return new ReadHistogram(registry, family, read)
}

type ReadHistogramClass = new (registry: Registry, family: Family, read: () => Iterable<readonly [Labels, LatencyHistogram]>) => Histogram<string>
let ReadHistogram: ReadHistogramClass | null = null

function defineReadHistogram (Base: typeof Histogram): ReadHistogramClass {
  return class extends Base<string> {
    constructor (registry: Registry, private readonly family: Family, private readonly read: () => Iterable<readonly [Labels, LatencyHistogram]>) {
      super({ name: family.name, help: family.help, labelNames: family.labels, registers: [registry] })
    }

    /** What Registry#getMetricsAsString asks a metric for (prom-client's lib/registry.js). */
    async getForPromString (): Promise<HistogramExport> {
      const name = this.family.name
      const values: HistogramExport['values'] = []
      for (const [labels, h] of this.read()) {
        const cum = h.cumulative()
        h.bounds.forEach((le, i) => { values.push({ labels: { ...labels, le: String(le) }, value: cum[i]!, metricName: `${name}_bucket` }) })
        values.push({ labels: { ...labels, le: '+Inf' }, value: h.count, metricName: `${name}_bucket` })
        values.push({ labels, value: h.sum, metricName: `${name}_sum` })
        values.push({ labels, value: h.count, metricName: `${name}_count` })
      }
      // The runtime's type is the string prom-client writes after # TYPE (its typings say an enum).
      return { name, help: this.family.help, type: 'histogram' as unknown as HistogramExport['type'], values, aggregator: 'sum', collect: () => undefined }
    }

    override async get (): Promise<HistogramExport> {
      return await this.getForPromString()
    }
  }
}

export function histogram (registry: Registry, f: Family, read: () => Iterable<readonly [Labels, LatencyHistogram]>): void {
  readHistogram(registry, f, read)
}
