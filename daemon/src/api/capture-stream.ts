// One reader of GET /v1/capture: the packets the link's tap hands it
// (link/capture.ts), queued and sent as capture records
// (proto/capture-record.ts), several per WebSocket message. A reader that
// cannot keep up never holds the link back: the queue is bounded, and past
// it packets are dropped and counted (each record says how many were dropped
// before it, and a text message says the totals when they change), never
// waited for. Packets move from the queue to the socket only while the
// socket's own buffer is below a high-water mark.

import { encodeCaptureRecord } from '../../../proto/capture-record.js'
import type { TappedPacket } from '../link/capture.js'

/** What the stream needs of its WebSocket. */
export interface CaptureSocket {
  readonly open: boolean
  /** Bytes handed to the socket and not yet written out (ws's bufferedAmount). */
  readonly bufferedAmount: number
  send: (data: Buffer | string) => void
}

export interface CaptureStreamLimits {
  /** Bytes of records queued at most; a packet past it is dropped. */
  maxQueuedBytes: number
  /** The socket's buffer above which nothing more is handed to it. */
  highWaterBytes: number
  /** Records sent in one WebSocket message add up to about this many bytes at most. */
  messageBytes: number
  /** How long to wait before looking again at a socket above its high-water mark. */
  retryMs: number
}

export const CAPTURE_STREAM_LIMITS: CaptureStreamLimits = {
  maxQueuedBytes: 8 * 1024 * 1024,
  highWaterBytes: 1024 * 1024,
  messageBytes: 256 * 1024,
  retryMs: 10
}

export class CaptureStream {
  /** Packets queued for the reader. */
  captured = 0
  /** Packets dropped because the reader was behind. */
  dropped = 0

  private readonly queue: Buffer[] = []
  private queuedBytes = 0
  private dropsSince = 0
  private reportedDrops = 0
  private scheduled = false
  private timer: NodeJS.Timeout | null = null
  private closed = false
  private readonly names = new Map<string, Buffer>()

  constructor (private readonly sock: CaptureSocket, private readonly limits: CaptureStreamLimits = CAPTURE_STREAM_LIMITS) {}

  /** A packet from the tap: queued, or dropped if the queue is full. */
  offer (p: TappedPacket): void {
    if (this.closed) return
    const name = this.nameBytes(p.peer)
    const size = 24 + name.length + p.data.length
    if (this.queuedBytes + size > this.limits.maxQueuedBytes) {
      this.dropped++
      this.dropsSince++
      this.schedule()
      return
    }
    this.queue.push(encodeCaptureRecord({ ...p, dropsBefore: this.dropsSince }, name))
    this.dropsSince = 0
    this.queuedBytes += size
    this.captured++
    this.schedule()
  }

  /** Stops sending (the reader went away). */
  close (): void {
    this.closed = true
    this.queue.length = 0
    this.queuedBytes = 0
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }

  private nameBytes (peer: string): Buffer {
    let b = this.names.get(peer)
    if (b === undefined) {
      b = Buffer.from(peer)
      this.names.set(peer, b)
    }
    return b
  }

  private schedule (): void {
    if (this.scheduled || this.timer !== null) return
    this.scheduled = true
    setImmediate(() => { this.scheduled = false; this.flush() })
  }

  private flush (): void {
    if (this.closed || !this.sock.open) return
    while (this.queue.length > 0 && this.sock.bufferedAmount < this.limits.highWaterBytes) {
      const parts: Buffer[] = []
      let bytes = 0
      while (this.queue.length > 0 && (parts.length === 0 || bytes + this.queue[0]!.length <= this.limits.messageBytes)) {
        const r = this.queue.shift()!
        parts.push(r)
        bytes += r.length
      }
      this.queuedBytes -= bytes
      this.sock.send(parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes))
    }
    if (this.dropped !== this.reportedDrops) {
      this.reportedDrops = this.dropped
      this.sock.send(JSON.stringify({ captured: this.captured, dropped: this.dropped }))
    }
    if (this.queue.length > 0) {
      this.timer = setTimeout(() => { this.timer = null; this.flush() }, this.limits.retryMs)
    }
  }
}
