// The endpoints one gateway connection owns, by address, and what becomes of
// them as the rpmsg bus and its channels come and go (detached, made again
// on a new bus, destroyed with a claimed channel), each change told to the
// application (EndpointState, EndpointBound, EndpointMaxPayload:
// proto/rpmsg.proto). It also keeps the gateway's count of endpoints
// (GatewayBudget) in step. Kept apart from gateway-connection.ts, which
// reads the application's frames and answers them.

import { soclink } from '../../../proto/gen/rpmsg.js'
import type { RpmsgBusCore, RpmsgChannel } from '../rpmsg/core.js'
import { RPMSG_ADDR_ANY } from '../rpmsg/wire.js'
import type { GatewayEndpoint, GatewayEndpointCounters } from './gateway-endpoint.js'
import type { GatewayBudget } from './gateway-limits.js'
import type { ServerMessage } from './gateway-output.js'

const State = soclink.rpmsg.v1.EndpointState.State

export interface GatewayEndpointView extends GatewayEndpointCounters {
  addr: number
  name: string
  announce: boolean
  state: 'attached' | 'detached'
  /** The address service's remote address (announced, bound), or null. */
  remote: number | null
  /** Bytes of its Received messages not yet written. */
  buffered: number
}

const messageOf = (err: unknown): string => err instanceof Error ? err.message : String(err)

export class GatewayEndpointTable {
  private readonly endpoints = new Map<number, GatewayEndpoint>()

  /** `send` tells the application (a control message). */
  constructor (private readonly budget: GatewayBudget, private readonly send: (msg: ServerMessage) => void) {}

  get size (): number { return this.endpoints.size }
  get (addr: number): GatewayEndpoint | undefined { return this.endpoints.get(addr) }
  values (): IterableIterator<GatewayEndpoint> { return this.endpoints.values() }

  /** Why one more endpoint is over the limits (ERR_RPMSG_LIMIT), or null if there is room. */
  overLimits (): string | null {
    const limit = this.budget.limits
    if (this.endpoints.size >= limit.endpointsPerConnection) return `this connection owns ${this.endpoints.size} endpoints: maxEndpointsPerConnection is ${limit.endpointsPerConnection}`
    if (this.budget.endpoints >= limit.endpoints) return `the gateway's connections own ${this.budget.endpoints} endpoints: maxEndpoints is ${limit.endpoints}`
    return null
  }

  add (ept: GatewayEndpoint): void {
    this.endpoints.set(ept.addr, ept)
    this.budget.endpoints++
  }

  /** Takes `addr` out of the table (the caller destroys or detaches it); false if not ours. */
  remove (addr: number): boolean {
    if (!this.endpoints.delete(addr)) return false
    this.budget.endpoints--
    return true
  }

  /** Destroys every endpoint (the connection closed). */
  destroyAll (): void {
    for (const ept of this.endpoints.values()) ept.destroy()
    this.budget.endpoints -= this.endpoints.size
    this.endpoints.clear()
  }

  /** The endpoint at `addr` on `bus`, if ours. */
  on (bus: RpmsgBusCore, addr: number): GatewayEndpoint | undefined {
    const ept = this.endpoints.get(addr)
    return ept?.bus === bus ? ept : undefined
  }

  /** Our endpoint that owns the channel `ch`, if any. */
  owner (ch: RpmsgChannel): GatewayEndpoint | undefined {
    return [...this.endpoints.values()].find((e) => e.owns(ch))
  }

  views (): GatewayEndpointView[] {
    return [...this.endpoints.values()].map((e) => ({
      addr: e.addr,
      name: e.name,
      announce: e.announce,
      state: e.bus === null ? 'detached' : 'attached',
      remote: e.remote === RPMSG_ADDR_ANY ? null : e.remote,
      buffered: e.buffered,
      ...e.counters
    }))
  }

  /** The bus went away: each endpoint still on it is detached (its channel, if any, was reported destroyed already); a claimed channel's is gone. */
  busGone (): void {
    for (const ept of [...this.endpoints.values()]) {
      if (ept.claimed) this.lost(ept, 'the rpmsg bus went away with the channel')
      else if (ept.bus !== null) this.detached(ept, 'the rpmsg bus went away')
    }
  }

  /** A new bus: each detached endpoint is made again on it, or destroyed if its address is taken there. */
  busCame (bus: RpmsgBusCore): void {
    for (const ept of [...this.endpoints.values()]) {
      if (ept.bus !== null) continue
      try {
        ept.attach(bus)
      } catch (err) {
        this.remove(ept.addr)
        this.send({ endpointState: { addr: ept.addr, state: State.STATE_DESTROYED, reason: `cannot be made again on the new rpmsg bus: ${messageOf(err)}` } })
        continue
      }
      this.send({ endpointState: { addr: ept.addr, state: State.STATE_ATTACHED, reason: 'on a new rpmsg bus', maxPayload: bus.maxPayload } })
    }
  }

  /** The bus's buffer size changed (vhost side: DRIVER_OK, a reset): each endpoint on it is told its new largest payload. */
  busResized (bus: RpmsgBusCore): void {
    for (const ept of this.endpoints.values()) if (ept.bus === bus) this.send({ endpointMaxPayload: { addr: ept.addr, maxPayload: bus.maxPayload } })
  }

  /**
   * A channel went; the bus is stopping (the gateway's channels are
   * destroyed by their connection only: DELETE /v1/rpmsg/channels refuses
   * them), so the endpoint that owns it is detached, or lost if claimed.
   */
  channelDestroyed (ch: RpmsgChannel): void {
    const ept = this.owner(ch)
    if (ept?.claimed === true) this.lost(ept, `channel ${ch.name} was destroyed (NS DESTROY, or its rpmsg bus went)`)
    else if (ept !== undefined) this.detached(ept, `channel ${ch.name} was destroyed with its rpmsg bus`)
  }

  /** The address service bound (AS ASSIGN) or unbound (AS FREE, a reset) one of our channels. */
  channelBinding (ch: RpmsgChannel): void {
    const ept = this.owner(ch)
    if (ept !== undefined) this.send({ endpointBound: { addr: ept.addr, remote: ch.dst } })
  }

  /** A claimed channel went (NS DESTROY, or its bus): its endpoint is no longer this connection's. */
  private lost (ept: GatewayEndpoint, reason: string): void {
    ept.detach()
    this.remove(ept.addr)
    this.send({ endpointState: { addr: ept.addr, state: State.STATE_DESTROYED, reason } })
  }

  private detached (ept: GatewayEndpoint, reason: string): void {
    const wasBound = ept.remote !== RPMSG_ADDR_ANY
    ept.detach()
    if (wasBound) this.send({ endpointBound: { addr: ept.addr, remote: RPMSG_ADDR_ANY } })
    this.send({ endpointState: { addr: ept.addr, state: State.STATE_DETACHED, reason } })
  }
}
