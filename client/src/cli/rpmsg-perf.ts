// soclink rpmsg perf: a user's own two daemons measured as the kernel's
// rpmsg benchmarks and ntb_perf measure theirs. One gateway connection to
// each daemon, N endpoints on each, paired; then four runs: A to B, B to A,
// both at once (each pair posts --count messages and its peer checks every
// one on arrival), and --rounds round trips per pair (B echoes). Each run
// ends when every message has arrived, or when none has for --timeout ms
// (what is missing is lost).

import { ApiError } from '../errors.js'
import type { RpmsgClient, RpmsgEndpoint } from '../rpmsg-client.js'
import { addCounts, Arrivals, percentile, phaseOf, stamp } from './rpmsg-perf-check.js'
import { flowOf, type PerfFlow, type PerfResult, type PerfRtt } from './rpmsg-perf-views.js'
import { within } from '../deadline.js'
import { MESSAGES, type Progress } from '../progress.js'

export interface PerfSide { name: string, client: RpmsgClient, endpoints: RpmsgEndpoint[] }

export interface PerfOptions { size: number, count: number, rounds: number, timeout: number }

/** Messages a sender posts before it waits for the first of them to be in a buffer: bounds what waits in the client. */
const WINDOW = 1024

/** Runs the four measurements; `progress` shows each while it runs. */
export async function runPerf (a: PerfSide, b: PerfSide, o: PerfOptions, progress: Progress): Promise<PerfResult> {
  let phase = 0
  const flow = async (pairs: Array<[PerfSide, PerfSide]>, label: string): Promise<PerfFlow[]> => {
    const runs = pairs.map(([from, to]) => oneWay(from, to, ++phase, o))
    const total = runs.length * o.count * a.endpoints.length
    progress.begin(label, total, MESSAGES, () => runs.reduce((n, r) => n + r.arrived(), 0))
    try {
      return await Promise.all(runs.map(async (r) => await r.done))
    } finally {
      progress.end()
    }
  }
  const oneWayFlows = [...await flow([[a, b]], `${a.name} -> ${b.name} messages`), ...await flow([[b, a]], `${b.name} -> ${a.name} messages`)]
  const bothWays = await flow([[a, b], [b, a]], `${a.name} <-> ${b.name} messages`)
  const replies = { n: 0 }
  progress.begin('round trips', o.rounds * a.endpoints.length, MESSAGES, () => replies.n)
  let rtt: PerfRtt
  try {
    rtt = await roundTrips(a, b, ++phase, o, replies)
  } finally {
    progress.end()
  }
  return { a: a.name, b: b.name, size: o.size, endpoints: a.endpoints.length, count: o.count, oneWay: oneWayFlows, bothWays, rtt }
}

/** One direction: every pair's sender posts, its receiver checks; done resolves when all arrived or arrivals stop. */
function oneWay (from: PerfSide, to: PerfSide, phase: number, o: PerfOptions): { done: Promise<PerfFlow>, arrived: () => number } {
  const arrivals = to.endpoints.map((_, pair) => new Arrivals(phase, pair, o.size, o.count))
  const arrived = (): number => arrivals.reduce((n, x) => n + x.received, 0)
  const done = (async () => {
    const t0 = performance.now()
    let last = t0
    const receiving = to.endpoints.map(async (ept, pair) => {
      await receive(ept, o.timeout, (payload) => {
        if (arrivals[pair]!.add(payload)) last = performance.now()
        return arrivals[pair]!.complete
      })
    })
    await Promise.all(from.endpoints.map(async (ept, pair) => { await post(ept, to.endpoints[pair]!.addr, phase, pair, o) }))
    await Promise.all(receiving)
    return flowOf(from.name, to.name, o.count * from.endpoints.length, o.size, (last - t0) / 1000, addCounts(arrivals.map((x) => x.counts())))
  })()
  return { done, arrived }
}

/** Posts `count` messages from `ept` to `dst`, at most about two windows waiting in the client; a failure rejects. */
async function post (ept: RpmsgEndpoint, dst: number, phase: number, pair: number, o: PerfOptions): Promise<void> {
  const buf = Buffer.alloc(o.size)
  const marks: Array<Promise<void>> = []
  for (let seq = 1; seq <= o.count; seq++) {
    stamp(buf, phase, pair, seq)
    // The last of each window is a send(): in a buffer means every one before it is too.
    if (seq % WINDOW === 0 || seq === o.count) {
      const mark = ept.send(dst, buf)
      // Awaited below; until then a failure must not count as unhandled.
      mark.catch(() => {})
      marks.push(mark)
      if (marks.length > 1) await marks.shift()
    } else {
      ept.post(dst, buf)
    }
  }
  await Promise.all(marks)
  await ept.flush()
}

/** Reads `ept` until `take` says it has all it wants, or nothing has come for `timeout` ms. */
async function receive (ept: RpmsgEndpoint, timeout: number, take: (payload: Uint8Array) => boolean): Promise<void> {
  const it = ept[Symbol.asyncIterator]()
  // One timer for the whole loop, re-armed per message: a timer made and
  // cleared for every message would be the receiving side's largest cost.
  let quiet!: () => void
  const silence = new Promise<null>((resolve) => { quiet = () => { resolve(null) } })
  const timer = setTimeout(quiet, timeout)
  try {
    for (;;) {
      timer.refresh()
      const r = await Promise.race([it.next(), silence])
      if (r === null || r.done === true) return
      if (take(r.value.payload)) return
    }
  } finally {
    clearTimeout(timer)
  }
}

/** All pairs at once, each one round trip at a time: A posts, B echoes, A times the echo; `replies` counts them as they come. */
async function roundTrips (a: PerfSide, b: PerfSide, phase: number, o: PerfOptions, replies: { n: number }): Promise<PerfRtt> {
  const rtts: number[] = []
  const stop = new AbortController()
  const stopped = new Promise<null>((resolve) => { stop.signal.addEventListener('abort', () => { resolve(null) }, { once: true }) })
  const echoes = b.endpoints.map(async (ept) => {
    const it = ept[Symbol.asyncIterator]()
    for (;;) {
      const r = await Promise.race([it.next(), stopped])
      if (r === null || r.done === true) return
      if (phaseOf(r.value.payload) === phase) ept.post(r.value.src, r.value.payload)
    }
  })
  await Promise.all(a.endpoints.map(async (ept, pair) => {
    const buf = Buffer.alloc(o.size)
    const dst = b.endpoints[pair]!.addr
    const it = ept[Symbol.asyncIterator]()
    for (let seq = 1; seq <= o.rounds; seq++) {
      stamp(buf, phase, pair, seq)
      const t0 = performance.now()
      ept.post(dst, buf)
      for (;;) {
        const r = await within(it.next(), o.timeout, () => null)
        if (r === null || r.done === true) break
        const m = r.value.payload
        // Only this round's echo, byte for byte: a late echo of an earlier round is skipped.
        if (Buffer.from(m.buffer, m.byteOffset, m.byteLength).equals(buf)) {
          rtts.push(performance.now() - t0)
          replies.n++
          break
        }
      }
    }
    await ept.flush()
  }))
  stop.abort()
  await Promise.all(echoes)
  rtts.sort((x, y) => x - y)
  const round = (v: number | null): number | null => v === null ? null : Math.round(v * 1000) / 1000
  return {
    rounds: o.rounds * a.endpoints.length,
    replies: replies.n,
    p50Ms: round(percentile(rtts, 50)),
    p99Ms: round(percentile(rtts, 99)),
    minMs: round(rtts[0] ?? null),
    maxMs: round(rtts.at(-1) ?? null)
  }
}

/** The error for a run that lost, duplicated or damaged messages. */
export const lossError = (n: number): ApiError =>
  new ApiError('ERR_RPMSG_LOSS', `${n} message${n === 1 ? '' : 's'} lost, duplicated or damaged (see the table)`, 0)
