// Preloaded (node --import) into the soak's daemons: once a second, the
// process's RSS and its event loop's delay over that second
// (perf_hooks.monitorEventLoopDelay), as one line on stderr that the bench
// reads (soak.ts). Nothing else in the daemon changes.

import { monitorEventLoopDelay } from 'node:perf_hooks'
import { PROBE_PREFIX } from './probe-line.js'

const RESOLUTION_MS = 10
const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
h.enable()
// The histogram records each interval of its RESOLUTION_MS timer (an idle loop shows 10.1 ms): the delay is what exceeds it.
const delay = (ns: number): number => Math.max(0, Math.round(ns / 1e4) / 100 - RESOLUTION_MS)
setInterval(() => {
  process.stderr.write(PROBE_PREFIX + JSON.stringify({ rss: process.memoryUsage.rss(), p50: delay(h.percentile(50)), p99: delay(h.percentile(99)), max: delay(h.max) }) + '\n')
  h.reset()
}, 1000).unref()
