// Real C programs for `soclink run` (test/e2e/fixtures/rpmsg-char): compiled
// in the test against the machine's <linux/rpmsg.h>, run through the built
// CLI against a daemon, as a user runs an unmodified rpmsg_char program.

import { spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { run, spawn, type RunResult } from './children.js'
import { ROOT, SOCLINK } from './repo.js'
import { scaled } from './time.js'

const SOURCES = join(ROOT, 'test/e2e/fixtures/rpmsg-char')
export const SHIM = join(ROOT, 'dist/native/libsoclink-rpmsg.so')

export interface Programs { dir: string, path: (name: string) => string, remove: () => void }

/** Why the programs cannot run here (no compiler, no <linux/rpmsg.h>, no shim), or null. */
export function missing (): string | null {
  if (process.platform !== 'linux') return 'not Linux'
  const cc = spawnSync('cc', ['--version'], { stdio: 'ignore' })
  if (cc.error !== undefined || cc.status !== 0) return 'no C compiler (cc)'
  if (!existsSync('/usr/include/linux/rpmsg.h')) return 'no <linux/rpmsg.h>'
  if (!existsSync(SHIM)) return `no shim at ${SHIM} (npm run build:native)`
  return null
}

/** Compiles every program; throws with the compiler's output when one fails. */
export function compilePrograms (): Programs {
  const dir = mkdtempSync(join(tmpdir(), 'soclink-rpmsg-char-'))
  for (const file of readdirSync(SOURCES).filter((f) => f.endsWith('.c'))) {
    const out = join(dir, file.slice(0, -2))
    const r = spawnSync('cc', ['-std=gnu11', '-O2', '-Wall', '-Werror', '-o', out, join(SOURCES, file)], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`cc ${file}: ${r.stderr}`)
  }
  return { dir, path: (name) => join(dir, name), remove: () => { rmSync(dir, { recursive: true, force: true }) } }
}

const runArgs = (api: string, exe: string, args: readonly string[]): string[] => [SOCLINK, 'run', '--api', api, '--', exe, ...args]

/** Runs a program to its end through `soclink run`. */
export async function runProgram (api: string, exe: string, args: readonly string[], ms = 60_000, env: Record<string, string> = {}): Promise<RunResult> {
  return await run(process.execPath, runArgs(api, exe, args), scaled(ms), { env: { ...process.env, ...env } })
}

export interface Started { proc: ChildProcess, lines: string[], stderr: () => string, exit: Promise<number> }

/** Starts a program through `soclink run` and resolves once it prints "ready". */
export async function startProgram (api: string, exe: string, args: readonly string[], ms = 30_000, env: Record<string, string> = {}): Promise<Started> {
  const proc = spawn(process.execPath, runArgs(api, exe, args), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  const lines: string[] = []
  let stderr = ''
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  // 'close', not 'exit': by then the output still in the pipe is in `lines` (the echo server's last line).
  const exit = new Promise<number>((resolve) => proc.once('close', (code, signal) => { resolve(code ?? (signal === 'SIGKILL' ? 137 : 1)) }))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${exe}: not ready in ${scaled(ms)} ms; stderr: ${stderr}`)) }, scaled(ms))
    void exit.then((code) => { clearTimeout(timer); reject(new Error(`${exe} exited ${code} before it was ready; stderr: ${stderr}`)) })
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      lines.push(line)
      if (line.startsWith('ready')) { clearTimeout(timer); resolve() }
    })
  })
  return { proc, lines, stderr: () => stderr, exit }
}
