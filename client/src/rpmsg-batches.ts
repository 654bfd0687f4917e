// The client's writing side in version 2 of the gateway protocol
// (proto/rpmsg.proto, "Version 2: batches"): records gathered per
// event-loop turn into one WebSocket message. On an idle connection the
// first record goes out at once, alone; what follows in the same turn waits
// for the turn's end (setImmediate) and goes in one batch.

import type WebSocket from 'ws'
import { BatchWriter } from '../../proto/rpmsg-batch.js'

export class ClientBatches {
  private readonly writer = new BatchWriter()
  private turnBusy = false
  private immediate: NodeJS.Immediate | null = null
  private readonly endTurn = (): void => {
    this.immediate = null
    this.turnBusy = false
    this.flush()
  }

  constructor (private readonly ws: WebSocket) {}

  send (src: number, dst: number, timeoutMs: number, payload: Uint8Array): void {
    this.writer.send(src, dst, timeoutMs, payload)
    this.wake()
  }

  /** A CONTROL record: an encoded ClientMessage. */
  control (message: Uint8Array): void {
    this.writer.control('client', message)
    this.wake()
  }

  close (): void {
    if (this.immediate !== null) clearImmediate(this.immediate)
    this.immediate = null
  }

  private wake (): void {
    if (this.turnBusy) return
    this.turnBusy = true
    this.immediate = setImmediate(this.endTurn)
    this.flush()
  }

  private flush (): void {
    if (this.writer.empty) return
    if (this.ws.readyState !== this.ws.OPEN) { this.writer.take(() => {}); return }
    this.writer.take((batch) => { this.ws.send(batch, { binary: true }) })
  }
}
