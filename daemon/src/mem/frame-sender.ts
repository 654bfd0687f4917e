// What the memory layer needs of a link: a peer name, an ordered, reliable
// send, and write combining (proto/link.proto, "Write combining"). PeerLink
// provides it; unit tests can provide it without sockets.

import type { Frame } from '../link/codec.js'
import type { DeferredFrames } from '../link/deferred.js'
import { compactHeadroom } from '../link/compact.js'

export type { DeferredFrames } from '../link/deferred.js'

/**
 * `length` bytes for the bulk of a combined Write or Update of `ranges`
 * ranges, with room in front for the link to encode the frame in place
 * (compactHeadroom()), and that room's size to pass to send().
 */
export function bulkWithHeadroom (length: number, ranges: number): { bulk: Buffer, headroom: number } {
  const headroom = compactHeadroom(ranges)
  return { bulk: Buffer.allocUnsafe(headroom + length).subarray(headroom), headroom }
}

export interface FrameSender {
  readonly name: string
  /** Whether the peer takes multi-range Writes and Updates (FEATURE_COMPACT). */
  readonly combining: boolean
  /**
   * Queues a frame; an ordering point: deferred sources' frames go first.
   * `headroom`: bytes in front of `bulk` the link may write its headers into
   * (bulkWithHeadroom()); the caller gives them up with the bulk.
   */
  send (frame: Frame, bulk?: Uint8Array, headroom?: number): void
  /** Registers a source whose frames are made at the next ordering point or the end of the turn. */
  defer (source: DeferredFrames): void
  /** Makes every deferred source's frames now (an ordering point with nothing after it). */
  materialize (): void
  /**
   * Whether an answer of `bytes` fits in the link's replay buffer now, within
   * the share its edge writers may fill (link/credit.ts): a completer that
   * cannot answer a read now says so instead of ending the session.
   */
  hasRoom (bytes: number): boolean
}
