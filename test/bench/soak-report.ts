// The soak's section of BENCHMARKS.md: RSS and event-loop delay of each
// daemon over time, and what changed from the start to the end.

import type { SoakBench, SoakSample } from './soak.js'

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1)
const ms = (x: number): string => x.toFixed(1)

/** About `n` samples spread evenly over the run, the first and the last among them. */
function spread (samples: SoakSample[], n: number): SoakSample[] {
  if (samples.length <= n) return samples
  return Array.from({ length: n }, (_, i) => samples[Math.round(i * (samples.length - 1) / (n - 1))]!)
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? 0 : s[Math.floor(s.length / 2)]!
}

export function soakSection (s: SoakBench): string {
  const rc = s.samples.rc
  const ep = s.samples.ep
  const rows = spread(rc, 7).map((a) => {
    const b = ep.reduce((best, x) => Math.abs(x.second - a.second) < Math.abs(best.second - a.second) ? x : best, ep[0] ?? a)
    return `| ${a.second.toFixed(0)} | ${mib(a.rss)} | ${ms(a.p99)} | ${ms(a.max)} | ${mib(b.rss)} | ${ms(b.p99)} | ${ms(b.max)} |`
  })
  const summary = (name: string, xs: SoakSample[]): string => {
    if (xs.length < 2) return `- ${name}: too few samples`
    const first = xs[0]!
    const last = xs[xs.length - 1]!
    const middle = xs[Math.floor(xs.length / 2)]!
    const change = (a: SoakSample, b: SoakSample): string => `${b.rss >= a.rss ? '+' : ''}${mib(b.rss - a.rss)} MiB`
    return `- ${name}: RSS ${mib(first.rss)} MiB in the first second, ${mib(last.rss)} MiB in the last (${change(first, last)}; ` +
      `${change(middle, last)} over the second half), at most ${mib(Math.max(...xs.map((x) => x.rss)))} MiB; ` +
      `event-loop delay p50 ${ms(median(xs.map((x) => x.p50)))} ms (median of the seconds), p99 at worst ${ms(Math.max(...xs.map((x) => x.p99)))} ms, ` +
      `longest ${ms(Math.max(...xs.map((x) => x.max)))} ms`
  }
  return `## Soak

An rc and an ep daemon (the built \`soclinkd\`, child processes) under rpmsg traffic both ways for
${s.seconds.toFixed(0)} s: one application pair, 496-byte messages, windowed sends, ${s.messages.toLocaleString('en-US')} messages each way
(${Math.round(s.rate).toLocaleString('en-US')} msg/s both ways together). Each daemon reports once a second its RSS and its
event loop's delay over that second (\`perf_hooks.monitorEventLoopDelay\` at 10 ms resolution, less those 10 ms;
preloaded by \`test/bench/loop-probe.ts\`). \`BENCH_SOAK_SECONDS\` sets the length.

${summary('rc', rc)}
${summary('ep', ep)}

| second | rc RSS MiB | rc loop p99 ms | rc loop max ms | ep RSS MiB | ep loop p99 ms | ep loop max ms |
|---|---|---|---|---|---|---|
${rows.join('\n')}
`
}
