// The metrics edge's pieces on their own: LatencyHistogram (what hot paths
// fill), the families that read layer counters at scrape time, in
// prom-client's text format and lint-clean for promtool, and that no core
// layer imports prom-client.

import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Registry } from 'prom-client'
import { LatencyHistogram } from '../../daemon/src/link/latency.js'
import { counter, gauge, histogram } from '../../daemon/src/api/metrics/families.js'
import { parseMetrics, metric, promtoolCheckMetrics } from '../support/prom-text.js'

t.test('LatencyHistogram: a count per bucket, cumulative when read, +Inf beyond the last bound', async (t) => {
  const h = new LatencyHistogram([0, 0.001, 0.01])
  for (const v of [0, 0, 0.0005, 0.001, 0.005, 2]) h.observe(v)
  t.same(h.cumulative(), [2, 4, 5, 6], 'le 0: 2; le 0.001: 4 (bounds are inclusive); le 0.01: 5; +Inf: all 6')
  t.equal(h.count, 6)
  t.equal(h.sum, 2.0065)
  t.throws(() => new LatencyHistogram([0.1, 0.1]), /ascend/)
})

t.test('families: counters, gauges and histograms read at scrape time; gone objects leave the output', async (t) => {
  const registry = new Registry()
  const things = new Map([['a', { n: 3, up: true }], ['b', { n: 5, up: false }]])
  const h = new LatencyHistogram([0.001, 0.1])
  h.observe(0.0005)
  h.observe(0.05)
  counter(registry, { name: 'test_things_total', help: 'Things done', labels: ['thing'] }, function * () {
    for (const [k, v] of things) yield [{ thing: k }, v.n]
  })
  gauge(registry, { name: 'test_thing_up', help: 'Whether the thing is up', labels: ['thing'] }, function * () {
    for (const [k, v] of things) yield [{ thing: k }, v.up ? 1 : 0]
  })
  histogram(registry, { name: 'test_wait_seconds', help: 'How long things waited', labels: ['thing'] }, function * () { yield [{ thing: 'a' }, h] })

  const text = await registry.metrics()
  const s = parseMetrics(text)
  t.equal(metric(s, 'test_things_total', { thing: 'a' }), 3)
  t.equal(metric(s, 'test_thing_up', { thing: 'b' }), 0)
  t.match(text, /# TYPE test_things_total counter\n/)
  t.match(text, /# TYPE test_wait_seconds histogram\n/)
  t.same(s.filter((x) => x.name.startsWith('test_wait_seconds')).map((x) => [x.name, x.labels.le ?? '', x.value]), [
    ['test_wait_seconds_bucket', '0.001', 1], ['test_wait_seconds_bucket', '0.1', 2], ['test_wait_seconds_bucket', '+Inf', 2],
    ['test_wait_seconds_sum', '', 0.0505], ['test_wait_seconds_count', '', 2]
  ], 'cumulative buckets, +Inf, _sum and _count, as prom-client writes its own histograms')
  const check = await promtoolCheckMetrics(text)
  t.same({ code: check.code, out: check.stdout + check.stderr }, { code: 0, out: '' }, 'promtool check metrics: well-formed and lint-clean')

  things.get('a')!.n = 4
  things.delete('b')
  const again = parseMetrics(await registry.metrics())
  t.equal(metric(again, 'test_things_total', { thing: 'a' }), 4, 'the next scrape reads the counter again')
  t.notOk(again.some((x) => x.labels.thing === 'b'), 'a thing gone leaves the output')
})

t.test('no core layer imports prom-client: metrics are read at the edge (api/metrics, and the roles that add their families)', async (t) => {
  const src = fileURLToPath(new URL('../../daemon/src/', import.meta.url))
  const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : []
  })
  const importers = files(src).filter((f) => /from 'prom-client'/.test(readFileSync(f, 'utf8'))).map((f) => relative(src, f))
  t.ok(importers.length > 0, 'the edge does')
  t.same(importers.filter((f) => !f.startsWith('api/metrics/') && !f.startsWith('roles/') && f !== 'role.ts'), [], 'nothing outside api/metrics/, roles/ and role.ts')
  const core = ['link/', 'mem/', 'hw/', 'uapi/', 'virtio/', 'vhost/', 'transport/', 'rpmsg/']
  t.same(importers.filter((f) => core.some((d) => f.startsWith(d))), [], 'no core layer')
})
