// The endpoint table of one rpmsg bus (the idr of virtio_rpmsg_bus.c and
// vhost_rpmsg_bus.c): local addresses to callbacks. create() with
// RPMSG_ADDR_ANY takes the lowest free address from
// RPMSG_RESERVED_ADDRESSES up (idr_alloc(..., 1024, 0); in O(log n),
// free-addresses.ts); a fixed address
// below 1024 is for the bus's own endpoints (name service 53, address
// service 54) only. dispatch() delivers a received message to its
// destination, or counts it as unknown and drops it. Each endpoint counts
// its own traffic (the per-endpoint view of GET /v1/rpmsg/endpoints).

import { RPMSG_ADDR_ANY, RPMSG_RESERVED_ADDRESSES, RpmsgError } from './wire.js'
import { asSoclinkError } from '../virtio/virtio.js'
import { FreeAddresses } from './free-addresses.js'
import type { SoclinkError } from '../errors.js'

/** Called with a copy of the payload and the sender's address. */
export type EndpointCallback = (payload: Uint8Array, src: number, ept: Endpoint) => void

/** One endpoint's messages: sent from its address (put in a buffer), and delivered to its callback. */
export interface EndpointTraffic { sent: number, received: number }

export interface Endpoint {
  readonly addr: number
  readonly callback: EndpointCallback
  readonly traffic: EndpointTraffic
}

export interface CreateEndpointOptions {
  /** Allows a fixed address below RPMSG_RESERVED_ADDRESSES (the bus's own endpoints). */
  internal?: boolean
}

/** delivered: to a callback; unknown: no endpoint at dst; failed: the callback threw (kept in lastError). */
export interface EndpointCounters { delivered: number, unknown: number, failed: number }

export type DispatchOutcome = 'delivered' | 'unknown' | 'failed'

const ADDR_MAX = 0xffff_fffe

export class EndpointTable {
  readonly counters: EndpointCounters = { delivered: 0, unknown: 0, failed: 0 }
  lastError: SoclinkError | null = null
  private readonly epts = new Map<number, Endpoint>()
  private readonly free = new FreeAddresses(RPMSG_RESERVED_ADDRESSES, ADDR_MAX, (a) => this.epts.has(a))

  get size (): number { return this.epts.size }

  /** Addresses in use, ascending. */
  addresses (): number[] { return [...this.epts.keys()].sort((a, b) => a - b) }

  get (addr: number): Endpoint | undefined { return this.epts.get(addr) }

  has (addr: number): boolean { return this.epts.has(addr) }

  /** An endpoint at `addr`, or at the lowest free address from 1024 for RPMSG_ADDR_ANY; ERR_RPMSG_ADDR if reserved or in use. */
  create (addr: number, callback: EndpointCallback, options: CreateEndpointOptions = {}): Endpoint {
    let at = addr
    if (addr === RPMSG_ADDR_ANY) {
      at = this.free.lowest()
      if (at < 0) throw new RpmsgError('ERR_RPMSG_ADDR', 'no rpmsg address is free')
      this.free.taken(at)
    } else {
      if (!Number.isInteger(addr) || addr < 0 || addr > ADDR_MAX) throw new RpmsgError('ERR_RPMSG_ADDR', `${addr} is not an rpmsg address`)
      if (addr < RPMSG_RESERVED_ADDRESSES && options.internal !== true) {
        throw new RpmsgError('ERR_RPMSG_ADDR', `rpmsg address ${addr} is reserved (below ${RPMSG_RESERVED_ADDRESSES})`)
      }
      if (this.epts.has(addr)) throw new RpmsgError('ERR_RPMSG_ADDR', `rpmsg address ${addr} is in use`)
    }
    const ept: Endpoint = { addr: at, callback, traffic: { sent: 0, received: 0 } }
    this.epts.set(at, ept)
    return ept
  }

  /** Removes the endpoint (by address or object); false if it was not there. */
  destroy (ept: number | Endpoint): boolean {
    const addr = typeof ept === 'number' ? ept : ept.addr
    const cur = this.epts.get(addr)
    if (cur === undefined || (typeof ept !== 'number' && cur !== ept)) return false
    this.epts.delete(addr)
    this.free.released(addr)
    return true
  }

  /** Delivers a message to `dst`; a callback that throws is counted and kept, never thrown to the queue. */
  dispatch (src: number, dst: number, payload: Uint8Array): DispatchOutcome {
    const ept = this.epts.get(dst)
    if (ept === undefined) {
      this.counters.unknown++
      return 'unknown'
    }
    try {
      ept.callback(payload, src, ept)
    } catch (err) {
      this.counters.failed++
      this.lastError = asSoclinkError(err, 'ERR_RPMSG_ENDPOINT')
      return 'failed'
    }
    this.counters.delivered++
    ept.traffic.received++
    return 'delivered'
  }

  /** A message from `src` went into a buffer; counted on its endpoint, if it has one. */
  countSent (src: number): void {
    const ept = this.epts.get(src)
    if (ept !== undefined) ept.traffic.sent++
  }

  clear (): void {
    for (const addr of this.epts.keys()) this.free.released(addr)
    this.epts.clear()
  }
}
