// What the memory layer needs of a link: a peer name, an ordered, reliable
// send, and write combining (proto/link.proto, "Write combining"). PeerLink
// provides it; unit tests can provide it without sockets.

import type { Frame } from '../link/codec.js'
import type { DeferredFrames } from '../link/deferred.js'

export type { DeferredFrames } from '../link/deferred.js'

export interface FrameSender {
  readonly name: string
  /** Whether the peer takes multi-range Writes and Updates (FEATURE_COMPACT). */
  readonly combining: boolean
  /** Queues a frame; an ordering point: deferred sources' frames go first. */
  send (frame: Frame, bulk?: Uint8Array): void
  /** Registers a source whose frames are made at the next ordering point or the end of the turn. */
  defer (source: DeferredFrames): void
  /** Makes every deferred source's frames now (an ordering point with nothing after it). */
  materialize (): void
}
