// The gateway requests of one connection that wait for an answer
// (CreateEndpoint, ClaimChannel, ListChannels: proto/rpmsg.proto), by
// request id, and version 1's numbering of sends by request id. Kept apart
// from rpmsg-client.ts, which decodes the answers and hands them here.

import type { soclink } from '../../proto/gen/rpmsg.js'

type ServerMessage = soclink.rpmsg.v1.ServerMessage

/** Version 1 request ids: sends number 1..SEND_IDS (their sequence number, wrapped), other requests above. */
export const SEND_IDS = 0x7fffffff

/** Version 1: the sequence number of the send with this request id, the first after `answeredUpTo`. */
export function v1Seq (requestId: number, answeredUpTo: number): number {
  const base = answeredUpTo
  return base + 1 + ((((requestId - 1 - base) % SEND_IDS) + SEND_IDS) % SEND_IDS)
}

/** Version 1: the request id a send with this sequence number goes out with. */
export function v1RequestId (seq: number): number {
  return ((seq - 1) % SEND_IDS) + 1
}

interface Pending {
  resolve: (m: ServerMessage) => void
  reject: (err: Error) => void
}

export class PendingRequests {
  private readonly pending = new Map<number, Pending>()
  private nextId = SEND_IDS + 1

  /** A new request id (above the sends' ids) and the promise its answer settles. */
  open (): { requestId: number, answer: Promise<ServerMessage> } {
    const requestId = this.nextId
    this.nextId = this.nextId >= 0xfffffffe ? SEND_IDS + 1 : this.nextId + 1
    const answer = new Promise<ServerMessage>((resolve, reject) => { this.pending.set(requestId, { resolve, reject }) })
    return { requestId, answer }
  }

  has (requestId: number): boolean { return this.pending.has(requestId) }

  /** Settles the request with its answer; an id no request waits on is ignored. */
  answer (requestId: number, m: ServerMessage): void {
    const p = this.pending.get(requestId)
    if (p === undefined) return
    this.pending.delete(requestId)
    p.resolve(m)
  }

  /** Rejects the request; false if no request waits on this id (0 included). */
  reject (requestId: number, err: Error): boolean {
    const p = this.pending.get(requestId)
    if (requestId === 0 || p === undefined) return false
    this.pending.delete(requestId)
    p.reject(err)
    return true
  }

  /** The connection closed: every request fails with `err`. */
  close (err: Error): void {
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
  }
}
