// Shapes of the control API's replies, field for field (see
// daemon/src/api/schemas.ts).

export interface Health { status: string }

export interface NodeInfo {
  name: string
  role: string
  version: string
  incarnation: string
  uptimeSeconds: number
  listen: string | null
}

export interface Subscriber { peer: string, window: number, base: number, size: number, replica: boolean }

export interface Region {
  id: number
  name: string
  size: number
  populatedPages: number
  writes: number
  subscribers: Subscriber[]
}

export type PeerState = 'up' | 'down' | 'connecting'

export interface Peer {
  name: string
  url: string | null
  direction: 'dialed' | 'accepted'
  role: string
  state: PeerState
  incarnation: string
  rttMs: number | null
  lastError: string
  unacked: number
  counters: Record<string, number>
}

export interface Window {
  id: number
  peer: string
  region: string | number
  offset: number
  size: number
  replica: boolean
  state: 'opening' | 'open' | 'failed' | 'closed'
  regionId: number
  regionName: string
  lastError: string
  unordered: number
  counters: { writes: number, updates: number, reads: number, errors: number }
}

export interface WindowRequest { peer: string, region: string | number, offset?: number, size: number, replica?: boolean }

export interface WriteResult { offset: number, length: number }

export interface Doorbell { name: string, rings: number, lastValue: number }

export interface RingResult { peer: string, target: string, value: number }

export type NodeEvent =
  | { type: 'doorbell', time: string, peer: string, target: string, value: number }
  | { type: 'link', time: string, peer: string, state: 'up' | 'down', reason: string }
  | { type: 'peer', time: string, peer: string, state: string, error: string }
  | { type: 'window', time: string, window: number, peer: string, state: string, error: string }
  | { type: 'error', time: string, peer: string, message: string }
