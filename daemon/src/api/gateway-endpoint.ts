// One endpoint of the rpmsg gateway (proto/rpmsg.proto): what an application
// asked for, a local address and, for an announced endpoint, a channel name,
// kept across buses. On a bus it is a plain endpoint in the bus's endpoint
// table (rpmsg_create_ept()) or, announced, a channel of the vhost bus
// (vhost_rpmsg_create_channel(), NS CREATE | AS_ANNOUNCE), or a channel the
// other side announced, claimed (ClaimChannel: rpmsg_dev_probe()). When the bus goes
// the bus drops those; attach() makes them again on the next bus at the
// same address, which the application already knows.
//
// It also carries what the overflow policy needs (rpmsg-gateway.ts): the
// bytes of its Received messages not yet written to the WebSocket, and its
// counters, kept over every bus it has been on.

import { DeliveryLedger } from '../link/delivery.js'
import type { RpmsgBusCore, RpmsgChannel } from '../rpmsg/core.js'
import type { Endpoint } from '../rpmsg/endpoints.js'
import { VhostRpmsgBus } from '../rpmsg/vhost-rpmsg.js'
import { RPMSG_ADDR_ANY, RpmsgError } from '../rpmsg/wire.js'

/** Called for each message the bus delivers to the endpoint. */
export type Delivery = (ept: GatewayEndpoint, src: number, payload: Uint8Array) => void

/**
 * sent: Sends that went into a buffer; received: messages the bus delivered
 * to it; dropped: of those, Received messages not passed on (overflow);
 * lost: Sends answered Sent whose frames the peer never acknowledged before
 * its session ended.
 */
export interface GatewayEndpointCounters { sent: number, received: number, dropped: number, lost: number }

export interface GatewayEndpointRequest { name: string, addr: number, announce: boolean }

export class GatewayEndpoint {
  private readonly onChannelMessage = (payload: Uint8Array, src: number): void => { this.deliver(this, src, payload) }
  readonly counters: GatewayEndpointCounters = { sent: 0, received: 0, dropped: 0, lost: 0 }
  /** Its Sends answered Sent, under the link marks that carry them, until the peer acknowledges them. */
  readonly unacked = new DeliveryLedger()
  /** Bytes of Received messages handed to the WebSocket and not yet written. */
  buffered = 0
  /** Of those, bytes still in the connection's open batch (version 2). */
  inBatch = 0
  /** In an overflow episode: its first drop was reported, nothing accepted since. */
  overflowing = false
  private onBus: RpmsgBusCore | null = null
  private plain: Endpoint | null = null
  private channel: RpmsgChannel | null = null

  /** A claimed channel's: the driver name it holds the channel under (ClaimChannel); null for the others. */
  private claimedAs: string | null = null

  private constructor (private at: number, readonly name: string, readonly announce: boolean, private readonly deliver: Delivery, private readonly queue: object) {}

  /**
   * Claims `ch` on `bus` as driver `driver` (rpmsg_dev_probe(): on the
   * virtio side its endpoint is made and AS ASSIGN sent, unless a keeper
   * binding made them already): the channel's endpoint is this one.
   * ERR_BUSY if a driver or application holds it.
   */
  static claim (bus: RpmsgBusCore, ch: RpmsgChannel, driver: string, deliver: Delivery, queue: object = {}): GatewayEndpoint {
    bus.claimChannel(ch, driver)
    const ept = new GatewayEndpoint(ch.src, ch.name, false, deliver, queue)
    ept.claimedAs = driver
    ept.channel = ch
    ch.on('message', ept.onChannelMessage)
    ept.onBus = bus
    return ept
  }

  /** Whether it is a claimed channel (which cannot come back on another bus). */
  get claimed (): boolean { return this.claimedAs !== null }

  /**
   * A new endpoint on `bus`; addr RPMSG_ADDR_ANY takes the lowest free from
   * 1024. Its waiting sends go in the bus's queue `queue` (its connection:
   * buffers are shared round-robin between connections, core.ts).
   */
  static create (bus: RpmsgBusCore, req: GatewayEndpointRequest, deliver: Delivery, queue: object = {}): GatewayEndpoint {
    if (req.announce) {
      if (!(bus instanceof VhostRpmsgBus)) {
        throw new RpmsgError('ERR_RPMSG_UNSUPPORTED', 'only the vhost side (an ep) announces endpoints; create a plain endpoint and use the channel events')
      }
      if (req.addr !== RPMSG_ADDR_ANY) throw new RpmsgError('ERR_RPMSG_ADDR', 'an announced endpoint takes its address from 1024 up: addr must be 0xffffffff')
    }
    const ept = new GatewayEndpoint(req.addr, req.name, req.announce, deliver, queue)
    ept.make(bus)
    return ept
  }

  /** Its local address, the same on every bus. */
  get addr (): number { return this.at }

  /** The bus it is on, or null while detached. */
  get bus (): RpmsgBusCore | null { return this.onBus }

  /** The remote address the address service gave (announced endpoints), or RPMSG_ADDR_ANY. */
  get remote (): number { return this.channel?.dst ?? RPMSG_ADDR_ANY }

  /** Whether `ch` is this endpoint's channel. */
  owns (ch: RpmsgChannel): boolean { return this.channel === ch }

  /** Made again on a new bus at the same address (and name); ERR_RPMSG_ADDR or ERR_CONFLICT if taken there. */
  attach (bus: RpmsgBusCore): void {
    if (this.onBus !== null) return
    if (this.claimedAs !== null) throw new RpmsgError('ERR_RPMSG_DETACHED', `channel ${this.name} went with its bus; a new announcement is a new channel, to claim again`)
    if (this.announce && !(bus instanceof VhostRpmsgBus)) throw new RpmsgError('ERR_RPMSG_UNSUPPORTED', `${this.name}: only a vhost bus announces`)
    this.make(bus)
  }

  /** The bus went away and took its endpoint or channel with it: forget them. */
  detach (): void {
    // Only our own listener: an rpmsg driver bound to the same channel keeps its own.
    this.channel?.off('message', this.onChannelMessage)
    this.onBus = null
    this.plain = null
    this.channel = null
  }

  /** Removes it from its bus: an announced one with NS DESTROY to the other side; a claimed one is released (rpmsg_dev_remove()). */
  destroy (): void {
    const bus = this.onBus
    const ch = this.channel
    const plain = this.plain
    this.detach()
    if (plain !== null) bus?.destroyEndpoint(plain)
    if (ch !== null && this.claimedAs !== null) {
      bus?.releaseChannel(ch, this.claimedAs)
      return
    }
    if (ch !== null && bus instanceof VhostRpmsgBus && bus.channels.get(ch.name) === ch) bus.destroyChannel(ch.name)
  }

  /** rpmsg_trysend() from this endpoint; ERR_RPMSG_DETACHED while it has no bus. */
  trySend (dst: number, payload: Uint8Array): void {
    if (this.onBus === null) throw new RpmsgError('ERR_RPMSG_DETACHED', `rpmsg endpoint ${this.addr} has no bus now; it comes back with the next one`)
    this.onBus.trySend(this.addr, dst, payload)
    this.counters.sent++
  }

  /** rpmsg_send() from this endpoint: waits up to timeoutMs for a buffer, in FIFO order with the bus's other waiting sends. */
  async send (dst: number, payload: Uint8Array, timeoutMs: number): Promise<void> {
    if (this.onBus === null) throw new RpmsgError('ERR_RPMSG_DETACHED', `rpmsg endpoint ${this.addr} has no bus now; it comes back with the next one`)
    await this.onBus.send(this.addr, dst, payload, { timeoutMs, queue: this.queue })
    this.counters.sent++
  }

  /**
   * rpmsg_send() without a promise when none is needed: null if the message
   * is in a buffer now, else the wait (as send()). Throws at once what
   * trySend() throws but ERR_RPMSG_NO_BUFFER.
   */
  sendOrWait (dst: number, payload: Uint8Array, timeoutMs: number): Promise<void> | null {
    const bus = this.onBus
    if (bus === null) throw new RpmsgError('ERR_RPMSG_DETACHED', `rpmsg endpoint ${this.addr} has no bus now; it comes back with the next one`)
    if (bus.waiting === 0) {
      try {
        this.trySend(dst, payload)
        return null
      } catch (err) {
        if (!(err instanceof RpmsgError) || err.code !== 'ERR_RPMSG_NO_BUFFER') throw err
        // A look for a free buffer before waiting, not an rpmsg_trysend() that failed: not counted as one.
        bus.counters.noBuffer--
      }
    }
    return this.send(dst, payload, timeoutMs)
  }

  /** Creates the bus's endpoint or channel at its address (the first time, RPMSG_ADDR_ANY may pick one). */
  private make (bus: RpmsgBusCore): void {
    if (this.announce) {
      const ch = (bus as VhostRpmsgBus).createChannel(this.name, this.at)
      ch.on('message', this.onChannelMessage)
      this.channel = ch
      this.at = ch.src
    } else {
      this.plain = bus.createEndpoint(this.at, (payload, src) => { this.deliver(this, src, payload) })
      this.at = this.plain.addr
    }
    this.onBus = bus
  }
}
