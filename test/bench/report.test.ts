// The bench's pure parts: percentiles, ratios, the goals table and its
// options. Runs in the suite; the bench itself does not (npm run bench).

import t from 'tap'
import { Samples, percentile } from './stats.js'
import { amount, formatAgainst, formatRatio, rate, ratio, rtt, type Baseline, type Row } from './figures.js'
import { goalTable, rowTable } from './report.js'
import { goals } from './goals.js'
import { benchOptions } from './options.js'

t.test('percentiles are nearest-rank over every recorded round trip', async (t) => {
  t.ok(Number.isNaN(percentile([], 50)), 'nothing recorded: NaN, not 0')
  const s = new Samples(2)
  for (let i = 100; i >= 1; i--) s.add(i)
  t.same(s.summary(), { p50: 50, p99: 99, count: 100 }, '1..100 added backwards, past the first capacity')
  t.equal(percentile([7], 99), 7, 'one sample is every percentile')
  t.equal(percentile([1, 2, 3, 1000], 99), 1000, 'the tail is not averaged away')
})

t.test('ratios: rates faster above 1, round trips faster below 1, mixed kinds NaN', async (t) => {
  t.equal(ratio(rate(50, 'msg/s'), rate(100, 'msg/s')), 0.5)
  t.equal(ratio(rtt({ p50: 40, p99: 90, count: 1 }), rtt({ p50: 20, p99: 30, count: 1 })), 2)
  t.ok(Number.isNaN(ratio(rate(1, 'msg/s'), rtt({ p50: 1, p99: 1, count: 1 }))))
  t.equal(formatRatio(rtt({ p50: 40, p99: 90, count: 1 }), rtt({ p50: 20, p99: 30, count: 1 })), '2.00 (p99 3.00)', 'p99 beside p50')
  t.equal(formatAgainst(rtt({ p50: 40, p99: 90, count: 1 }), rtt({ p50: 20, p99: 30, count: 1 }), 'the PCIe figure'), '2.00× the PCIe figure (p99 3.00×)')
})

const baselines = new Map<string, Baseline>([
  ['local-496', { label: 'one process, 496 B', one: rate(100, 'msg/s'), corked: rate(200, 'msg/s') }],
  ['local-rtt', { label: 'one process, ping-pong', one: rtt({ p50: 20, p99: 40, count: 9 }), corked: rtt({ p50: 20, p99: 40, count: 9 }) }]
])

t.test('every row carries both ratios; a row with an unknown baseline is an error', async (t) => {
  const table = rowTable([{ id: 'a', name: 'bus', figure: rate(150, 'msg/s'), baseline: 'local-496' }], baselines)
  t.match(table, /\| bus \| 150 msg\/s \| 1\.50 \| 0\.75 \| one process, 496 B \|/)
  t.throws(() => rowTable([{ id: 'a', name: 'x', figure: rate(1, 'msg/s'), baseline: 'nope' }], baselines), /no baseline nope/)
})

t.test('goals: met and not met, each beside its figure', async (t) => {
  const rows: Row[] = [
    { id: 'bus-up', name: '', figure: rate(100, 'msg/s') },
    { id: 'bus-down', name: '', figure: rate(99, 'msg/s') },
    { id: 'doorbell', name: '', figure: rtt({ p50: 31, p99: 50, count: 9 }) },
    { id: 'rss-rc', name: '', figure: amount(80, 'MiB') },
    { id: 'healthz-rc', name: '', figure: amount(501, 'ms') }
  ]
  // Only the goals whose rows are here; the rest need rows this test does not make.
  const all = (() => { try { return goals(rows, baselines) } catch (err) { return err as Error } })()
  t.match(all, /no row/, 'a goal whose row is missing is an error, not a silent pass')
  const full = ['client-window-up', 'client-window-down', 'ntb-bus-to-host1', 'ntb-bus-to-host2', 'ntb-pairs-1', 'virtio-split', 'virtio-packed', 'win-496', 'win-64k']
    .map((id): Row => ({ id, name: '', figure: rate(100, 'msg/s') }))
  const more = new Map(baselines)
  for (const k of ['procs-496', 'local-2k', 'local-64k']) more.set(k, baselines.get('local-496')!)
  more.set('procs-rtt', baselines.get('local-rtt')!)
  const g = goals([...rows, ...full,
    { id: 'client-rtt', name: '', figure: rtt({ p50: 80, p99: 100, count: 9 }) },
    { id: 'ntb-client-rtt', name: '', figure: rtt({ p50: 80, p99: 100, count: 9 }) },
    { id: 'rss-ep', name: '', figure: amount(81, 'MiB') },
    { id: 'healthz-ep', name: '', figure: amount(100, 'ms') }], more)
  const by = (text: RegExp): { figure: string, met: boolean } => g.find((x) => text.test(x.goal))!
  t.match(by(/in-daemon .* rc → ep/), { figure: '1.00× (100 msg/s against 100 msg/s)', met: true }, 'exactly 1.0× meets ≥ 1.0×, the figures beside')
  t.match(by(/in-daemon .* ep → rc/), { figure: '0.99×', met: false })
  t.match(by(/doorbell/), { figure: '1.55× (p50 31.0 µs against p50 20.0 µs)', met: false }, 'round trips compare p50 with the bound from above')
  t.match(by(/ping-pong RTT p50 ≤ 4×/), { figure: '4.00×', met: true })
  t.match(by(/RSS .* rc/), { figure: '80 MiB', met: true })
  t.match(by(/RSS .* ep/), { met: false })
  t.match(by(/healthz ≤ 500 ms, rc/), { met: false })
  t.match(goalTable(g), /\*\*not met\*\*/)
})

t.test('options: --quick, counts from the environment, anything else refused', async (t) => {
  const q = benchOptions(['--quick'], { BENCH_ROUNDS: '7' })
  t.equal(q.quick, true)
  t.equal(q.counts.rounds, 7)
  t.equal(q.command, 'BENCH_ROUNDS=7 npm run bench -- --quick', 'the command says how to run it again')
  t.ok(benchOptions([], {}).counts.messages > q.counts.messages, 'the full run sends more')
  t.throws(() => benchOptions(['--fast'], {}), /unknown argument --fast/)
  t.throws(() => benchOptions([], { BENCH_MESSAGES: '1e3x' }), /positive whole number/)
})
