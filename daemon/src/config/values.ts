// The values of daemon settings: the kinds a setting can have, and how each
// is read from text (a flag or an environment variable) and from a config
// file (JSON or YAML types). Pure; settings.ts decides which setting has
// which kind and where it comes from.

import { ConfigError } from '../errors.js'
import { VHOST_DRIVERS } from '../hw/pcie/function-table.js'
import { parseSize as parseSizeText, SizeSyntaxError } from '../../../client/src/sizes.js'

export const ROLES = ['rc', 'ep', 'ntb', 'ntb-virtio', 'ntb-vhost'] as const
export type RoleName = typeof ROLES[number]

export interface HostPort { host: string, port: number }
/** A region to create at start; `peers`, if given, are the only peers that may open windows onto it. */
export interface RegionSetting { name: string, size: number, peers?: string[] }
/**
 * A peer with a secret of its own (config file only): dialed when it has a
 * url, else a peer allowed to dial this daemon under `name`.
 */
export interface PeerEntry { name: string, secretFile: string, url?: string }
/** A peer URL to dial, or a PeerEntry. */
export type PeerSetting = string | PeerEntry
export interface WindowSetting { peer: string, region: string | number, offset: number, size: number, replica: boolean }
/** Two hosts the NTB board joins through one NTB function (primary a, secondary b). */
export interface NtbPairSetting { a: string, b: string }

/** An endpoint function as the config file gives it (pci_ep configfs attributes). */
export interface PcieFunctionSetting {
  name: string
  controller?: string
  vendorId?: number
  deviceId?: number
  subsysVendorId?: number
  subsysId?: number
  classCode?: number
  numVrings?: number
  vringSize?: number
  /** The vhost-client driver: rpmsg (subsystem id VIRTIO_ID_RPMSG), soclink-test, or none; the vhostDriver setting when absent. */
  vhostDriver?: typeof VHOST_DRIVERS[number]
}

export type Kind = 'string' | 'int' | 'size' | 'boolean' | 'hostport' | 'list' | 'role' | 'regions' | 'windows' | 'ring' | 'interrupts' | 'linkEncoding' | 'linkMask' | 'functions' | 'vhostDriver' | 'pairs' | 'peers' | 'rpmsgBind'

export function fromText (key: string, kind: Kind, raw: string | string[], where: string): unknown {
  const one = Array.isArray(raw) ? raw[raw.length - 1]! : raw
  switch (kind) {
    case 'string': return one
    case 'int': return parseInteger(one, where)
    case 'size': return parseSize(one, where)
    case 'boolean': return oneOf(one, ['true', 'false'], where) === 'true'
    case 'ring': return oneOf(one, ['split', 'packed'], where)
    case 'interrupts': return oneOf(one, ['msi', 'intx'], where)
    case 'linkEncoding': return oneOf(one, ['compact', 'protobuf'], where)
    case 'linkMask': return oneOf(one, ['zero', 'random'], where)
    case 'vhostDriver': return oneOf(one, VHOST_DRIVERS, where)
    case 'rpmsgBind': return oneOf(one, ['kernel', 'eager'], where)
    case 'functions': throw new ConfigError(`${key} can only be set in the config file`)
    case 'hostport': return parseHostPort(one, where)
    case 'role': return parseRole(one, where)
    case 'list': case 'peers': return (Array.isArray(raw) ? raw : [raw]).map((x) => x.trim()).filter((x) => x !== '')
    case 'regions': return (Array.isArray(raw) ? raw : [raw]).map((x) => parseRegion(x.trim(), where))
    case 'pairs': return parsePairs((Array.isArray(raw) ? raw : [raw]).map((x) => x.trim()).filter((x) => x !== ''), where)
    case 'windows': throw new ConfigError(`${key} can only be set in the config file`)
  }
}

export function fromFile (kind: Kind, v: unknown, where: string): unknown {
  switch (kind) {
    case 'string': if (typeof v === 'string') return v; break
    case 'int': if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v; break
    case 'size': if (typeof v === 'string') return parseSize(v, where); if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v; break
    case 'boolean': if (typeof v === 'boolean') return v; break
    case 'ring': if (typeof v === 'string') return oneOf(v, ['split', 'packed'], where); break
    case 'interrupts': if (typeof v === 'string') return oneOf(v, ['msi', 'intx'], where); break
    case 'linkEncoding': if (typeof v === 'string') return oneOf(v, ['compact', 'protobuf'], where); break
    case 'linkMask': if (typeof v === 'string') return oneOf(v, ['zero', 'random'], where); break
    case 'vhostDriver': if (typeof v === 'string') return oneOf(v, VHOST_DRIVERS, where); break
    case 'rpmsgBind': if (typeof v === 'string') return oneOf(v, ['kernel', 'eager'], where); break
    case 'functions': if (Array.isArray(v)) return v.map((f, i) => parseFunction(f, `${where}[${i}]`)); break
    case 'hostport': if (typeof v === 'string') return parseHostPort(v, where); break
    case 'role': if (typeof v === 'string') return parseRole(v, where); break
    case 'list': if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v; break
    case 'peers': if (Array.isArray(v)) return v.map((p, i) => typeof p === 'string' ? p : parsePeerEntry(p, `${where}[${i}]`)); break
    case 'regions':
      if (Array.isArray(v)) return v.map((r, i) => typeof r === 'string' ? parseRegion(r, `${where}[${i}]`) : parseRegionEntry(r, `${where}[${i}]`))
      break
    case 'windows':
      if (Array.isArray(v)) return v.map((w, i) => parseWindow(w, `${where}[${i}]`))
      break
    case 'pairs': if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return parsePairs(v, where); break
  }
  throw new ConfigError(`${where}: expected ${kind}, got ${JSON.stringify(v)}`)
}

function oneOf<T extends string> (s: string, allowed: readonly T[], where: string): T {
  if (!(allowed as readonly string[]).includes(s)) throw new ConfigError(`${where}: ${JSON.stringify(s)} is not one of ${allowed.join(', ')}`)
  return s as T
}

const FUNCTION_NUMBERS = ['vendorId', 'deviceId', 'subsysVendorId', 'subsysId', 'classCode', 'numVrings', 'vringSize']

function parseFunction (f: unknown, where: string): PcieFunctionSetting {
  const o = f as Record<string, unknown>
  const ok = typeof f === 'object' && f !== null && typeof o.name === 'string' &&
    (o.controller === undefined || typeof o.controller === 'string') &&
    (o.vhostDriver === undefined || (typeof o.vhostDriver === 'string' && (VHOST_DRIVERS as readonly string[]).includes(o.vhostDriver))) &&
    Object.keys(o).every((k) => k === 'name' || k === 'controller' || k === 'vhostDriver' || (FUNCTION_NUMBERS.includes(k) && Number.isSafeInteger(o[k]) && (o[k] as number) >= 0))
  if (!ok) throw new ConfigError(`${where}: expected {name, controller?, vhostDriver?, ${FUNCTION_NUMBERS.map((k) => k + '?').join(', ')}} with non-negative integers and vhostDriver one of ${VHOST_DRIVERS.join(', ')}`)
  return o as unknown as PcieFunctionSetting
}

function parseInteger (s: string, where: string): number {
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new ConfigError(`${where}: ${JSON.stringify(s)} is not a non-negative integer below 2^53`)
  return Number(s)
}

/** A size, in the grammar the CLI reads too (client/src/sizes.ts). */
export function parseSize (s: string, where: string): number {
  try {
    return parseSizeText(s)
  } catch (err) {
    if (err instanceof SizeSyntaxError) throw new ConfigError(`${where}: ${err.message}`)
    throw err
  }
}

function parseHostPort (s: string, where: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || port > 65535) throw new ConfigError(`${where}: ${JSON.stringify(s)} is not HOST:PORT`)
  return { host: m[1] ?? (m[2] !== '' ? m[2]! : '0.0.0.0'), port }
}

function parseRole (s: string, where: string): RoleName {
  if (!(ROLES as readonly string[]).includes(s)) throw new ConfigError(`${where}: role ${JSON.stringify(s)} is not one of ${ROLES.join(', ')}`)
  return s as RoleName
}

function parseRegionEntry (r: unknown, where: string): RegionSetting {
  const o = r as Record<string, unknown>
  const ok = typeof r === 'object' && r !== null && typeof o.name === 'string' && (typeof o.size === 'string' || (Number.isSafeInteger(o.size) && (o.size as number) > 0)) &&
    (o.peers === undefined || (Array.isArray(o.peers) && o.peers.every((p) => typeof p === 'string' && p !== ''))) &&
    Object.keys(o).every((k) => k === 'name' || k === 'size' || k === 'peers')
  if (!ok) throw new ConfigError(`${where}: expected {name, size, peers?: [node names]} or "NAME:SIZE"`)
  const size = typeof o.size === 'string' ? parseSize(o.size, `${where}: size`) : o.size as number
  return o.peers === undefined ? { name: o.name as string, size } : { name: o.name as string, size, peers: o.peers as string[] }
}

function parsePeerEntry (p: unknown, where: string): PeerEntry {
  const o = p as Record<string, unknown>
  if (typeof p === 'object' && p !== null && 'secret' in o) throw new ConfigError(`${where}: a peer's secret is never written in the config file; give secretFile, a file that holds it`)
  const ok = typeof p === 'object' && p !== null && typeof o.name === 'string' && o.name !== '' && typeof o.secretFile === 'string' && o.secretFile !== '' &&
    (o.url === undefined || typeof o.url === 'string') && Object.keys(o).every((k) => k === 'name' || k === 'secretFile' || k === 'url')
  if (!ok) throw new ConfigError(`${where}: expected a peer URL or {name, secretFile, url?}`)
  return o.url === undefined ? { name: o.name as string, secretFile: o.secretFile as string } : { name: o.name as string, secretFile: o.secretFile as string, url: o.url as string }
}

function parseRegion (s: string, where: string): RegionSetting {
  const i = s.lastIndexOf(':')
  if (i <= 0) throw new ConfigError(`${where}: region ${JSON.stringify(s)} is not NAME:SIZE`)
  return { name: s.slice(0, i), size: parseSize(s.slice(i + 1), where) }
}

/** HOSTA:HOSTB pairs: two different hosts each, no host in two pairs. */
function parsePairs (items: string[], where: string): NtbPairSetting[] {
  const seen = new Set<string>()
  return items.map((item) => {
    const m = /^([^:\s]+):([^:\s]+)$/.exec(item)
    if (m === null) throw new ConfigError(`${where}: ntb pair ${JSON.stringify(item)} is not HOSTA:HOSTB`)
    const [a, b] = [m[1]!, m[2]!]
    if (a === b) throw new ConfigError(`${where}: ntb pair ${item} joins ${a} to itself`)
    for (const h of [a, b]) {
      if (seen.has(h)) throw new ConfigError(`${where}: host ${h} is in two ntb pairs`)
      seen.add(h)
    }
    return { a, b }
  })
}

function parseWindow (w: unknown, where: string): WindowSetting {
  const o = w as Record<string, unknown>
  const ok = typeof w === 'object' && w !== null && typeof o.peer === 'string' &&
    (typeof o.region === 'string' || Number.isSafeInteger(o.region)) &&
    Number.isSafeInteger(o.size) && (o.size as number) > 0 &&
    (o.offset === undefined || (Number.isSafeInteger(o.offset) && (o.offset as number) >= 0)) &&
    (o.replica === undefined || typeof o.replica === 'boolean') &&
    Object.keys(o).every((k) => ['peer', 'region', 'offset', 'size', 'replica'].includes(k))
  if (!ok) throw new ConfigError(`${where}: expected {peer, region, offset?, size, replica?}`)
  return { peer: o.peer as string, region: o.region as string | number, offset: (o.offset as number | undefined) ?? 0, size: o.size as number, replica: (o.replica as boolean | undefined) ?? true }
}

/**
 * A peer as a link URL: ws:// or wss:// as given; a bare HOST:PORT is
 * wss:// when this daemon has TLS material (`secure`: tlsCert), else ws://.
 */
export function normalizePeerUrl (s: string, secure = false): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s) && !/^wss?:\/\//i.test(s)) throw new ConfigError(`peer ${JSON.stringify(s)}: links are ws:// or wss:// URLs`)
  const url = /^wss?:\/\//.test(s) ? s : `${secure ? 'wss' : 'ws'}://${s}`
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new ConfigError(`peer ${JSON.stringify(s)} is not a ws:// URL or HOST:PORT`)
  }
  // What a dialer can use and nothing else: a host (name, IPv4 or [IPv6]) and a port; no credentials, query or fragment.
  const bad = (why: string): ConfigError => new ConfigError(`peer ${JSON.stringify(s.length > 100 ? s.slice(0, 100) + '...' : s)}: ${why}`)
  if (s.length > 2048) throw bad('longer than 2048 characters')
  if (u.username !== '' || u.password !== '') throw bad('a link URL carries no user or password (links authenticate with the secret)')
  if (u.search !== '' || u.hash !== '') throw bad('a link URL has no query or fragment')
  if (!(HOST_NAME.test(u.hostname) && u.hostname.length <= 253) && !/^\[[0-9a-f:.]+\]$/.test(u.hostname)) throw bad(`${JSON.stringify(u.hostname)} is not a host name or address`)
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/link'
  return u.toString()
}

/** A DNS name or an IPv4 address, labels of letters, digits, '-' and '_' (compose service names). */
const HOST_NAME = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/
