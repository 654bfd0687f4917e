// Every child process a test (or the bench) starts dies with it, however it
// ends. Children are spawned detached, each the leader of its own process
// group, and adopted here: a test file's end (tap's root completing), the
// process's exit (normal, an uncaught error) and SIGINT/SIGTERM/SIGHUP kill
// each adopted group outright (kill -PGID, so its own children go too). A
// file killed with SIGKILL runs none of that, so long-lived children also
// preload WATCH_PARENT, which ends them once their parent is gone (Node
// cannot ask the kernel for a parent-death signal).

import { spawn as spawnChild, type ChildProcess, type SpawnOptions } from 'node:child_process'

const live = new Set<ChildProcess>()

/** Kills `proc`'s process group (itself, if it is no group leader). */
export function killGroup (proc: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return
  try {
    process.kill(-proc.pid, signal)
  } catch {
    // Not a group leader (spawned without detached): the process alone.
    try { proc.kill(signal) } catch { /* already gone */ }
  }
}

export function killAll (): void {
  for (const p of live) killGroup(p)
  live.clear()
}

let hooked = false

async function hook (): Promise<void> {
  if (hooked) return
  hooked = true
  process.on('exit', killAll)
  for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const) {
    process.once(signal, () => { killAll(); process.exit(128 + number) })
  }
  // Under tap, the file's end: its root completes after every subtest and
  // teardown. (Not a root teardown: that would make the root end itself
  // whenever it is idle, before top-level code adds its next subtest.)
  if (process.env.TAP === '1') {
    const { default: t } = await import('tap')
    t.on('complete', killAll)
  }
}

/** Kills `proc` (and its group) whenever this process ends. */
export function adopt (proc: ChildProcess): ChildProcess {
  void hook()
  if (proc.exitCode !== null || proc.signalCode !== null) return proc
  live.add(proc)
  proc.once('exit', () => { live.delete(proc) })
  return proc
}

/** child_process.spawn, detached into a process group of its own and adopted. */
export function spawn (command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return adopt(spawnChild(command, args, { ...options, detached: true }))
}

export interface RunResult { code: number, stdout: string, stderr: string }

/**
 * Runs `command` to its end in a process group of its own (adopted), with
 * its output; after `ms` the whole group is killed and the result says so
 * (code 1, and a line on stderr). Never throws on a non-zero exit.
 */
export async function run (command: string, args: readonly string[], ms: number, options: SpawnOptions = {}): Promise<RunResult> {
  const proc = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  proc.stdout!.on('data', (d: Buffer) => { stdout += d.toString() })
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => {
    stderr += `\n(${command} ${args.join(' ')}: killed after ${ms} ms)\n`
    killGroup(proc)
  }, ms)
  return await new Promise<RunResult>((resolve, reject) => {
    proc.once('error', (err) => { clearTimeout(timer); reject(err) })
    proc.once('close', (code) => { clearTimeout(timer); resolve({ code: code ?? 1, stdout, stderr }) })
  })
}

/**
 * node flags that make a child end itself once its parent is gone: a data:
 * URL, so it needs no file, built or not.
 */
export const WATCH_PARENT = ['--import', 'data:text/javascript,' + encodeURIComponent(
  'const parent = process.ppid; setInterval(() => { if (process.ppid !== parent) process.kill(process.pid, "SIGKILL") }, 250).unref()'
)]
