// What an NTB client (ntb_virtio, ntb_vhost, ntb_perf, ntb_tool) sees of an
// NTB device: the operations of struct ntb_dev_ops (include/linux/ntb.h) for
// the one peer an NTB endpoint function has (NTB_DEF_PEER_IDX), and the
// events of struct ntb_ctx_ops. Memory is reached synchronously through
// MemoryAccess; commands that the board must act on are asynchronous.
//
// Doorbells are bits, as ntb.h defines them: peer_db_set(bits) rings every
// bit set, db_read() returns the bits rung and not yet cleared, masked bits
// raise no db_event. (ntb_hw_epf.c instead rings only ffs(bits) + 1, so bit
// 0 arrives as vector 2 and db_read returns a vector number; see
// ntb-hw-epf.ts.)

import type { EventEmitter } from 'node:events'
import type { MemoryAccess } from '../../mem/access.js'

export interface NtbEvents {
  /** ntb_link_event: the link may have changed; ask linkIsUp(). */
  link: []
  /** ntb_db_event: doorbell vector (0-based, relative to the first doorbell vector); dbVectorMask(vector) gives its bits. */
  db: [vector: number]
}

export interface MwAlign {
  addrAlign: number
  sizeAlign: number
  sizeMax: number
}

export interface PeerMw {
  /** The bus address of the window (what the peer's translation maps). */
  base: number
  size: number
  /** This host's access to the window: writes land, translated, in the peer's memory. */
  memory: MemoryAccess
  /**
   * Told of each range (window-relative) the peer's side changed, once this
   * host's view shows it; returns the way to stop. Optional: hardware with
   * no such notice leaves clients to their doorbells and polls.
   */
  onUpdate?: (listener: (offset: number, length: number) => void) => () => void
}

export interface NtbDevice extends EventEmitter<NtbEvents> {
  readonly name: string
  linkIsUp (): boolean
  /** CMD_LINK_UP: the link comes up once the peer has enabled it too. */
  linkEnable (): Promise<void>
  linkDisable (): Promise<void>

  /** Inbound windows this host may translate into its own memory. */
  mwCount (): number
  mwGetAlign (widx: number): MwAlign
  /** Inbound translation: the peer's writes to its window `widx` land at [addr, addr + size) of this host's memory. */
  mwSetTrans (widx: number, addr: number, size: number): Promise<void>
  mwClearTrans (widx: number): Promise<void>
  /** The peer's windows as this host reaches them. */
  peerMwCount (): number
  peerMwGetAddr (widx: number): PeerMw

  dbValidMask (): number
  dbVectorCount (): number
  dbVectorMask (vector: number): number
  dbRead (): number
  dbClear (bits: number): void
  dbReadMask (): number
  dbSetMask (bits: number): void
  dbClearMask (bits: number): void
  /** Rings the peer's doorbell bits, after every write this host made before. */
  peerDbSet (bits: number): void

  spadCount (): number
  spadRead (idx: number): number
  spadWrite (idx: number, value: number): void
  peerSpadRead (idx: number): number
  peerSpadWrite (idx: number, value: number): void
}
