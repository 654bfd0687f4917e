// Doorbells as ntb_virtio and ntb_vhost use them here (see ntb-spads.ts):
// vq k rings bit k, CONFIG_DB (the highest valid bit) means "look at the
// scratchpads". A db_event's vector is turned into the bits it stands for
// (db_vector_mask), read and cleared (db_read, db_clear), as ntb.h clients
// do; an NTB that refuses is reported, never thrown into the event loop.

import type { NtbDevice } from '../hw/ntb/ntb.js'
import { vectorsOf } from '../hw/ntb/doorbell-status.js'
import { configDbBit } from './ntb-spads.js'

export class NtbDoorbells {
  constructor (private readonly ntb: NtbDevice, private readonly onError: (err: unknown, what: string) => void) {}

  /** CONFIG_DB, or -1 while the NTB has no doorbells. */
  get configBit (): number {
    try {
      return configDbBit(this.ntb.dbValidMask())
    } catch {
      return -1
    }
  }

  /** The bits of `vector` that rang, cleared; null if the NTB refused. */
  take (vector: number): number[] | null {
    try {
      const bits = this.ntb.dbRead() & this.ntb.dbVectorMask(vector)
      if (bits !== 0) this.ntb.dbClear(bits)
      return vectorsOf(bits)
    } catch (err) {
      this.onError(err, 'doorbell')
      return null
    }
  }

  /**
   * db_event: the bits of `vector` are taken (rang() once they are), then
   * CONFIG_DB goes to config() and bit k to queue(k), lowest first.
   */
  handle (vector: number, on: { rang: () => void, config: () => void, queue: (k: number) => void }): void {
    const bits = this.take(vector)
    if (bits === null) return
    on.rang()
    const config = this.configBit
    for (const b of bits) {
      if (b === config) on.config()
      else on.queue(b)
    }
  }

  /** peer_db_set. */
  ring (bits: number): void {
    try {
      this.ntb.peerDbSet(bits)
    } catch (err) {
      this.onError(err, 'peer_db_set')
    }
  }

  ringQueue (index: number): void { this.ring(2 ** index) }

  ringConfig (): void {
    const bit = this.configBit
    if (bit >= 0) this.ring(2 ** bit)
  }
}
