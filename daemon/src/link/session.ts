// The reliable half of a link, as the PCIe data link layer: sequence numbers,
// cumulative acks, a bounded replay buffer and in-order, exactly-once
// delivery across reconnects. Pure: no sockets, no timers. The socket edge
// (peer-link.ts) feeds it decoded packets and sends what drain() returns.

import { bodyName, bulkLength, encodePacket, framesOf, isSequenced, type Frame, type Packet } from './codec.js'
import { encodeCompact, encodeCompactInPlace, recordSize, type CompactItem } from './compact.js'
import { FrameError, SoclinkError } from '../errors.js'

export class ReplayOverflowError extends SoclinkError {
  constructor (message: string) {
    super('ERR_REPLAY_OVERFLOW', message)
  }
}

export interface SessionLimits {
  /** Unacknowledged bytes the replay buffer may hold before the session fails. */
  maxReplayBytes: number
  /** Frames a Batch may carry. */
  maxBatchFrames: number
  /** Bytes (header estimate plus bulk) a Batch may carry; a larger single frame goes alone. */
  maxBatchBytes: number
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  maxReplayBytes: 64 * 1024 * 1024,
  maxBatchFrames: 4096,
  maxBatchBytes: 1024 * 1024
}

interface Outgoing extends CompactItem {
  size: number
  /** Bytes in front of bulk its producer reserved for the encoder (compactHeadroom). */
  headroom: number
}

/**
 * A Write or Update with this much bulk and headroom in front of it goes
 * in a packet of its own, encoded in place; below it, copying the bulk into
 * a batch costs less than a WebSocket message more.
 */
const IN_PLACE_BYTES = 16 * 1024

/** A frame delivered to the layer above, with its bulk payload if any. */
export interface Delivery {
  frame: Frame
  bulk: Uint8Array | undefined
}

const FRAME_OVERHEAD = 24

export class LinkSession {
  readonly localIncarnation: Uint8Array
  readonly peerIncarnation: Uint8Array
  private readonly limits: SessionLimits
  /** Last seq assigned to an outgoing sequenced frame. */
  private txSeq = 0
  /** Sequenced frames sent or queued and not yet acknowledged, in seq order. */
  private replay: Outgoing[] = []
  private replayHead = 0
  private replayBytes = 0
  /** Frames queued for the next drain(), in order; sequenced ones are also in replay. */
  private outbox: Outgoing[] = []
  /** Last seq delivered upward (the cumulative ack we owe the peer). */
  private rxSeq = 0
  private ackSent = 0
  /** Highest seq the peer has acknowledged: everything up to it reached the far daemon. */
  private ackedSeq = 0
  /** Packets go out compact (FEATURE_COMPACT, negotiated per connection). */
  compact = false
  /** Packets encoded in front of their own bulk, not copied (drain()). */
  inPlacePackets = 0

  constructor (localIncarnation: Uint8Array, peerIncarnation: Uint8Array, limits: SessionLimits = DEFAULT_SESSION_LIMITS) {
    this.localIncarnation = localIncarnation
    this.peerIncarnation = peerIncarnation
    this.limits = limits
  }

  /** Next seq this side expects from the peer: the resume point it offers. */
  get nextExpected (): number { return this.rxSeq + 1 }
  get unacked (): number { return this.replay.length - this.replayHead }
  get unackedBytes (): number { return this.replayBytes }
  get lastSent (): number { return this.txSeq }
  /** Last seq the peer acknowledged (frames up to it are delivered; later ones are lost if the session ends now). */
  get acked (): number { return this.ackedSeq }
  /** True when frames wait for drain(). */
  get pending (): boolean { return this.outbox.length > 0 }
  /**
   * True when what waits for drain() is only write-order confirmations
   * (Ordered): nobody waits on them, so they may wait, as acks do, for the
   * next packet or the ack tick.
   */
  get onlyOrdered (): boolean {
    for (const o of this.outbox) if (o.frame.ordered == null) return false
    return this.outbox.length > 0
  }

  /** True when the peer is owed an acknowledgement. */
  get owesAck (): boolean { return this.rxSeq > this.ackSent }
  get owedAcks (): number { return this.rxSeq - this.ackSent }

  /**
   * Queues a frame. Sequenced frames get the next seq and stay in the replay
   * buffer until acknowledged; throws ReplayOverflowError past the bound.
   * `headroom`: bytes in front of `bulk` in its memory that the encoder may
   * write (compactHeadroom()); the caller gives them up with the bulk.
   */
  send (frame: Frame, bulk?: Uint8Array, headroom = 0): void {
    const declared = bulkLength(frame)
    if (declared !== (bulk === undefined ? (declared < 0 ? -1 : 0) : bulk.length)) {
      throw new FrameError(`frame declares ${declared < 0 ? 'no' : declared} bulk bytes but ${bulk?.length ?? 'none'} were given`)
    }
    const size = FRAME_OVERHEAD + (bulk?.length ?? 0)
    const out: Outgoing = { frame, bulk, size, headroom }
    if (isSequenced(frame)) {
      if (this.replayBytes + size > this.limits.maxReplayBytes) {
        throw new ReplayOverflowError(`replay buffer would exceed ${this.limits.maxReplayBytes} bytes (${this.unacked} frames unacknowledged)`)
      }
      frame.seq = ++this.txSeq
      this.replay.push(out)
      this.replayBytes += size
    }
    this.outbox.push(out)
  }

  /**
   * Encodes everything queued into packets (Batches where there is more than
   * one frame), each carrying the current cumulative ack. With nothing queued
   * but an ack owed, returns one bare acknowledgement.
   */
  drain (): Buffer[] {
    const packets: Buffer[] = []
    const queue = this.outbox
    this.outbox = []
    let i = 0
    while (i < queue.length) {
      if (this.inPlace(queue[i]!)) {
        const item = queue[i++]!
        const packet = encodeCompactInPlace(item, recordSize(item), item.headroom, this.rxSeq)
        if (packet !== null) this.inPlacePackets++
        packets.push(packet ?? this.encode([item], 0, 1))
        continue
      }
      let end = i + 1
      let bytes = queue[i]!.size
      while (end < queue.length && end - i < this.limits.maxBatchFrames &&
        bytes + queue[end]!.size <= this.limits.maxBatchBytes && !this.inPlace(queue[end]!)) {
        bytes += queue[end]!.size
        end++
      }
      packets.push(this.encode(queue, i, end))
      i = end
    }
    if (packets.length === 0 && this.owesAck) packets.push(encodePacket({ ack: this.rxSeq }))
    this.ackSent = this.rxSeq
    return packets
  }

  private inPlace (item: Outgoing): boolean {
    return this.compact && item.headroom > 0 && item.bulk !== undefined && item.bulk.length >= IN_PLACE_BYTES
  }

  private encode (queue: Outgoing[], from: number, to: number): Buffer {
    if (this.compact) {
      const sizes: number[] = new Array(to)
      for (let k = from; k < to; k++) sizes[k] = recordSize(queue[k]!)
      return encodeCompact(queue, from, to, sizes, this.rxSeq)
    }
    const bulk: Uint8Array[] = []
    for (let k = from; k < to; k++) {
      const b = queue[k]!.bulk
      if (b !== undefined) bulk.push(b)
    }
    if (to - from === 1) {
      const f = queue[from]!.frame
      f.ack = this.rxSeq
      const packet = encodePacket(f, bulk)
      f.ack = 0
      return packet
    }
    const frames: Frame[] = []
    for (let k = from; k < to; k++) frames.push(queue[k]!.frame)
    return encodePacket({ ack: this.rxSeq, batch: { frames } }, bulk)
  }

  /**
   * Takes a decoded packet: applies its ack and returns the frames to hand
   * upward, in order, each exactly once. Already-delivered sequenced frames
   * (replayed duplicates) are dropped. A gap in the sequence is a protocol
   * violation: TCP and resume never produce one.
   */
  receive (packet: Packet): Delivery[] {
    this.acknowledge(packet.frame.ack ?? 0)
    const out: Delivery[] = []
    let b = 0
    for (const f of framesOf(packet.frame)) {
      const bulk = f.write != null || f.update != null || f.readCompletion != null ? packet.bulk[b++] : undefined
      if (bodyName(f) === 'ack') continue
      if (!isSequenced(f)) {
        if ((f.seq ?? 0) !== 0) throw new FrameError(`control frame ${bodyName(f)} carries seq ${String(f.seq)}`)
        out.push({ frame: f, bulk })
        continue
      }
      const seq = f.seq ?? 0
      if (seq <= this.rxSeq) continue
      if (seq !== this.rxSeq + 1) throw new FrameError(`sequence gap: expected ${this.rxSeq + 1}, got ${seq}`)
      this.rxSeq = seq
      out.push({ frame: f, bulk })
    }
    return out
  }

  private acknowledge (ack: number): void {
    if (ack > this.txSeq) throw new FrameError(`ack ${ack} for a frame never sent (last sent ${this.txSeq})`)
    if (ack > this.ackedSeq) this.ackedSeq = ack
    while (this.replayHead < this.replay.length && (this.replay[this.replayHead]!.frame.seq ?? 0) <= ack) {
      this.replayBytes -= this.replay[this.replayHead]!.size
      this.replayHead++
    }
    if (this.replayHead > 1024 && this.replayHead * 2 > this.replay.length) {
      this.replay = this.replay.slice(this.replayHead)
      this.replayHead = 0
    }
  }

  /**
   * After a reconnect: the peer expects `nextSeq` next. Drops what that
   * acknowledges and requeues every later sequenced frame, ahead of nothing
   * (control frames queued for the dead connection are dropped). Returns
   * false if the peer asks for frames no longer held: the session cannot
   * resume.
   */
  resumeFrom (nextSeq: number): boolean {
    if (nextSeq < 1 || nextSeq > this.txSeq + 1) return false
    const oldest = this.replayHead < this.replay.length ? this.replay[this.replayHead]!.frame.seq ?? 0 : this.txSeq + 1
    if (nextSeq < oldest) return false
    this.acknowledge(nextSeq - 1)
    this.outbox = this.replay.slice(this.replayHead)
    return true
  }
}
