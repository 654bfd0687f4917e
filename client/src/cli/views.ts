// Human text for the API's resources and events (pure; tables come from
// format.ts).

import type { Doorbell, NodeEvent, NodeInfo, Peer, Region, Window } from '../../../proto/api/index.js'
import { formatSize, table } from './format.js'

export function nodeText (n: NodeInfo): string {
  return `${n.name} (${n.role}), soclink ${n.version}, incarnation ${n.incarnation}, up ${n.uptimeSeconds} s, peer links on ${n.listen ?? '-'}`
}

export function peersTable (peers: Peer[]): string {
  if (peers.length === 0) return 'no peers'
  return table(['name', 'state', 'role', 'direction', 'rtt ms', 'unacked', 'url', 'last error'],
    peers.map((p) => [p.name, p.state, p.role, p.direction, p.rttMs === null ? null : p.rttMs.toFixed(2), p.unacked, p.url, p.lastError]))
}

export function regionsTable (regions: Region[]): string {
  if (regions.length === 0) return 'no regions'
  return table(['id', 'name', 'size', 'pages', 'writes', 'subscribers'],
    regions.map((r) => [r.id, r.name, formatSize(r.size), r.populatedPages, r.writes, r.subscribers.map((s) => `${s.peer}#${s.window}`).join(',')]))
}

export function windowsTable (windows: Window[]): string {
  if (windows.length === 0) return 'no windows'
  return table(['id', 'peer', 'region', 'offset', 'size', 'replica', 'state', 'unordered', 'last error'],
    windows.map((w) => [w.id, w.peer, String(w.region), `0x${w.offset.toString(16)}`, formatSize(w.size), w.replica ? 'yes' : 'no', w.state, w.unordered, w.lastError]))
}

export function doorbellsTable (doorbells: Doorbell[]): string {
  if (doorbells.length === 0) return 'no doorbells'
  return table(['name', 'rings', 'last value'], doorbells.map((d) => [d.name, d.rings, d.lastValue]))
}

const why = (s: string): string => s !== '' ? ` (${s})` : ''

export function eventText (e: NodeEvent): string {
  switch (e.type) {
    case 'doorbell': return `${e.time} doorbell ${e.peer}→${e.target} value=${e.value}`
    case 'link': return `${e.time} link ${e.peer} ${e.state}${why(e.reason)}`
    case 'peer': return `${e.time} peer ${e.peer} ${e.state}${why(e.error)}`
    case 'window': return `${e.time} window ${e.window} on ${e.peer} ${e.state}${why(e.error)}`
    case 'error': return `${e.time} error from ${e.peer}: ${e.message}`
    default: return JSON.stringify(e)
  }
}
