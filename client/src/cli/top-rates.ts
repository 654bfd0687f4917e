// soclink top's numbers: two samples of a daemon's counters (GET /v1/peers,
// /v1/rpmsg/endpoints, /v1/doorbells) and the rates between them, per peer,
// per rpmsg endpoint and per doorbell, as JSON and as tables. Pure: the
// command (top.ts) takes the samples and keeps the time.

import type { Doorbell, NodeInfo, Peer, RpmsgEndpointInfo } from '../../../proto/api/index.js'
import { scaled } from '../progress-format.js'
import { table } from './format.js'

/** What one poll of the daemon gives; endpoints null when it has no rpmsg bus (now). */
export interface TopSample { at: number, node: NodeInfo, peers: Peer[], endpoints: RpmsgEndpointInfo[] | null, doorbells: Doorbell[] }

export interface PeerRates {
  name: string
  state: string
  rttMs: number | null
  framesInPerSec: number
  framesOutPerSec: number
  bytesInPerSec: number
  bytesOutPerSec: number
}

export interface EndpointRates {
  device: string
  addr: number
  channel: string | null
  owner: string
  receivedPerSec: number
  sentPerSec: number
  droppedPerSec: number
}

export interface DoorbellRates { name: string, ringsPerSec: number }

export interface TopFrame {
  node: string
  role: string
  /** Between the two samples. */
  seconds: number
  peers: PeerRates[]
  endpoints: EndpointRates[]
  doorbells: DoorbellRates[]
}

/**
 * Per second between two readings of a counter. One that went down was
 * reset (a peer's link remade, a daemon restarted): what it counts now came
 * since; one not there before counts from 0.
 */
export function perSecond (before: number | undefined, now: number | undefined, seconds: number): number {
  if (now === undefined || seconds <= 0) return 0
  const moved = before === undefined || now < before ? now : now - before
  return moved / seconds
}

const by = <T, K>(items: T[], key: (x: T) => K): Map<K, T> => new Map(items.map((x) => [key(x), x]))

export function ratesBetween (a: TopSample, b: TopSample): TopFrame {
  const seconds = (b.at - a.at) / 1000
  const peersA = by(a.peers, (p) => p.name)
  const peers = b.peers.map((p): PeerRates => {
    const was: Partial<Peer['counters']> = peersA.get(p.name)?.counters ?? {}
    const rate = (k: keyof Peer['counters']): number => perSecond(was[k], p.counters[k], seconds)
    return {
      name: p.name,
      state: p.state,
      rttMs: p.rttMs,
      framesInPerSec: rate('framesIn'),
      framesOutPerSec: rate('framesOut'),
      bytesInPerSec: rate('bytesIn'),
      bytesOutPerSec: rate('bytesOut')
    }
  })
  const key = (e: RpmsgEndpointInfo): string => `${e.device}:${e.addr}`
  const endpointsA = by(a.endpoints ?? [], key)
  const endpoints = (b.endpoints ?? []).map((e): EndpointRates => {
    const was = endpointsA.get(key(e))?.counters
    return {
      device: e.device,
      addr: e.addr,
      channel: e.channel,
      owner: e.owner,
      receivedPerSec: perSecond(was?.received, e.counters.received, seconds),
      sentPerSec: perSecond(was?.sent, e.counters.sent, seconds),
      droppedPerSec: perSecond(was?.dropped, e.counters.dropped, seconds)
    }
  })
  const doorbellsA = by(a.doorbells, (d) => d.name)
  const doorbells = b.doorbells.map((d) => ({ name: d.name, ringsPerSec: perSecond(doorbellsA.get(d.name)?.rings, d.rings, seconds) }))
  return { node: b.node.name, role: b.node.role, seconds, peers, endpoints, doorbells }
}

/** A rate for a table cell: 3 significant digits, k and M (0 stays 0). */
const r = (n: number): string => scaled(n)
const bytes = (n: number): string => `${scaled(n)}B`

export function topText (f: TopFrame, clock: string): string {
  const head = `soclink top: ${f.node} (${f.role}), ${clock}, rates over ${f.seconds.toFixed(1)} s`
  const peers = f.peers.length === 0
    ? 'no peers'
    : table(['PEER', 'STATE', 'RTT MS', 'FRAMES IN/S', 'FRAMES OUT/S', 'BYTES IN/S', 'BYTES OUT/S'],
      f.peers.map((p) => [p.name, p.state, p.rttMs === null ? null : p.rttMs.toFixed(2), r(p.framesInPerSec), r(p.framesOutPerSec), bytes(p.bytesInPerSec), bytes(p.bytesOutPerSec)]))
  const endpoints = f.endpoints.length === 0
    ? 'no rpmsg endpoints'
    : table(['DEVICE', 'ADDR', 'CHANNEL', 'OWNER', 'RX MSG/S', 'TX MSG/S', 'DROPPED/S'],
      f.endpoints.map((e) => [e.device, e.addr, e.channel, e.owner, r(e.receivedPerSec), r(e.sentPerSec), r(e.droppedPerSec)]))
  const doorbells = f.doorbells.length === 0
    ? 'no doorbells declared'
    : table(['DOORBELL', 'RINGS/S'], f.doorbells.map((d) => [d.name, r(d.ringsPerSec)]))
  return [head, '', peers, '', endpoints, '', doorbells].join('\n')
}
