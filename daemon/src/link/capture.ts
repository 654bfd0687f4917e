// Frame capture: a tap on the link's WebSockets (ws-transport.ts) that sees
// every packet of every peer link, both ways, as it crosses the socket:
// protobuf packets, Batches and compact packets, the handshake and the
// Goodbye included. Readers (GET /v1/capture) subscribe; with none, the tap
// is null and a packet pays one null check (WsLinkSocket.send and its
// message listener).
//
// A connection is named by the link it joins (PeerLink.establish calls
// named()); until then (Challenge, Hello, and on the dialer's side the
// Welcome) its packets are held, a few at most, and let out under the name
// once it is known, with the times they crossed. A connection refused at
// its handshake is never named: its packets are not captured.
//
// The tap copies what it keeps (up to the largest snap length a reader asked
// for): the socket's buffers are not ours to hold.

import { CaptureDirection } from '../../../proto/capture-record.js'

export { CaptureDirection }

/** A packet as a reader gets it. */
export interface TappedPacket {
  peer: string
  direction: CaptureDirection
  /** Microseconds since the Unix epoch. */
  timeUs: number
  /** Its length on the wire. */
  length: number
  /** A copy of its first bytes (up to the largest snap length of the readers). */
  data: Uint8Array
}

export type CaptureTap = (sock: object, direction: CaptureDirection, packet: Uint8Array) => void

export interface CaptureReaderOptions {
  /** Only this peer's packets (null: every peer's). */
  peer: string | null
  /** Keep at most this many bytes of each packet. */
  snaplen: number
}

interface Reader extends CaptureReaderOptions {
  deliver: (p: TappedPacket) => void
}

/** Packets held for a connection not yet named, at most: the handshake is two or three. */
const MAX_EARLY_PACKETS = 8

/** Now, in microseconds since the Unix epoch, finer than Date.now(). */
export function nowUs (): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000)
}

export class LinkCapture {
  /** Non-null only while someone captures: the one check a packet pays otherwise. */
  tap: CaptureTap | null = null

  private readonly names = new WeakMap<object, string>()
  private readonly early = new WeakMap<object, TappedPacket[]>()
  private readonly readers = new Set<Reader>()
  private snaplen = 0
  private readonly onPacket: CaptureTap = (sock, direction, packet) => { this.packet(sock, direction, packet) }

  /** The connection `sock` carries the link to `peer`: its packets go by that name, those held so far too. */
  named (sock: object, peer: string): void {
    this.names.set(sock, peer)
    const held = this.early.get(sock)
    if (held === undefined) return
    this.early.delete(sock)
    for (const p of held) {
      p.peer = peer
      this.dispatch(p)
    }
  }

  /** Starts a reader; returns the function that stops it. */
  subscribe (options: CaptureReaderOptions, deliver: (p: TappedPacket) => void): () => void {
    const reader: Reader = { ...options, deliver }
    this.readers.add(reader)
    this.update()
    return () => {
      this.readers.delete(reader)
      this.update()
    }
  }

  private update (): void {
    this.snaplen = 0
    for (const r of this.readers) this.snaplen = Math.max(this.snaplen, r.snaplen)
    this.tap = this.readers.size > 0 ? this.onPacket : null
  }

  private packet (sock: object, direction: CaptureDirection, packet: Uint8Array): void {
    const p: TappedPacket = {
      peer: this.names.get(sock) ?? '',
      direction,
      timeUs: nowUs(),
      length: packet.length,
      data: Uint8Array.prototype.slice.call(packet, 0, this.snaplen)
    }
    if (p.peer !== '') { this.dispatch(p); return }
    const held = this.early.get(sock)
    if (held === undefined) this.early.set(sock, [p])
    else if (held.length < MAX_EARLY_PACKETS) held.push(p)
  }

  private dispatch (p: TappedPacket): void {
    for (const r of this.readers) {
      if (r.peer !== null && r.peer !== p.peer) continue
      r.deliver(p.data.length > r.snaplen ? { ...p, data: p.data.subarray(0, r.snaplen) } : p)
    }
  }
}

/** The capture of a transport nobody can read from (in-memory links, tests). */
export const NO_CAPTURE = new LinkCapture()
