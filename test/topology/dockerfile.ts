// What a container gets from the image a Dockerfile builds: the last stage's
// ENV, ENTRYPOINT, CMD, USER and HEALTHCHECK (the Dockerfile reference's
// rules; the base image's own settings are not known here). Pure: text in,
// values out. Only the forms docker-compose.yml's image needs are modelled;
// anything else is an error rather than a guess.

import { parseDuration } from './duration.js'

export interface Instruction { keyword: string, args: string, line: number }
export interface Stage { from: string, name: string | null, instructions: Instruction[] }

/** Docker's defaults for HEALTHCHECK options (Dockerfile reference). */
export const HEALTH_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, retries: 3 }

export interface ImageHealthcheck {
  /** Docker's Test: ["CMD", ...argv], ["CMD-SHELL", command] or ["NONE"]. */
  test: string[]
  intervalMs?: number
  timeoutMs?: number
  startPeriodMs?: number
  retries?: number
}

export interface ImageConfig {
  env: Record<string, string>
  entrypoint: string[] | null
  cmd: string[] | null
  user: string | null
  exposed: string[]
  healthcheck: ImageHealthcheck | null
}

/** Splits a Dockerfile into stages of instructions (continuations joined, comments dropped). */
export function parseDockerfile (text: string): Stage[] {
  const stages: Stage[] = []
  let pending = ''
  let startLine = 0
  const lines = text.split('\n')
  lines.forEach((raw, i) => {
    // Comment lines go, also inside a continuation (Dockerfile reference, "Format").
    if (/^\s*#/.test(raw)) return
    if (pending === '') startLine = i + 1
    const cont = /\\\s*$/.test(raw)
    pending += (pending === '' ? '' : ' ') + (cont ? raw.replace(/\\\s*$/, '') : raw).trim()
    if (cont && i < lines.length - 1) return
    const text = pending.trim()
    pending = ''
    if (text === '') return
    const m = /^(\S+)\s*(.*)$/.exec(text)!
    const ins = { keyword: m[1]!.toUpperCase(), args: m[2]!, line: startLine }
    if (ins.keyword === 'FROM') {
      const f = /^(?:--\S+\s+)*(\S+)(?:\s+as\s+(\S+))?$/i.exec(ins.args)
      if (f === null) throw new Error(`Dockerfile:${ins.line}: cannot read FROM ${ins.args}`)
      stages.push({ from: f[1]!, name: f[2] ?? null, instructions: [] })
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new Error(`Dockerfile:${ins.line}: ${ins.keyword} before the first FROM`)
    } else {
      stages.at(-1)!.instructions.push(ins)
    }
  })
  if (stages.length === 0) throw new Error('Dockerfile: no FROM')
  return stages
}

/** The configuration the last stage gives its image. */
export function imageConfig (stages: Stage[]): ImageConfig {
  const out: ImageConfig = { env: {}, entrypoint: null, cmd: null, user: null, exposed: [], healthcheck: null }
  for (const ins of stages.at(-1)!.instructions) {
    const where = `Dockerfile:${ins.line}`
    switch (ins.keyword) {
      case 'ENV': Object.assign(out.env, envPairs(ins.args, where)); break
      // ENTRYPOINT resets a CMD inherited or set before it.
      case 'ENTRYPOINT': out.entrypoint = commandForm(ins.args, where); out.cmd = null; break
      case 'CMD': out.cmd = commandForm(ins.args, where); break
      case 'USER': out.user = ins.args.trim(); break
      case 'EXPOSE': out.exposed.push(...ins.args.split(/\s+/).filter((p) => p !== '')); break
      case 'HEALTHCHECK': out.healthcheck = healthcheck(ins.args, where); break
    }
  }
  return out
}

/** Exec form (a JSON array) as it is; shell form through /bin/sh -c. */
function commandForm (args: string, where: string): string[] {
  const t = args.trim()
  if (t.startsWith('[')) {
    let v: unknown
    try {
      v = JSON.parse(t)
    } catch (err) {
      throw new Error(`${where}: exec form is not a JSON array of strings: ${(err as Error).message}`, { cause: err })
    }
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`${where}: exec form is not a JSON array of strings`)
    return v
  }
  return ['/bin/sh', '-c', t]
}

function healthcheck (args: string, where: string): ImageHealthcheck {
  if (/^NONE$/i.test(args.trim())) return { test: ['NONE'] }
  const m = /^((?:--[a-z-]+=\S+\s+)*)CMD\s+(.*)$/i.exec(args.trim())
  if (m === null) throw new Error(`${where}: HEALTHCHECK is [OPTIONS] CMD command, or NONE`)
  const argv = commandForm(m[2]!, where)
  const hc: ImageHealthcheck = { test: m[2]!.trim().startsWith('[') ? ['CMD', ...argv] : ['CMD-SHELL', argv[2]!] }
  for (const opt of m[1]!.trim().split(/\s+/).filter((o) => o !== '')) {
    const [name, value] = opt.slice(2).split('=') as [string, string]
    switch (name) {
      case 'interval': hc.intervalMs = parseDuration(value, `${where}: --interval`); break
      case 'timeout': hc.timeoutMs = parseDuration(value, `${where}: --timeout`); break
      case 'start-period': hc.startPeriodMs = parseDuration(value, `${where}: --start-period`); break
      case 'retries': hc.retries = Number(value); break
      default: throw new Error(`${where}: HEALTHCHECK option --${name} is not modelled`)
    }
  }
  return hc
}

/** `ENV K=V K2="v 2"`, or the legacy `ENV K value with spaces`. */
function envPairs (args: string, where: string): Record<string, string> {
  if (args.includes('$')) throw new Error(`${where}: ENV with $ substitution is not modelled`)
  const out: Record<string, string> = {}
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
    const m = /^(\S+)\s+(.*)$/.exec(args)
    if (m === null) throw new Error(`${where}: ENV needs a value`)
    out[m[1]!] = m[2]!
    return out
  }
  const re = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)\s*/y
  let at = 0
  while (at < args.length) {
    re.lastIndex = at
    const m = re.exec(args)
    if (m === null) throw new Error(`${where}: cannot read ENV at ${JSON.stringify(args.slice(at))}`)
    const v = m[2]!
    out[m[1]!] = v.startsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v.startsWith('\'') ? v.slice(1, -1) : v
    at = re.lastIndex
  }
  return out
}
