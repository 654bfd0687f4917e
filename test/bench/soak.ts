// The soak: an rc and an ep daemon as child processes under rpmsg traffic
// both ways (one application pair, windowed sends, 496 B) for a bounded
// time, each daemon reporting once a second its RSS and its event loop's
// delay (loop-probe.ts, preloaded). What it shows: memory that stays flat
// under steady traffic, and how long the loop is held up while it flows.

import { pathToFileURL } from 'node:url'
import { createInterface } from 'node:readline'
import { adopt, WATCH_PARENT } from './children.js'
import { WINDOWED, closePairs, down, oneWay, openPairs, up } from './client-runs.js'
import { PROBE_PREFIX } from './probe-line.js'
import { RPMSG_PAYLOAD } from './sizes.js'
import { startDaemon, type Daemon } from '../support/daemon.js'
import { rpmsgBus } from '../support/rpmsg-procs.js'

const PROBE = ['--import', pathToFileURL(new URL('./loop-probe.js', import.meta.url).pathname).href]
/** Messages per direction between two looks at the clock. */
const CHUNK = 2000

export interface SoakSample { second: number, rss: number, p50: number, p99: number, max: number }
export interface SoakBench {
  seconds: number
  /** Messages each way, and messages/s both ways together. */
  messages: number
  rate: number
  /** One sample per second per daemon, from the start of the traffic. */
  samples: Record<'rc' | 'ep', SoakSample[]>
}

async function spawnProbed (name: string, args: string[], into: SoakSample[], t0: () => number): Promise<Daemon> {
  const d = await startDaemon(name, args, {}, { nodeArgs: [...WATCH_PARENT, ...PROBE], onSpawn: adopt, keepLogs: false, readyMs: null })
  createInterface({ input: d.proc.stderr! }).on('line', (line) => {
    if (!line.startsWith(PROBE_PREFIX)) return
    const s = JSON.parse(line.slice(PROBE_PREFIX.length)) as Omit<SoakSample, 'second'>
    const second = (performance.now() - t0()) / 1000
    if (second >= 0) into.push({ second, ...s })
  })
  return d
}

export async function benchSoak (seconds: number): Promise<SoakBench> {
  const samples: SoakBench['samples'] = { rc: [], ep: [] }
  let start = Infinity
  const t0 = (): number => start
  const rc = await spawnProbed('soak-rc', ['--role', 'rc'], samples.rc, t0)
  const ep = await spawnProbed('soak-ep', ['--role', 'ep', '--peer', rc.link], samples.ep, t0)
  try {
    await rpmsgBus(ep)
    await rpmsgBus(rc)
    const [p] = await openPairs(rc.api, ep.api, 1)
    const payload = Buffer.alloc(RPMSG_PAYLOAD, 0x5a)
    let messages = 0
    try {
      start = performance.now()
      while (performance.now() - start < seconds * 1000) {
        await oneWay([up(p!), down(p!)], WINDOWED, payload, 2 * CHUNK)
        messages += CHUNK
      }
    } finally {
      await closePairs([p!])
    }
    const elapsed = (performance.now() - start) / 1000
    return { seconds: elapsed, messages, rate: 2 * messages / elapsed, samples }
  } finally {
    await ep.stop()
    await rc.stop()
  }
}
