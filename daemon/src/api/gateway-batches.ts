// Version 2 of the gateway's writing side (proto/rpmsg.proto, "Version 2:
// batches"): records gathered into one WebSocket message per event-loop
// turn, and one cumulative SENT for all the sends answered meanwhile.
//
// Latency does not pay for throughput: when a turn has written nothing yet,
// what comes goes out at once (after the whole of a batch from the
// application has been read, so that its SENDs get one SENT); what follows
// in the same turn waits for the turn's end (setImmediate), in one batch.

import { BatchWriter, RECEIVED_HEADER_BYTES } from '../../../proto/rpmsg-batch.js'
import type { GatewayEndpoint } from './gateway-endpoint.js'
import { OPEN, rpmsgWire, type Admit, type GatewayOutput, type GatewaySocket, type ServerMessage } from './gateway-output.js'
import { SendWatermark } from './gateway-watermark.js'
import type { ErrorCode } from '../errors.js'

export class V2Output implements GatewayOutput {
  private readonly writer = new BatchWriter()
  readonly watermark = new SendWatermark()
  /** The last SENT written. */
  private answered = 0
  /** Inside begin()/end(): hold what would go out at once until the whole batch is read. */
  private reading = false
  /** This turn has written: what comes waits for its end. */
  private turnBusy = false
  private immediate: NodeJS.Immediate | null = null
  private closed = false
  /** The endpoints with Received bytes in what is not yet handed out, and how many each (ept.inBatch). */
  private touched: GatewayEndpoint[] = []
  /** Scratch: the batches of one flush. */
  private readonly batches: Buffer[] = []
  private readonly endTurn = (): void => {
    this.immediate = null
    this.turnBusy = false
    this.flush()
  }

  constructor (private readonly socket: GatewaySocket, private readonly admit: Admit) {}

  /** The next SEND's sequence number. */
  arrived (): number { return this.watermark.arrived() }

  control (msg: ServerMessage): void {
    if (this.closed) return
    this.writer.control('server', rpmsgWire.ServerMessage.encode(msg).finish())
    this.wake()
  }

  received (ept: GatewayEndpoint, src: number, payload: Uint8Array): void {
    if (this.closed) return
    const n = RECEIVED_HEADER_BYTES + payload.length
    if (!this.admit(ept, n)) return
    ept.buffered += n
    if (ept.inBatch === 0) this.touched.push(ept)
    ept.inBatch += n
    this.writer.received(ept.addr, src, payload)
    this.wake()
  }

  sent (seq: number): void {
    this.watermark.done(seq)
    this.wake()
  }

  sendFailed (seq: number, src: number, code: ErrorCode, message: string): void {
    // The Error goes before the SENT that counts it.
    this.control({ error: { requestId: 0, sendSeq: seq >>> 0, addr: src, code, message } })
    this.watermark.done(seq)
  }

  sendWaits (seq: number): void { this.watermark.wait(seq) }

  begin (): void { this.reading = true }

  end (): void {
    this.reading = false
    this.wake()
  }

  drain (): void {
    this.reading = false
    this.flush()
  }

  buffered (): number { return this.socket.bufferedAmount + this.writer.pending }

  close (): void {
    this.closed = true
    if (this.immediate !== null) clearImmediate(this.immediate)
    this.immediate = null
    for (const ept of this.touched) { ept.buffered -= ept.inBatch; ept.inBatch = 0 }
    this.touched = []
  }

  /** Something is to be written: now if the turn has written nothing, else at its end. */
  private wake (): void {
    if (this.reading || this.turnBusy || this.closed) return
    this.turnBusy = true
    this.immediate = setImmediate(this.endTurn)
    this.flush()
  }

  private flush (): void {
    if (this.closed) return
    const upTo = this.watermark.upTo()
    if (upTo !== this.answered) {
      this.answered = upTo
      this.writer.sent(upTo)
    }
    if (this.writer.empty) return
    if (this.socket.readyState !== OPEN) { this.close(); return }
    // One callback for what is handed out now: the endpoints' bytes stop counting once all of it is written.
    const parts: Array<GatewayEndpoint | number> = []
    for (const ept of this.touched) { parts.push(ept, ept.inBatch); ept.inBatch = 0 }
    this.touched.length = 0
    const batches = this.batches
    this.writer.take((batch) => { batches.push(batch) })
    let left = batches.length
    const done = (): void => {
      if (--left > 0) return
      for (let i = 0; i < parts.length; i += 2) (parts[i] as GatewayEndpoint).buffered -= parts[i + 1] as number
    }
    for (const batch of batches) this.socket.send(batch, { binary: true }, done)
    batches.length = 0
  }
}
