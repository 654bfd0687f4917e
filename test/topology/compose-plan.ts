// The services of one profile of a compose file, as a container engine would
// run them: argv (entrypoint and command over the image's), environment
// (image ENV, then env_file, then environment), health check (the service's
// over the image's, field by field, as moby's daemon/commit.go merges them),
// depends_on conditions, restart policy, stop signal and grace period,
// published ports and file secrets (mounted at /run/secrets/TARGET); in an order that starts every dependency first. Pure:
// text in, plans out; files (env_file) through `readFile`. Keys that would
// change how a container runs and are not modelled are errors, so the
// topology test never quietly runs something other than the file says.

import { dirname, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { parseDuration } from './duration.js'
import { HEALTH_DEFAULTS, type ImageConfig, type ImageHealthcheck } from './dockerfile.js'

export type Condition = 'service_started' | 'service_healthy' | 'service_completed_successfully'
export type RestartPolicy = { kind: 'no' | 'always' | 'unless-stopped' } | { kind: 'on-failure', maxRetries: number | null }

export interface HealthPlan { argv: string[], intervalMs: number, timeoutMs: number, startPeriodMs: number, retries: number }
export interface PortPlan { hostIp: string, hostPort: number, containerPort: number }
/** A file secret: the host file `source`, seen in the container read-only at `target`. */
export interface SecretMount { source: string, target: string }

export interface ServicePlan {
  name: string
  argv: string[]
  env: Record<string, string>
  health: HealthPlan | null
  dependsOn: Array<{ service: string, condition: Condition }>
  restart: RestartPolicy
  stopSignal: NodeJS.Signals
  stopGraceMs: number
  ports: PortPlan[]
  secrets: SecretMount[]
}

export interface PlanSources {
  /** The compose file's path. */
  path: string
  /**
   * What relative paths (env_file, secrets' file) are relative to: the
   * compose file's folder unless given (`docker compose --project-directory`).
   */
  projectDir?: string
  text: string
  image: ImageConfig
  readFile: (path: string) => string
}

/** What each service key means here: honoured, or only recorded (no effect on a process). */
const SERVICE_KEYS = new Set(['build', 'image', 'profiles', 'environment', 'env_file', 'command', 'entrypoint', 'healthcheck',
  'restart', 'depends_on', 'ports', 'stop_signal', 'stop_grace_period', 'secrets'])
const HEALTH_KEYS = new Set(['test', 'interval', 'timeout', 'retries', 'start_period', 'disable'])
const CONDITIONS: Condition[] = ['service_started', 'service_healthy', 'service_completed_successfully']
/** Docker's default grace before SIGKILL on stop. */
const STOP_GRACE_MS = 10_000

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The enabled services of `profile` (and those with no profile), dependencies first. */
export function planProfile (src: PlanSources, profile: string): ServicePlan[] {
  const doc: unknown = parseYaml(src.text, { merge: true })
  if (!isObj(doc) || !isObj(doc.services)) throw new Error(`${src.path}: no services`)
  for (const key of Object.keys(doc)) {
    if (!['services', 'version', 'secrets'].includes(key) && !key.startsWith('x-')) throw new Error(`${src.path}: top-level ${key} is not modelled by the topology test`)
  }
  const enabled = Object.entries(doc.services).filter(([, s]) => {
    const profiles = isObj(s) ? s.profiles : undefined
    return profiles === undefined || (Array.isArray(profiles) && profiles.includes(profile))
  })
  if (enabled.length === 0) throw new Error(`${src.path}: no service in profile ${profile}`)
  const names = new Set(enabled.map(([name]) => name))
  const secrets = secretFiles(src, doc.secrets)
  const plans = enabled.map(([name, s]) => servicePlan(src, name, s, names, secrets))
  return startOrder(plans)
}

/** Plans ordered so that each comes after what it depends on (file order otherwise). */
export function startOrder (plans: ServicePlan[]): ServicePlan[] {
  const out: ServicePlan[] = []
  const placed = new Set<string>()
  while (out.length < plans.length) {
    const next = plans.find((p) => !placed.has(p.name) && p.dependsOn.every((d) => placed.has(d.service)))
    if (next === undefined) throw new Error(`depends_on has a cycle among ${plans.filter((p) => !placed.has(p.name)).map((p) => p.name).join(', ')}`)
    out.push(next)
    placed.add(next.name)
  }
  return out
}

function servicePlan (src: PlanSources, name: string, s: unknown, enabled: Set<string>, secrets: Map<string, string>): ServicePlan {
  const where = `${src.path}: services.${name}`
  if (!isObj(s)) throw new Error(`${where}: not a mapping`)
  for (const key of Object.keys(s)) if (!SERVICE_KEYS.has(key)) throw new Error(`${where}.${key} is not modelled by the topology test`)
  noInterpolation(s, where)
  return {
    name,
    argv: argvOf(src.image, s, where),
    env: { ...src.image.env, ...envFiles(src, s.env_file, where), ...environment(s.environment, `${where}.environment`) },
    health: health(src.image.healthcheck, s.healthcheck, `${where}.healthcheck`),
    dependsOn: dependsOn(s.depends_on, enabled, `${where}.depends_on`),
    restart: restart(s.restart, `${where}.restart`),
    stopSignal: (s.stop_signal as NodeJS.Signals | undefined) ?? 'SIGTERM',
    stopGraceMs: s.stop_grace_period === undefined ? STOP_GRACE_MS : parseDuration(s.stop_grace_period as string, `${where}.stop_grace_period`),
    ports: ports(s.ports, `${where}.ports`),
    secrets: secretMounts(s.secrets, secrets, `${where}.secrets`)
  }
}

const projectDir = (src: PlanSources): string => src.projectDir ?? dirname(src.path)

/** The top-level secrets: name to host file. Only file secrets exist without swarm. */
function secretFiles (src: PlanSources, v: unknown): Map<string, string> {
  const out = new Map<string, string>()
  if (v === undefined) return out
  if (!isObj(v)) throw new Error(`${src.path}: secrets: not a mapping`)
  for (const [name, def] of Object.entries(v)) {
    if (!isObj(def) || typeof def.file !== 'string' || Object.keys(def).length !== 1) {
      throw new Error(`${src.path}: secrets.${name}: only { file: PATH } is modelled`)
    }
    out.set(name, resolve(projectDir(src), def.file))
  }
  return out
}

/** A service's secrets, short (NAME) or long ({ source, target }) syntax; target defaults to the name. */
function secretMounts (v: unknown, files: Map<string, string>, where: string): SecretMount[] {
  if (v === undefined) return []
  if (!Array.isArray(v)) throw new Error(`${where}: a list`)
  return v.map((entry: unknown) => {
    const long = isObj(entry)
    if (long && Object.keys(entry).some((k) => k !== 'source' && k !== 'target')) throw new Error(`${where}: only source and target are modelled`)
    const name = long ? entry.source : entry
    const target = long && entry.target !== undefined ? entry.target : name
    if (typeof name !== 'string' || typeof target !== 'string' || !/^[\w.-]+$/.test(target)) throw new Error(`${where}: ${JSON.stringify(entry)} is not NAME or { source, target }`)
    const source = files.get(name)
    if (source === undefined) throw new Error(`${where}: ${name} is not a top-level secret`)
    return { source, target: `/run/secrets/${target}` }
  })
}

/** Compose would substitute $VAR from the shell; the test has no shell to take them from. */
function noInterpolation (v: unknown, where: string): void {
  if (typeof v === 'string' && v.includes('$')) throw new Error(`${where}: ${JSON.stringify(v)}: $ interpolation is not modelled`)
  if (Array.isArray(v)) v.forEach((x) => { noInterpolation(x, where) })
  else if (isObj(v)) Object.values(v).forEach((x) => { noInterpolation(x, where) })
}

function stringList (v: unknown, where: string): string[] {
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v
  throw new Error(`${where}: write it as a list of strings (the string form's shell splitting is not modelled)`)
}

/** Docker's rule: an entrypoint set by the service drops the image's CMD. */
function argvOf (image: ImageConfig, s: Obj, where: string): string[] {
  const entrypoint = s.entrypoint !== undefined ? stringList(s.entrypoint, `${where}.entrypoint`) : image.entrypoint ?? []
  const command = s.command !== undefined ? stringList(s.command, `${where}.command`) : s.entrypoint !== undefined ? [] : image.cmd ?? []
  const argv = [...entrypoint, ...command]
  if (argv.length === 0) throw new Error(`${where}: nothing to run (no entrypoint or command here or in the image)`)
  return argv
}

const envValue = (v: unknown, key: string, where: string): string => {
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  throw new Error(`${where}.${key}: a value taken from the shell is not modelled; give one`)
}

function environment (v: unknown, where: string): Record<string, string> {
  if (v === undefined) return {}
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, envValue(x, k, where)]))
  return Object.fromEntries(stringList(v, where).map((kv) => {
    const i = kv.indexOf('=')
    if (i <= 0) throw new Error(`${where}: ${JSON.stringify(kv)}: a value taken from the shell is not modelled; write KEY=VALUE`)
    return [kv.slice(0, i), kv.slice(i + 1)]
  }))
}

/** env_file: KEY=VALUE lines, # comments; later files win; paths relative to the compose file. */
function envFiles (src: PlanSources, v: unknown, where: string): Record<string, string> {
  if (v === undefined) return {}
  const out: Record<string, string> = {}
  for (const file of typeof v === 'string' ? [v] : stringList(v, `${where}.env_file`)) {
    const path = resolve(projectDir(src), file)
    Object.assign(out, parseEnvFile(src.readFile(path), path))
  }
  return out
}

export function parseEnvFile (text: string, path: string): Record<string, string> {
  const out: Record<string, string> = {}
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)=(.*)$/.exec(line)
    if (m === null) throw new Error(`${path}:${i + 1}: not KEY=VALUE`)
    const value = m[2]!
    if (value.includes('$')) throw new Error(`${path}:${i + 1}: $ interpolation is not modelled`)
    out[m[1]!] = /^(["']).*\1$/.test(value) ? value.slice(1, -1) : value
  })
  return out
}

/** The service's healthcheck over the image's, field by field; null when none or NONE. */
function health (image: ImageHealthcheck | null, v: unknown, where: string): HealthPlan | null {
  let hc: ImageHealthcheck | null = image
  if (v !== undefined) {
    if (!isObj(v)) throw new Error(`${where}: not a mapping`)
    for (const key of Object.keys(v)) if (!HEALTH_KEYS.has(key)) throw new Error(`${where}.${key} is not modelled`)
    if (v.disable === true) return null
    const mine: ImageHealthcheck = {
      test: v.test === undefined ? [] : typeof v.test === 'string' ? ['CMD-SHELL', v.test] : stringList(v.test, `${where}.test`),
      ...(v.interval !== undefined && { intervalMs: parseDuration(v.interval as string, `${where}.interval`) }),
      ...(v.timeout !== undefined && { timeoutMs: parseDuration(v.timeout as string, `${where}.timeout`) }),
      ...(v.start_period !== undefined && { startPeriodMs: parseDuration(v.start_period as string, `${where}.start_period`) }),
      ...(v.retries !== undefined && { retries: v.retries as number })
    }
    hc = image === null
      ? mine
      : {
          test: mine.test.length > 0 ? mine.test : image.test,
          intervalMs: mine.intervalMs || image.intervalMs,
          timeoutMs: mine.timeoutMs || image.timeoutMs,
          startPeriodMs: mine.startPeriodMs || image.startPeriodMs,
          retries: mine.retries || image.retries
        }
  }
  if (hc === null || hc.test.length === 0 || hc.test[0] === 'NONE') return null
  const [kind, ...rest] = hc.test
  if (kind !== 'CMD' && kind !== 'CMD-SHELL') throw new Error(`${where}.test: starts with CMD, CMD-SHELL or NONE, not ${JSON.stringify(kind)}`)
  return {
    argv: kind === 'CMD' ? rest : ['/bin/sh', '-c', rest.join(' ')],
    intervalMs: hc.intervalMs || HEALTH_DEFAULTS.intervalMs,
    timeoutMs: hc.timeoutMs || HEALTH_DEFAULTS.timeoutMs,
    startPeriodMs: hc.startPeriodMs || HEALTH_DEFAULTS.startPeriodMs,
    retries: hc.retries || HEALTH_DEFAULTS.retries
  }
}

function dependsOn (v: unknown, enabled: Set<string>, where: string): ServicePlan['dependsOn'] {
  if (v === undefined) return []
  const deps = Array.isArray(v)
    ? stringList(v, where).map((service) => ({ service, condition: 'service_started' as Condition }))
    : isObj(v)
      ? Object.entries(v).map(([service, d]) => {
        const condition = (isObj(d) ? d.condition : undefined) ?? 'service_started'
        if (!CONDITIONS.includes(condition as Condition)) throw new Error(`${where}.${service}.condition: one of ${CONDITIONS.join(', ')}`)
        return { service, condition: condition as Condition }
      })
      : null
  if (deps === null) throw new Error(`${where}: a list of services or a mapping of conditions`)
  // Compose refuses a dependency on a service that is not enabled.
  for (const d of deps) if (!enabled.has(d.service)) throw new Error(`${where}: ${d.service} is not a service of this profile`)
  return deps
}

function restart (v: unknown, where: string): RestartPolicy {
  if (v === undefined || v === 'no' || v === false) return { kind: 'no' }
  if (v === 'always' || v === 'unless-stopped') return { kind: v }
  const m = typeof v === 'string' ? /^on-failure(?::(\d+))?$/.exec(v) : null
  if (m === null) throw new Error(`${where}: no, always, unless-stopped or on-failure[:N], not ${JSON.stringify(v)}`)
  return { kind: 'on-failure', maxRetries: m[1] !== undefined ? Number(m[1]) : null }
}

/** Short syntax: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp]. */
function ports (v: unknown, where: string): PortPlan[] {
  if (v === undefined) return []
  return stringList(v, where).map((p) => {
    const m = /^(?:([\d.]+):)?(\d+):(\d+)(?:\/tcp)?$/.exec(p)
    if (m === null) throw new Error(`${where}: ${JSON.stringify(p)} is not [HOST_IP:]HOST_PORT:CONTAINER_PORT`)
    return { hostIp: m[1] ?? '0.0.0.0', hostPort: Number(m[2]), containerPort: Number(m[3]) }
  })
}
