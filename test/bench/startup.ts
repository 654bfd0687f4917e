// Start-up and idle cost of the built soclinkd, as a user starts it, with a
// 1 GiB region (and the bench's few-line parent-watch preload, so it dies
// with the bench whatever happens):
//
//   spawn to /healthz  from spawn() until GET /healthz first answers 200
//                      (polled every 5 ms); the median of `spawns` starts
//   idle RSS           VmRSS from /proc/PID/status once it has settled
//                      (unchanged by more than 1% for a second, after
//                      /healthz answered), on the last start

import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { SOCLINKD } from './paths.js'
import { WATCH_PARENT, adopt } from './children.js'
import { amount, type Amount } from './figures.js'
import { unusedPort } from '../support/ports.js'

export const ROLES = ['rc', 'ep'] as const
export const REGION_ARG = 'mem:1G'
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

export interface StartupBench { healthzMs: Amount, rssMiB: Amount }

async function healthy (url: string): Promise<boolean> {
  try {
    const res = await fetch(url)
    await res.arrayBuffer()
    return res.status === 200
  } catch {
    return false
  }
}

function rssKiB (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (m === null) throw new Error(`no VmRSS for ${pid}`)
  return Number(m[1])
}

async function settledRssKiB (pid: number): Promise<number> {
  let last = rssKiB(pid)
  let steadySince = performance.now()
  const deadline = performance.now() + 15_000
  while (performance.now() - steadySince < 1000 && performance.now() < deadline) {
    await sleep(100)
    const now = rssKiB(pid)
    if (Math.abs(now - last) > last / 100) { last = now; steadySince = performance.now() }
  }
  return last
}

async function stop (proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise((resolve) => proc.once('exit', resolve))
  proc.kill('SIGTERM')
  await exited
}

/** One start: milliseconds to the first 200, and (when `rss`) the settled RSS in KiB. */
async function once (role: string, rss: boolean): Promise<{ ms: number, kib: number }> {
  const api = await unusedPort()
  const url = `http://127.0.0.1:${api}/healthz`
  const t0 = performance.now()
  const proc = adopt(spawn(process.execPath, [...WATCH_PARENT, SOCLINKD, '--role', role, '--name', `bench-${role}`, '--listen', '127.0.0.1:0', '--api', `127.0.0.1:${api}`, '--region', REGION_ARG], { stdio: 'ignore' }))
  try {
    while (!await healthy(url)) {
      if (proc.exitCode !== null) throw new Error(`soclinkd --role ${role} exited with ${proc.exitCode}`)
      if (performance.now() - t0 > 60_000) throw new Error(`soclinkd --role ${role}: no /healthz in 60 s`)
      await sleep(5)
    }
    const ms = performance.now() - t0
    return { ms, kib: rss ? await settledRssKiB(proc.pid!) : NaN }
  } finally {
    await stop(proc)
  }
}

export async function benchStartup (role: string, spawns: number): Promise<StartupBench> {
  const times: number[] = []
  let kib = NaN
  for (let i = 0; i < spawns; i++) {
    const r = await once(role, i === spawns - 1)
    times.push(r.ms)
    if (i === spawns - 1) kib = r.kib
  }
  times.sort((a, b) => a - b)
  const median = times[(times.length - 1) >> 1]!
  return {
    healthzMs: amount(median, 'ms', `median of ${spawns}; ${times.map((t) => Math.round(t)).join(', ')}`),
    rssMiB: amount(kib / 1024, 'MiB')
  }
}
