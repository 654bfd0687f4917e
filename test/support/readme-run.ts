// Runs README.md's shell blocks as a reader would (test/e2e/readme.test.ts):
// command by command, in README order, in a scratch folder, with `soclink`
// and `soclinkd` on PATH (as `npm link` puts them), README's ports
// (74xx, 75xx) replaced by free ones, and the lines `# ...` under a command
// taken as output that must show: from that command, or from a command left
// running with `&` before it (an echo, an event stream), normalized (every
// number is N, runs of spaces one, `...` matches anything). A command whose
// expected output is `soclink: ...` must fail; every other must succeed.
// Daemons (`soclinkd ... &`) are waited for as a reader waits: their API
// answers, their links are up (or refused with a reason), and a virtio side
// that has a peer has its devices at DRIVER_OK.

import type { ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { killGroup, run, spawn } from './children.js'
import { until } from './daemon.js'
import { ROOT, SOCLINK, SOCLINKD } from './repo.js'
import { scaled } from './time.js'
import { unusedPort } from './ports.js'

export interface Command {
  /** The command as README prints it (continuation lines joined). */
  text: string
  background: boolean
  /** The `# ` lines under it. */
  expected: string[]
}

/** A block's commands, each with the output lines printed under it. */
export function commandsOf (block: string): Command[] {
  const out: Command[] = []
  const lines = block.split('\n')
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!
    if (line.trim() === '') continue
    if (line.startsWith('#')) {
      out.at(-1)?.expected.push(line.replace(/^# ?/, ''))
      continue
    }
    while (line.endsWith('\\') && i + 1 < lines.length) line += '\n' + lines[++i]!
    // A loop is one command, to its `done`.
    if (/^(for|while) /.test(line)) while (!/^done\b/.test(lines[i]!) && i + 1 < lines.length) line += '\n' + lines[++i]!
    const bare = line.replace(/\s+#[^'"]*$/, '').trimEnd()
    const background = bare.endsWith('&') && !bare.endsWith('&&')
    out.push({ text: background ? bare.slice(0, -1).trimEnd() : line, background, expected: [] })
  }
  return out
}

/** A line as compared: numbers N, spaces collapsed. */
export function normalize (line: string): string {
  return line.replace(/\d+(\.\d+)?/g, 'N').replace(/\s+/g, ' ').trim()
}

/** Whether `expected` (normalized; `...` matches anything) is one of `lines`. */
export function shows (lines: readonly string[], expected: string): boolean {
  const parts = normalize(expected).split('...').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  const re = new RegExp(`^${parts.join('.*')}$`)
  return lines.some((l) => re.test(normalize(l)))
}

/** Output lines a reader reads: the daemons' JSON log lines left out. */
function readable (text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{"level"'))
}

const UNAUTHORIZED = { unauthorized: true }

interface Running { text: string, proc: ChildProcess, output: string }

export class ReadmeShell {
  private readonly ports = new Map<string, number>()
  private running: Running[] = []
  /** API ports of the daemons of this scenario, with their --role. */
  private daemons: Array<{ api: number, role: string }> = []
  /** Daemons have started since the last command: wait for them as a reader does, once. */
  private starting = false
  private readonly env: Record<string, string>

  constructor (readonly dir: string) {
    this.env = { ...process.env as Record<string, string>, PATH: `${join(dir, '.bin')}:${process.env.PATH ?? ''}`, NO_COLOR: '1' }
  }

  /** `soclink` and `soclinkd` on PATH, as `npm link` gives them. */
  async init (): Promise<void> {
    await mkdir(join(this.dir, '.bin'), { recursive: true })
    for (const [name, script] of [['soclink', SOCLINK], ['soclinkd', SOCLINKD]] as const) {
      await writeFile(join(this.dir, '.bin', name), `#!/bin/sh\nexec "${process.execPath}" "${script}" "$@"\n`, { mode: 0o755 })
    }
    await writeFile(join(this.dir, '.env.sh'), '')
    // The checkout's files a reader names by path (proto/wireshark/soclink.lua), read-only.
    await symlink(join(ROOT, 'proto'), join(this.dir, 'proto'))
    // A daemon and a client given no address use the defaults (7400, 7401), localized too.
    this.env.SOCLINK_LISTEN = await this.localize('127.0.0.1:7400')
    this.env.SOCLINK_API = await this.localize('127.0.0.1:7401')
  }

  /** README's ports (74xx, 75xx) as free ones, the same one for the same port throughout. */
  async localize (text: string): Promise<string> {
    for (const m of text.matchAll(/\b7[45]\d\d\b/g)) {
      if (!this.ports.has(m[0])) this.ports.set(m[0], await unusedPort())
    }
    return text.replace(/\b7[45]\d\d\b/g, (p) => String(this.ports.get(p)))
  }

  /** README's ports held by the daemons running. */
  private held = new Set<string>()

  /** Whether `c` starts a daemon on a port one that runs holds: then the section starts anew, and what runs must stop first. */
  clashes (c: Command): boolean {
    return daemonPorts(c).some((p) => this.held.has(p))
  }

  /** Stops what the last scenario left running. */
  stopAll (): void {
    for (const r of this.running) killGroup(r.proc)
    this.running = []
    this.daemons = []
    this.held.clear()
  }

  /** `text` in the shell state the commands before it left: exported variables and the current folder. */
  private script (text: string, keepState: boolean): string {
    const state = join(this.dir, '.env.sh')
    return `set -o pipefail\n. '${state}'\n${text}\n__rc=$?\n${keepState ? `{ export -p; echo "cd '$(pwd)'"; } > '${state}'\n` : ''}exit $__rc\n`
  }

  /** Runs one command; resolves with what went wrong (null: as README says). */
  async run (c: Command): Promise<string | null> {
    const text = await this.localize(c.text)
    if (c.background) {
      const proc = spawn('bash', ['-c', this.script(text, false)], { cwd: this.dir, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] })
      const r: Running = { text, proc, output: '' }
      proc.stdout!.on('data', (d: Buffer) => { r.output += d.toString() })
      proc.stderr!.on('data', (d: Buffer) => { r.output += d.toString() })
      this.running.push(r)
      if (/^soclinkd\b/.test(text)) {
        for (const p of daemonPorts(c)) this.held.add(p)
        const api = Number(/--api \S+:(\d+)/.exec(text)?.[1] ?? new URL(`http://${this.env.SOCLINK_API!}`).port)
        this.daemons.push({ api, role: /--role (\S+)/.exec(text)?.[1] ?? 'rc' })
        this.starting = true
        await until(`${text}: its API`, async () => (await this.get(api, '/healthz')) !== undefined ? true : undefined, 20_000, () => r.output.slice(-2000))
      } else if (/^soclink\b/.test(text) && c.expected.length === 0) {
        // A client left running (an event stream): connected before the next command.
        await until(`${text}: connected`, () => r.output !== '' || connectedTo(proc.pid!) ? true : undefined, 20_000)
      }
      return await this.showing(c, [])
    }
    if (this.starting) { await this.settled(); this.starting = false }
    const once = async (): Promise<string | { own: string[] }> => {
      const r = await run('bash', ['-c', this.script(text, true)], scaled(180_000), { cwd: this.dir, env: this.env })
      const failing = c.expected.some((l) => l.startsWith('soclink: '))
      if (failing ? r.code === 0 : r.code !== 0) return `exit ${r.code}${failing ? ' (README shows a failure)' : ''}: ${r.stdout}${r.stderr}`
      return { own: readable(r.stdout + r.stderr) }
    }
    // A query is asked again until it shows what README prints, as a reader would ask again.
    if (isQuery(text) && c.expected.length > 0) {
      let last: string | { own: string[] } = ''
      try {
        await until(`${text}: showing README's output`, async () => {
          last = await once()
          return typeof last !== 'string' && c.expected.every((l) => shows((last as { own: string[] }).own, l)) ? true : undefined
        }, 30_000)
      } catch { /* told below, from the last answer */ }
      if (typeof last === 'string') return last
    }
    const r = await once()
    if (typeof r === 'string') return r
    return await this.showing(c, r.own)
  }

  /** Waits for each expected line in `own` or what the commands left running print. */
  private async showing (c: Command, own: string[]): Promise<string | null> {
    const pool = (): string[] => [...own, ...this.running.flatMap((r) => readable(r.output))]
    try {
      await until(`${c.text}: its output`, () => c.expected.every((l) => shows(pool(), l)) ? true : undefined, 30_000)
      return null
    } catch {
      const missing = c.expected.filter((l) => !shows(pool(), l))
      return `missing:\n${missing.join('\n')}\nin:\n${pool().join('\n')}`
    }
  }

  /** GET on a daemon's API, http or https (the reader's TLS daemons), through curl. */
  private async get (port: number, path: string): Promise<unknown> {
    for (const scheme of ['http', 'https']) {
      const r = await run('curl', ['-sk', '-w', '\n%{http_code}', `${scheme}://127.0.0.1:${port}${path}`], scaled(20_000))
      const status = r.stdout.slice(r.stdout.lastIndexOf('\n') + 1)
      // A daemon with API tokens answers 401: up, though the reader's eyes cannot see in without a token.
      if (status === '401') return UNAUTHORIZED
      if (status === '200') {
        try { return JSON.parse(r.stdout.slice(0, r.stdout.lastIndexOf('\n'))) } catch { return undefined }
      }
    }
    return undefined
  }

  /** The scenario's daemons as a reader finds them when they look: links settled, devices up. */
  private async settled (): Promise<void> {
    for (const d of this.daemons) {
      await until(`daemon on ${d.api}: settled`, async () => {
        const answer = await this.get(d.api, '/v1/peers')
        if (answer === undefined) return undefined
        if (answer === UNAUTHORIZED) return true
        const peers = answer as { peers: Array<{ state: string, lastError: string, role: string }> }
        if (!peers.peers.every((p) => p.state === 'up' || p.lastError !== '')) return undefined
        const virtio = (d.role === 'rc' && peers.peers.some((p) => p.state === 'up' && p.role === 'ep')) || (d.role === 'ntb-virtio' && peers.peers.some((p) => p.state === 'up'))
        if (!virtio) return true
        const devices = await this.get(d.api, '/v1/devices') as { devices: Array<{ statusBits: string[] }> } | undefined
        return devices !== undefined && devices.devices.length > 0 && devices.devices.every((v) => v.statusBits.includes('DRIVER_OK')) ? true : undefined
      }, 60_000)
    }
  }
}

/** README's ports a daemon that `c` starts listens on (7400 and 7401 when it names none). */
function daemonPorts (c: Command): string[] {
  if (!c.background || !/^soclinkd\b/.test(c.text)) return []
  return [/--listen \S+:(\d+)/.exec(c.text)?.[1] ?? '7400', /--api \S+:(\d+)/.exec(c.text)?.[1] ?? '7401']
}

/** A command that only asks (curl without -X, soclink listing something): safe to ask again. */
function isQuery (text: string): boolean {
  if (/^curl -s\b/.test(text)) return !/ -X /.test(text)
  return /^soclink .*\b(peers|channels|endpoints|devices|virtqueues|ntb|status)$/.test(text)
}

/** Whether process `pid` or a child of it holds an established TCP connection (a client that has connected). */
function connectedTo (pid: number): boolean {
  return socketInodes(pid).size > 0
}

/** `pid` and every process under it, from /proc. */
function family (pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // The fields after the command's closing parenthesis: state, ppid, ...
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...children.get(ppid) ?? [], Number(entry)])
    } catch { /* gone meanwhile */ }
  }
  const out = [pid]
  for (let i = 0; i < out.length; i++) out.push(...children.get(out[i]!) ?? [])
  return out
}

/** The established TCP connections of `pid` and its children. */
function socketInodes (pid: number): Set<string> {
  const mine = new Set<string>()
  for (const p of family(pid)) {
    let fds: string[]
    try { fds = readdirSync(`/proc/${p}/fd`) } catch { continue }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${p}/fd/${fd}`))
        if (m !== null) mine.add(m[1]!)
      } catch { /* closed meanwhile */ }
    }
  }
  const established = new Set<string>()
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try { text = readFileSync(table, 'utf8') } catch { continue }
    for (const row of text.split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/)
      if (cols[3] === '01' && mine.has(cols[9]!)) established.add(cols[9]!)
    }
  }
  return established
}
