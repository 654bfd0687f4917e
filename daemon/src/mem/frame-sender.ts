// What the memory layer needs of a link: a peer name and an ordered, reliable
// send. PeerLink provides it; unit tests can provide it without sockets.

import type { Frame } from '../link/codec.js'

export interface FrameSender {
  readonly name: string
  send (frame: Frame, bulk?: Uint8Array): void
}
