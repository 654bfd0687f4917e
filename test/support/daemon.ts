// Starts real soclinkd processes (the built package) for end-to-end tests and
// the soclink CLI against them. Ports are 0 (chosen by the kernel) and read
// back from the daemon's "ready" log line. Every daemon is a child adopted by
// children.ts (killed with its test file, however that ends) and every limit
// here is scaled by time.ts.

import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { killGroup, run, spawn, WATCH_PARENT, type RunResult } from './children.js'
import { SOCLINK, SOCLINKD } from './repo.js'
import { scaled } from './time.js'
import { until as untilDone, within as settledWithin } from '../../client/src/deadline.js'

export { SOCLINK, SOCLINKD } from './repo.js'

export interface Daemon {
  name: string
  api: string
  link: string
  proc: ChildProcess
  logs: string[]
  stop (signal?: NodeJS.Signals): Promise<number | null>
}

export interface DaemonOptions {
  /** Flags for node itself, before the script. */
  nodeArgs?: string[]
  /** Told of the process as soon as it exists, before it is ready. */
  onSpawn?: (proc: ChildProcess) => void
  /** Keep every log line (tests read them); false keeps only the ready line. */
  keepLogs?: boolean
  /** How long the ready line may take on a quiet machine (scaled); null: no limit (the bench under load). */
  readyMs?: number | null
}

export async function startDaemon (name: string, args: string[] = [], env: Record<string, string> = {}, options: DaemonOptions = {}): Promise<Daemon> {
  const proc = spawn(process.execPath, [...WATCH_PARENT, ...options.nodeArgs ?? [], SOCLINKD, '--name', name, '--listen', '127.0.0.1:0', '--api', '127.0.0.1:0', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  options.onSpawn?.(proc)
  const keepLogs = options.keepLogs ?? true
  const readyMs = options.readyMs === undefined ? scaled(10_000) : options.readyMs === null ? null : scaled(options.readyMs)
  const logs: string[] = []
  let stderr = ''
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => { resolve(code) }))
  const ready = await new Promise<{ api: string, link: string }>((resolve, reject) => {
    const timer = readyMs === null ? undefined : setTimeout(() => { reject(new Error(`${name}: no ready line in ${readyMs / 1000} s; stderr: ${stderr}`)) }, readyMs)
    let found = false
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      // A busy daemon's log is not the bench's to hold: past the ready line it keeps nothing.
      if (found && !keepLogs) return
      if (keepLogs) logs.push(line)
      try {
        const rec = JSON.parse(line) as { api?: string, listen?: string }
        if (rec.api !== undefined && rec.listen !== undefined) {
          found = true
          if (!keepLogs) logs.push(line)
          clearTimeout(timer)
          resolve({ api: rec.api, link: rec.listen })
        }
      } catch {
        // Not a JSON log line (a Node warning, say): kept in the logs, not the ready line.
      }
    })
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`${name} exited with ${String(code)}: ${stderr}`)) })
  }).catch((err: unknown) => {
    // A start that failed leaves nothing running.
    killGroup(proc)
    throw err
  })
  return {
    name,
    ...ready,
    proc,
    logs,
    async stop (signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode
      proc.kill(signal)
      try {
        return await within(exited, `${name} exits on ${signal}`, 10_000)
      } finally {
        killGroup(proc)
      }
    }
  }
}

export type CliResult = RunResult

/** Runs the soclink CLI; never throws on a non-zero exit. */
export async function cli (api: string, ...args: string[]): Promise<CliResult> {
  return await run(process.execPath, [SOCLINK, '--api', api, ...args], scaled(20_000))
}

/**
 * Polls `check` until it returns a value other than undefined, or fails
 * after `ms` (on a quiet machine: scaled) naming `what`, and saying
 * `detail()` too when given (recent output, say).
 */
export async function until<T> (what: string, check: () => Promise<T | undefined | false> | T | undefined | false, ms = 10_000, detail?: () => string): Promise<T> {
  return await untilDone(check, scaled(ms), () => new Error(`timed out waiting for ${what}${detail === undefined ? '' : `; ${detail()}`}`))
}

/**
 * `p`, or a rejection naming `what` if it has not settled within `ms` (on a
 * quiet machine: scaled): a stalled queue fails its test with a reason
 * instead of hanging until the runner's timeout. Not a timing assertion: the
 * bound is generous.
 */
export async function within<T> (p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  const limit = scaled(ms)
  return await settledWithin(p, limit, () => { throw new Error(`${what}: not done within ${limit} ms`) })
}
