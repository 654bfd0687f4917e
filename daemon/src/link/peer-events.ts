// What a PeerLink counts and tells: its counters, its events, and what a
// session took with it when it ended.

import type { LinkSession, Delivery } from './session.js'
import type { PeerLink } from './peer-link.js'

export type PeerState = 'connecting' | 'up' | 'down'

export interface PeerCounters {
  packetsIn: number
  packetsOut: number
  bytesIn: number
  bytesOut: number
  framesIn: number
  framesOut: number
  connects: number
  resumes: number
  sessions: number
  protocolErrors: number
  /** Frames (and their bytes) sent and never acknowledged by the peer, over sessions that ended. */
  lostFrames: number
  lostBytes: number
  /** Edge writes (noteWrite: REST writes) among them. */
  lostWrites: number
}

export function zeroCounters (): PeerCounters {
  return {
    packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0,
    connects: 0, resumes: 0, sessions: 0, protocolErrors: 0, lostFrames: 0, lostBytes: 0, lostWrites: 0
  }
}

/** What a session took with it when it ended. */
export interface SessionLoss {
  /** The session (DeliveryMark.session of the marks it handed out). */
  session: LinkSession
  /** Sequenced frames sent and not acknowledged, and their bytes. */
  frames: number
  bytes: number
  /** Edge writes (noteWrite) not acknowledged, and their bytes. */
  writes: number
  writeBytes: number
  reason: string
}

export interface PeerLinkEvents {
  up: [PeerLink]
  down: [PeerLink, string]
  /** A session ended (emitted before 'down'): what it had not delivered. */
  lost: [PeerLink, SessionLoss]
  /** Room came back in the replay buffer after an edge writer found none. */
  room: [PeerLink]
  frame: [PeerLink, Delivery]
  state: [PeerLink]
}
