// Version 2 of the rpmsg gateway protocol: batches of records, as
// proto/rpmsg.proto specifies them ("Version 2: batches"). Pure: bytes in,
// bytes out, no sockets and no timers; the daemon's gateway and the client
// library both use it.
//
// Writing allocates nothing per record: records go into a chunk of memory
// that only grows forward, and a finished batch is a view of it; its bytes
// are never written again, since the socket may still hold them. Reading
// checks a whole batch first, then steps through it with one reader object
// whose fields describe the current record.

/** The WebSocket subprotocols that select version 2, and version 1 (as no subprotocol does). */
export const RPMSG_V2_PROTOCOL = 'soclink.rpmsg.v2'
export const RPMSG_V1_PROTOCOL = 'soclink.rpmsg.v1'
export const BATCH_VERSION = 2
/** The largest batch, header included. */
export const MAX_BATCH_BYTES = 1024 * 1024
/** The largest payload of one SEND or RECEIVED (the largest rpmsg payload). */
export const MAX_RECORD_PAYLOAD = 0xffff

export const BATCH_HEADER_BYTES = 8
export const SEND_HEADER_BYTES = 20
export const RECEIVED_HEADER_BYTES = 16
export const SENT_BYTES = 8
export const CONTROL_HEADER_BYTES = 8

export const RecordKind = {
  SEND: 0x01,
  CLIENT_CONTROL: 0x02,
  RECEIVED: 0x81,
  SENT: 0x82,
  SERVER_CONTROL: 0x83
} as const

/** Which side wrote a batch: the records each may send differ. */
export type BatchSide = 'client' | 'server'

export type BatchErrorCode = 'ERR_RPMSG_FORMAT' | 'ERR_RPMSG_VERSION' | 'ERR_RPMSG_BATCH_SIZE'

/** A batch that cannot be read; nothing in it is to be acted on. */
export class BatchError extends Error {
  constructor (readonly code: BatchErrorCode, message: string) {
    super(message)
    this.name = 'BatchError'
  }
}

/** Steps through one checked batch: next() moves to the next record and sets the fields for it. */
export class BatchReader {
  kind = 0
  /** SEND: src, dst, timeoutMs. RECEIVED: dst, src. SENT: seq. */
  src = 0
  dst = 0
  timeoutMs = 0
  seq = 0
  private bytes: Buffer = Buffer.alloc(0)
  private at = 0
  private left = 0
  private start = 0
  private end = 0

  constructor (private readonly side: BatchSide) {}

  /** Checks the whole batch (BatchError if it is bad) and stands before its first record. */
  reset (bytes: Buffer): void {
    checkBatch(bytes, this.side)
    this.bytes = bytes
    this.rewind()
  }

  /** Stands before the first record again. */
  rewind (): void {
    this.at = BATCH_HEADER_BYTES
    this.left = this.bytes.readUInt32LE(4)
  }

  /** Moves to the next record; false after the last. */
  next (): boolean {
    if (this.left === 0) return false
    this.left--
    const b = this.bytes
    const at = this.at
    this.kind = b[at]!
    switch (this.kind) {
      case RecordKind.SEND:
        this.src = b.readUInt32LE(at + 4)
        this.dst = b.readUInt32LE(at + 8)
        this.timeoutMs = b.readUInt32LE(at + 12)
        this.start = at + SEND_HEADER_BYTES
        this.end = this.start + b.readUInt32LE(at + 16)
        break
      case RecordKind.RECEIVED:
        this.dst = b.readUInt32LE(at + 4)
        this.src = b.readUInt32LE(at + 8)
        this.start = at + RECEIVED_HEADER_BYTES
        this.end = this.start + b.readUInt32LE(at + 12)
        break
      case RecordKind.SENT:
        this.seq = b.readUInt32LE(at + 4)
        this.start = this.end = at + SENT_BYTES
        break
      default: // a CONTROL record: checkBatch() let no other kind through
        this.start = at + CONTROL_HEADER_BYTES
        this.end = this.start + b.readUInt32LE(at + 4)
    }
    this.at = this.end
    return true
  }

  /** The current record's payload (SEND, RECEIVED) or message (CONTROL), a view of the batch. */
  body (): Buffer { return this.bytes.subarray(this.start, this.end) }
}

/** Throws BatchError unless `bytes` is one whole, well-formed batch from `side`. */
export function checkBatch (bytes: Buffer, side: BatchSide): void {
  if (bytes.length > MAX_BATCH_BYTES) throw new BatchError('ERR_RPMSG_BATCH_SIZE', `a batch of ${bytes.length} bytes is over the ${MAX_BATCH_BYTES} allowed`)
  if (bytes.length < BATCH_HEADER_BYTES) throw new BatchError('ERR_RPMSG_FORMAT', `a batch of ${bytes.length} bytes is shorter than its ${BATCH_HEADER_BYTES}-byte header`)
  if (bytes[0] !== BATCH_VERSION) throw new BatchError('ERR_RPMSG_VERSION', `batch version ${bytes[0]!} is not ${BATCH_VERSION}`)
  if (bytes[1] !== 0 || bytes.readUInt16LE(2) !== 0) throw new BatchError('ERR_RPMSG_FORMAT', 'the batch header\'s reserved bytes are not zero')
  const count = bytes.readUInt32LE(4)
  let at = BATCH_HEADER_BYTES
  for (let i = 0; i < count; i++) {
    const where = `record ${i + 1} of ${count} (byte ${at})`
    if (at + 4 > bytes.length) throw new BatchError('ERR_RPMSG_FORMAT', `${where} runs past the end of the batch`)
    const kind = bytes[at]!
    if (bytes[at + 1] !== 0 || bytes.readUInt16LE(at + 2) !== 0) throw new BatchError('ERR_RPMSG_FORMAT', `${where}: reserved bytes are not zero`)
    const header = headerBytes(kind, side)
    if (header === 0) throw new BatchError('ERR_RPMSG_FORMAT', `${where}: kind 0x${kind.toString(16)} is not one the ${side} sends`)
    if (at + header > bytes.length) throw new BatchError('ERR_RPMSG_FORMAT', `${where} runs past the end of the batch`)
    const length = kind === RecordKind.SENT ? 0 : bytes.readUInt32LE(at + header - 4)
    if ((kind === RecordKind.SEND || kind === RecordKind.RECEIVED) && length > MAX_RECORD_PAYLOAD) {
      throw new BatchError('ERR_RPMSG_FORMAT', `${where}: a payload of ${length} bytes is over ${MAX_RECORD_PAYLOAD}`)
    }
    at += header + length
    if (at > bytes.length) throw new BatchError('ERR_RPMSG_FORMAT', `${where} runs past the end of the batch`)
  }
  if (at !== bytes.length) throw new BatchError('ERR_RPMSG_FORMAT', `${bytes.length - at} bytes after the last of ${count} records`)
}

/** A record's fixed part, or 0 for a kind `side` does not send. */
function headerBytes (kind: number, side: BatchSide): number {
  if (side === 'client') return kind === RecordKind.SEND ? SEND_HEADER_BYTES : kind === RecordKind.CLIENT_CONTROL ? CONTROL_HEADER_BYTES : 0
  switch (kind) {
    case RecordKind.RECEIVED: return RECEIVED_HEADER_BYTES
    case RecordKind.SENT: return SENT_BYTES
    case RecordKind.SERVER_CONTROL: return CONTROL_HEADER_BYTES
    default: return 0
  }
}

/** Chunks are this big unless one record needs more. */
const CHUNK_BYTES = 64 * 1024

/**
 * Writes records into batches. Records go into the open batch; when one
 * would take it over `maxBatchBytes`, the batch is sealed and another
 * opened. take() hands out every finished batch, in order.
 */
export class BatchWriter {
  private chunk: Buffer = Buffer.allocUnsafeSlow(CHUNK_BYTES)
  /** Where the open batch starts in the chunk, and where its next record goes. */
  private start = 0
  private at = 0
  private count = 0
  private readonly sealed: Buffer[] = []
  private sealedBytes = 0

  constructor (private readonly maxBatchBytes = MAX_BATCH_BYTES) {}

  /** Bytes written and not yet taken. */
  get pending (): number { return this.sealedBytes + (this.at - this.start) }

  /** Whether anything is waiting to be taken. */
  get empty (): boolean { return this.count === 0 && this.sealed.length === 0 }

  send (src: number, dst: number, timeoutMs: number, payload: Uint8Array): void {
    const at = this.room(SEND_HEADER_BYTES + payload.length)
    const c = this.chunk
    c.writeUInt32LE(RecordKind.SEND, at)
    c.writeUInt32LE(src >>> 0, at + 4)
    c.writeUInt32LE(dst >>> 0, at + 8)
    c.writeUInt32LE(timeoutMs >>> 0, at + 12)
    c.writeUInt32LE(payload.length, at + 16)
    c.set(payload, at + SEND_HEADER_BYTES)
  }

  received (dst: number, src: number, payload: Uint8Array): void {
    const at = this.room(RECEIVED_HEADER_BYTES + payload.length)
    const c = this.chunk
    c.writeUInt32LE(RecordKind.RECEIVED, at)
    c.writeUInt32LE(dst >>> 0, at + 4)
    c.writeUInt32LE(src >>> 0, at + 8)
    c.writeUInt32LE(payload.length, at + 12)
    c.set(payload, at + RECEIVED_HEADER_BYTES)
  }

  sent (seq: number): void {
    const at = this.room(SENT_BYTES)
    this.chunk.writeUInt32LE(RecordKind.SENT, at)
    this.chunk.writeUInt32LE(seq >>> 0, at + 4)
  }

  /** A CONTROL record of `side`, holding an encoded ClientMessage or ServerMessage. */
  control (side: BatchSide, message: Uint8Array): void {
    const at = this.room(CONTROL_HEADER_BYTES + message.length)
    this.chunk.writeUInt32LE(side === 'client' ? RecordKind.CLIENT_CONTROL : RecordKind.SERVER_CONTROL, at)
    this.chunk.writeUInt32LE(message.length, at + 4)
    this.chunk.set(message, at + CONTROL_HEADER_BYTES)
  }

  /** Calls `each` with every finished batch, in order, and the open one; the writer is empty after. */
  take (each: (batch: Buffer) => void): void {
    if (this.count > 0) this.seal()
    const n = this.sealed.length
    for (let i = 0; i < n; i++) each(this.sealed[i]!)
    this.sealed.length = 0
    this.sealedBytes = 0
  }

  /** Where a record of `n` bytes goes in the open batch: sealing it first if it would grow too big, moving it to a new chunk if the chunk is full. */
  private room (n: number): number {
    if (this.count > 0 && this.at - this.start + n > this.maxBatchBytes) this.seal()
    if (this.count === 0) {
      this.ensure(BATCH_HEADER_BYTES + n)
      this.at = this.start + BATCH_HEADER_BYTES
    } else {
      this.ensure(n)
    }
    const at = this.at
    this.at += n
    this.count++
    return at
  }

  /** Room for `n` more bytes after the open batch, in a new chunk (the open batch copied there) if need be. */
  private ensure (n: number): void {
    if (this.at + n <= this.chunk.length && (this.count > 0 || this.start + n <= this.chunk.length)) return
    const open = this.count > 0 ? this.at - this.start : 0
    // Twice what is needed: a batch that outgrows chunk after chunk is copied a bounded number of times, not once per record.
    const next = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, 2 * (open + n + BATCH_HEADER_BYTES)))
    if (open > 0) this.chunk.copy(next, 0, this.start, this.at)
    this.chunk = next
    this.start = 0
    this.at = open
  }

  private seal (): void {
    const c = this.chunk
    c.writeUInt32LE(BATCH_VERSION, this.start)
    c.writeUInt32LE(this.count, this.start + 4)
    const batch = c.subarray(this.start, this.at)
    this.sealed.push(batch)
    this.sealedBytes += batch.length
    this.start = this.at
    this.count = 0
  }
}
