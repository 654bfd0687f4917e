// One compose service run as a container would be, in its network
// namespace: its argv with the package's bins (soclinkd, soclink) run from
// the built package, its environment, its health check probed as Docker
// does (every interval; failures count after the start period; unhealthy
// after `retries` of them), its restart policy (Docker's backoff: 100 ms,
// doubling, back to 100 ms after 10 s of running) and `stop` as `docker
// stop` (stop signal, SIGKILL after the grace period).

import { EventEmitter } from 'node:events'
import type { ChildProcess } from 'node:child_process'
import { dirname } from 'node:path'
import { createInterface } from 'node:readline'
import type { ServicePlan } from './compose-plan.js'
import type { Network } from './netns.js'
import { scaled } from '../support/time.js'

export interface LogLine { stream: 'stdout' | 'stderr', text: string, run: number }
export interface Exit { code: number | null, signal: NodeJS.Signals | null }

const RESTART_FIRST_MS = 100
const RESTART_MAX_MS = 60_000
const RESTART_RESET_AFTER_MS = 10_000

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Runs `bins`' programs with this node; others (node in a health check) through PATH. */
export function execArgv (argv: string[], bins: Record<string, string>): string[] {
  const bin = bins[argv[0]!]
  return bin !== undefined ? [process.execPath, bin, ...argv.slice(1)] : argv
}

export class Container extends EventEmitter {
  readonly log: LogLine[] = []
  /** Times started, by up/start or by the restart policy. */
  runs = 0
  /** Of those, by the restart policy. */
  policyRestarts = 0
  private proc: ChildProcess | null = null
  private exit: Promise<Exit> | null = null
  private wanted = false
  private restartTimer: NodeJS.Timeout | null = null
  private backoffMs = RESTART_FIRST_MS
  private startedAt = 0

  constructor (readonly plan: ServicePlan, private readonly network: Network, private readonly bins: Record<string, string>) {
    super()
  }

  get name (): string { return this.plan.name }
  get running (): boolean { return this.proc !== null }

  private env (): Record<string, string> {
    // The image's PATH finds node; here, this node first.
    return { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`, ...this.plan.env }
  }

  /** `docker start`: runs the service and keeps it to its restart policy. */
  start (): void {
    this.wanted = true
    this.backoffMs = RESTART_FIRST_MS
    if (this.proc === null && this.restartTimer === null) this.run()
  }

  private run (): void {
    const run = ++this.runs
    this.startedAt = Date.now()
    const proc = this.network.spawn(this.name, execArgv(this.plan.argv, this.bins), this.env(), this.plan.secrets)
    this.proc = proc
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: proc[stream]! }).on('line', (text) => {
        const line = { stream, text, run }
        this.log.push(line)
        this.emit('line', line)
      })
    }
    this.exit = new Promise<Exit>((resolve) => {
      proc.once('error', (err) => {
        this.log.push({ stream: 'stderr', text: `cannot start: ${err.message}`, run })
      })
      proc.once('close', (code, signal) => {
        this.proc = null
        const exit = { code, signal }
        this.emit('exit', exit)
        resolve(exit)
        this.afterExit(exit)
      })
    })
  }

  private afterExit (exit: Exit): void {
    const policy = this.plan.restart
    if (!this.wanted || policy.kind === 'no') return
    if (policy.kind === 'on-failure' && (exit.code === 0 || (policy.maxRetries !== null && this.policyRestarts >= policy.maxRetries))) return
    if (Date.now() - this.startedAt >= RESTART_RESET_AFTER_MS) this.backoffMs = RESTART_FIRST_MS
    const delay = this.backoffMs
    this.backoffMs = Math.min(this.backoffMs * 2, RESTART_MAX_MS)
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null
      if (!this.wanted) return
      this.policyRestarts++
      this.run()
    }, delay)
  }

  /** The current run's exit (resolves at once if nothing runs). */
  async exited (): Promise<Exit | null> {
    return this.proc === null ? null : await this.exit!
  }

  /** `docker stop`: the stop signal, SIGKILL after the grace period; the restart policy no longer applies. */
  async stop (): Promise<Exit | null> {
    this.wanted = false
    if (this.restartTimer !== null) { clearTimeout(this.restartTimer); this.restartTimer = null }
    const proc = this.proc
    if (proc === null) return null
    const exit = this.exit!
    proc.kill(this.plan.stopSignal)
    const timer = setTimeout(() => { killGone(-proc.pid!) }, this.plan.stopGraceMs)
    try {
      return await exit
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Resolves once the health check passes in the current run; fails when
   * the service becomes unhealthy or exits first. A service without a
   * health check has no healthy state (compose refuses service_healthy on it).
   */
  async healthy (): Promise<void> {
    const hc = this.plan.health
    if (hc === null) throw new Error(`${this.name} has no health check`)
    const run = this.runs
    const started = this.startedAt
    let failures = 0
    for (;;) {
      await sleep(hc.intervalMs)
      if (this.proc === null || this.runs !== run) throw new Error(`${this.name} exited before it was healthy`)
      const probe = await this.probe(hc.argv, hc.timeoutMs)
      if (probe.ok) return
      if (Date.now() - started >= hc.startPeriodMs && ++failures >= hc.retries) {
        throw new Error(`${this.name} is unhealthy: ${failures} health checks failed in a row; last: ${probe.output === '' ? '(no output)' : probe.output}`)
      }
    }
  }

  /** One health check in the namespace, with the service's environment, killed at `timeoutMs`. */
  private async probe (argv: string[], timeoutMs: number): Promise<{ ok: boolean, output: string }> {
    const p = this.network.spawn(this.name, execArgv(argv, this.bins), this.env(), this.plan.secrets)
    let output = ''
    p.stdout!.on('data', (d: Buffer) => { output += d.toString() })
    p.stderr!.on('data', (d: Buffer) => { output += d.toString() })
    // The compose file's timeout, scaled as every limit of the suite (test/support/time.ts).
    const timer = setTimeout(() => { killGone(-p.pid!) }, scaled(timeoutMs))
    const code = await new Promise<number | null>((resolve) => {
      p.once('error', () => { resolve(null) })
      p.once('close', (c) => { resolve(c) })
    })
    clearTimeout(timer)
    return { ok: code === 0, output: output.trim() }
  }

  /** The last `n` lines of output, for a failure message. */
  tail (n = 20): string {
    return this.log.slice(-n).map((l) => `${this.name} | ${l.text}`).join('\n')
  }
}

/** SIGKILL to `pid` (a group when negative), from a timer; one already gone (ESRCH) is what was wanted, anything else is said. */
function killGone (pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') process.stderr.write(`topology: cannot kill ${pid}: ${(err as Error).message}\n`)
  }
}
