// soclink rpmsg perf's messages and what it makes of them, without sockets:
// each message carries its run, its endpoint pair and its sequence number,
// then bytes that follow from them, so the receiver checks every message on
// arrival (lost, duplicated, reordered, corrupt) with no copy of what was sent.

/** The header of a perf message: u32 seq, u16 pair, u16 phase (little-endian). */
export const PERF_HEADER_BYTES = 8

/** Writes message `seq` of `pair` in `phase` into `buf` (its whole length); the buffer can be reused once sent, as post() copies. */
export function stamp (buf: Buffer, phase: number, pair: number, seq: number): void {
  buf.writeUInt32LE(seq >>> 0, 0)
  buf.writeUInt16LE(pair, 4)
  buf.writeUInt16LE(phase, 6)
  for (let i = PERF_HEADER_BYTES; i < buf.length; i++) buf[i] = (seq + i) & 0xff
}

/** The phase a message belongs to, or -1 if it is too short to be a perf message. */
export function phaseOf (payload: Uint8Array): number {
  return payload.length < PERF_HEADER_BYTES ? -1 : payload[6]! | (payload[7]! << 8)
}

export interface ArrivalCounts {
  /** Distinct messages that arrived intact. */
  received: number
  lost: number
  duplicated: number
  reordered: number
  corrupt: number
}

/** What one receiving endpoint of one phase saw, checked message by message. */
export class Arrivals {
  private readonly seen: Uint8Array
  private highest = 0
  received = 0
  duplicated = 0
  reordered = 0
  corrupt = 0
  /** Messages of another phase or pair (late ones from an earlier phase): skipped, not counted. */
  strays = 0

  constructor (readonly phase: number, readonly pair: number, readonly size: number, readonly expected: number) {
    this.seen = new Uint8Array(expected + 1)
  }

  get complete (): boolean { return this.received === this.expected }

  /** One message arrived; false if it was not one of this phase's for this pair. */
  add (payload: Uint8Array): boolean {
    if (phaseOf(payload) !== this.phase || (payload[4]! | (payload[5]! << 8)) !== this.pair) {
      this.strays++
      return false
    }
    const seq = (payload[0]! | (payload[1]! << 8) | (payload[2]! << 16) | (payload[3]! << 24)) >>> 0
    if (payload.length !== this.size || seq === 0 || seq > this.expected || !intact(payload, seq)) {
      this.corrupt++
      return true
    }
    if (this.seen[seq] === 1) {
      this.duplicated++
      return true
    }
    this.seen[seq] = 1
    this.received++
    if (seq < this.highest) this.reordered++
    else this.highest = seq
    return true
  }

  counts (): ArrivalCounts {
    return { received: this.received, lost: this.expected - this.received, duplicated: this.duplicated, reordered: this.reordered, corrupt: this.corrupt }
  }
}

function intact (payload: Uint8Array, seq: number): boolean {
  for (let i = PERF_HEADER_BYTES; i < payload.length; i++) if (payload[i] !== ((seq + i) & 0xff)) return false
  return true
}

/** Sums counts over endpoint pairs. */
export function addCounts (all: ArrivalCounts[]): ArrivalCounts {
  const sum: ArrivalCounts = { received: 0, lost: 0, duplicated: 0, reordered: 0, corrupt: 0 }
  for (const c of all) {
    sum.received += c.received
    sum.lost += c.lost
    sum.duplicated += c.duplicated
    sum.reordered += c.reordered
    sum.corrupt += c.corrupt
  }
  return sum
}

/** The p-th percentile (0..100) of sorted values, nearest rank; null for none. */
export function percentile (sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}
