// What the API shows of regions, windows and doorbells: plain objects that
// match the reply schemas in schemas.ts.

import type { SoclinkNode } from '../node.js'
import type { Region } from '../mem/region.js'
import type { Window } from '../mem/window.js'
import type { DoorbellTarget } from '../link/doorbells.js'

export interface RegionView {
  id: number
  name: string
  size: number
  populatedPages: number
  writes: number
  /** The only peers that may open windows onto it; null: every peer. */
  peers: string[] | null
  subscribers: Array<{ peer: string, window: number, base: number, size: number, replica: boolean }>
}

export function regionView (node: SoclinkNode, r: Region): RegionView {
  return { id: r.id, name: r.name, size: r.size, populatedPages: r.populatedPages, writes: r.writes, peers: node.regions.peersOf(r), subscribers: node.completer.subscribers(r) }
}

export interface WindowView {
  id: number
  peer: string
  region: string | number
  offset: number
  size: number
  replica: boolean
  state: string
  regionId: number
  regionName: string
  lastError: string
  unordered: number
  counters: { writes: number, updates: number, reads: number, errors: number }
}

export function windowView (w: Window): WindowView {
  const s = w.spec
  return {
    id: w.id,
    peer: s.peer,
    region: s.region,
    offset: s.offset,
    size: s.size,
    replica: s.replica,
    state: w.state,
    regionId: w.regionId,
    regionName: w.regionName,
    lastError: w.lastError,
    unordered: w.unordered,
    counters: { ...w.counters }
  }
}

export interface DoorbellView { name: string, rings: number, lastValue: number }

export function doorbellView (t: DoorbellTarget): DoorbellView {
  return { name: t.name, rings: t.rings, lastValue: t.lastValue }
}
