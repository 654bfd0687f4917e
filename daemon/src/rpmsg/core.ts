// What the virtio-side and the vhost-side rpmsg buses share: the endpoint
// table, channels (a name, a local address src and a remote address dst,
// as struct rpmsg_channel_info), receive (rpmsg_recv_single: parse, check
// lengths, dispatch; malformed and unknown-destination messages counted
// and dropped), and send (rpmsg_send_offchannel_raw): trySend fails at once
// with ERR_RPMSG_NO_BUFFER, send waits for a buffer, with the queue's
// callbacks armed only while someone waits, and fails with
// ERR_RPMSG_TIMEOUT after timeoutMs (15 s as in the kernel by default).
// Waiting sends are fair between senders: each send names its queue
// (SendOptions.queue: the rpmsg gateway gives one per application
// connection; the bus's own senders share one), each queue is FIFO, and
// buffers as they come back go round-robin to the queues that wait, so one
// application with a thousand sends waiting delays another's next send by
// one buffer, not a thousand. (The kernel's rpmsg_send() sleeps on one wait
// queue and the first woken takes the buffer, virtio_rpmsg_bus.c
// rpmsg_send_offchannel_raw(); one process cannot starve the others there.)
// A subclass says how to put one message into a buffer (post), and how to
// be told when buffers come back (arm / disarm).

import { EventEmitter } from 'node:events'
import { BusyError, NotFoundError, type ErrorCode, type SoclinkError } from '../errors.js'
import { asSoclinkError } from '../virtio/virtio.js'
import { LatencyHistogram, WAIT_BOUNDS } from '../link/latency.js'
import { EndpointTable, type Endpoint, type EndpointCallback } from './endpoints.js'
import { RPMSG_ADDR_ANY, RPMSG_BUF_SIZE, RPMSG_HDR_SIZE, RpmsgError, checkMessage, decodeMessage, putMessageHeader } from './wire.js'

export const RPMSG_SEND_TIMEOUT_MS = 15_000

export interface SendOptions {
  /** How long send() waits for a buffer; default RPMSG_SEND_TIMEOUT_MS. */
  timeoutMs?: number
  /** Whose send this is: waiting sends are FIFO within a queue and round-robin between queues. Default: the bus's own queue. */
  queue?: object
}

/** The queue of sends that name none. */
const BUS_QUEUE = {}

export interface RpmsgChannelEvents {
  message: [payload: Uint8Array, src: number]
  destroyed: []
}

/**
 * A named channel (an rpmsg device): messages from `src` (local;
 * RPMSG_ADDR_ANY on the virtio side until a driver binds it) to `dst`
 * (remote; RPMSG_ADDR_ANY until known).
 */
export class RpmsgChannel extends EventEmitter<RpmsgChannelEvents> {
  /** The other side asked to be told our address (RPMSG_AS_ANNOUNCE). */
  announce = false
  /** The driver or application that claimed it (rpdev->dev.driver), or null. */
  claimer: string | null = null
  /** A binding with no reader (rpmsgBind eager, rpmsgBindChannels): it keeps the channel bound under and after claimers. */
  keeper: string | null = null
  constructor (readonly bus: RpmsgBusCore, readonly name: string, public src: number, public dst: number) {
    super()
  }

  /** Who holds it now (a claimer over a keeper), or null: unbound. */
  get driver (): string | null { return this.claimer ?? this.keeper }

  async send (payload: Uint8Array, options: SendOptions = {}): Promise<void> {
    await this.bus.send(this.src, this.checkDst(), payload, options)
  }

  trySend (payload: Uint8Array): void {
    this.bus.trySend(this.src, this.checkDst(), payload)
  }

  private checkDst (): number {
    if (this.dst === RPMSG_ADDR_ANY) throw new RpmsgError('ERR_RPMSG_ADDR', `rpmsg channel ${this.name} has no remote address yet`)
    return this.dst
  }
}

export interface RpmsgBusEvents {
  'channel-created': [channel: RpmsgChannel]
  'channel-destroyed': [channel: RpmsgChannel]
  /** vhost side: the address service told the channel's remote address (AS ASSIGN). */
  'channel-bound': [channel: RpmsgChannel]
  /** vhost side: AS FREE, or a reset. */
  'channel-unbound': [channel: RpmsgChannel]
  /** A driver (or an application, or the configuration) bound the channel or let it go: channel.driver, channel.src. */
  'channel-binding': [channel: RpmsgChannel]
  /** bufSize (and so maxPayload) changed: vhost side at DRIVER_OK and at a reset, virtio side at probe (VIRTIO_RPMSG_F_BUFSZ). */
  'buf-size': [bufSize: number]
  /** A message or service message that was dropped, with why. */
  fault: [error: SoclinkError]
}

/**
 * sent/received: messages; malformed: buffers that were not a message;
 * serviceErrors: NS or AS messages refused; noBuffer: trySend failures;
 * timeouts: send() failures; unknown destinations are endpoints.counters.unknown.
 */
export interface RpmsgCounters { sent: number, received: number, malformed: number, serviceErrors: number, noBuffer: number, timeouts: number }

/** A send waiting for a buffer; `service`: the bus's own NS or AS message (sendService). */
interface Waiter { src: number, dst: number, payload: Uint8Array, queue: object, service: boolean, resolve: () => void, reject: (err: Error) => void, timer: NodeJS.Timeout | undefined, since: number }

export abstract class RpmsgBusCore extends EventEmitter<RpmsgBusEvents> {
  readonly endpoints = new EndpointTable()
  readonly channels = new Map<string, RpmsgChannel>()
  readonly counters: RpmsgCounters = { sent: 0, received: 0, malformed: 0, serviceErrors: 0, noBuffer: 0, timeouts: 0 }
  /**
   * How long each message sent waited for a buffer, in seconds, until it was
   * in one: 0 for one posted at once (trySend, and send() with a buffer free:
   * no clock read on that path); a waiting send() reads performance.now()
   * when it queues and when it is posted.
   */
  readonly sendLatency = new LatencyHistogram(WAIT_BOUNDS)
  lastError: SoclinkError | null = null
  /** Sends waiting for a buffer, by queue; a queue's turn comes in the Map's order (served ones go to the back). */
  private readonly queues = new Map<object, Waiter[]>()
  private waiters = 0
  private armed = false
  /** The header of the message being posted: filled and copied into a buffer per message, never allocated. */
  private readonly header = Buffer.alloc(RPMSG_HDR_SIZE)

  /** One buffer, header included: 512 unless both sides negotiated more (bufsz.ts). */
  bufSize: number

  constructor (bufSize = RPMSG_BUF_SIZE) {
    super()
    this.bufSize = bufSize
  }

  /** The largest payload one message carries. */
  get maxPayload (): number { return this.bufSize - RPMSG_HDR_SIZE }

  /** Sends waiting for a buffer. */
  get waiting (): number { return this.waiters }

  channel (name: string): RpmsgChannel | undefined { return this.channels.get(name) }

  /**
   * rpmsg_dev_probe()'s part for the bus: `driver` holds the channel from
   * now on. A keeper binding (rpmsgBind eager, rpmsgBindChannels: bound,
   * with no reader) lies under any claimer: an application or an rpmsg
   * driver may claim a kept channel, and it stays bound when they let go.
   * ERR_BUSY if another claimer (or keeper) holds it. Here (the vhost side)
   * the channel's endpoint exists from its creation; the virtio side makes
   * it when the channel is first bound and tells the other side
   * (VirtioRpmsgBus.bound).
   */
  claimChannel (ch: RpmsgChannel, driver: string, keeper = false): void {
    if (this.channels.get(ch.name) !== ch) throw new NotFoundError('rpmsg channel', ch.name)
    const taken = keeper ? ch.keeper : ch.claimer
    if (taken !== null) throw new BusyError(`rpmsg channel ${ch.name} is bound to ${taken}`)
    const was = ch.driver
    if (keeper) ch.keeper = driver
    else ch.claimer = driver
    if (was === null) this.bound(ch)
    this.emit('channel-binding', ch)
  }

  /** rpmsg_dev_remove()'s part: `driver` lets go (no-op if it does not hold `ch`, or `ch` is gone). */
  releaseChannel (ch: RpmsgChannel, driver: string): void {
    if (this.channels.get(ch.name) !== ch) return
    if (ch.claimer === driver) ch.claimer = null
    else if (ch.keeper === driver) ch.keeper = null
    else return
    if (ch.driver === null) this.unbound(ch)
    this.emit('channel-binding', ch)
  }

  /** The channel's first holder came: the virtio side makes its endpoint here. */
  protected bound (_ch: RpmsgChannel): void {}
  /** Its last holder went. */
  protected unbound (_ch: RpmsgChannel): void {}

  /** An endpoint at `addr` (or the lowest free from 1024 for RPMSG_ADDR_ANY). */
  createEndpoint (addr: number, callback: EndpointCallback): Endpoint { return this.endpoints.create(addr, callback) }

  /**
   * rpmsg_destroy_ept(): the endpoint goes, and so do its sends still
   * waiting for a buffer (ERR_RPMSG_DESTROYED): they must not leave later
   * from an address another endpoint may have taken by then. The bus's own
   * service messages from that address stay (sendService).
   */
  destroyEndpoint (ept: number | Endpoint): boolean {
    const addr = typeof ept === 'number' ? ept : ept.addr
    if (!this.endpoints.destroy(ept)) return false
    this.cancelWaiting(addr)
    return true
  }

  private cancelWaiting (src: number): void {
    if (this.waiters === 0) return
    let err: RpmsgError | undefined
    for (const [queue, list] of [...this.queues]) {
      if (!list.some((w) => w.src === src && !w.service)) continue
      err ??= new RpmsgError('ERR_RPMSG_DESTROYED', `rpmsg endpoint ${src} was destroyed with sends still waiting for a buffer`)
      const kept = list.filter((w) => {
        if (w.src !== src || w.service) return true
        clearTimeout(w.timer)
        w.reject(err!)
        return false
      })
      this.waiters -= list.length - kept.length
      if (kept.length > 0) this.queues.set(queue, kept)
      else this.queues.delete(queue)
    }
    if (err !== undefined) this.pump()
  }

  /** Sends now or throws ERR_RPMSG_NO_BUFFER (also while earlier send()s wait, to keep order); ERR_RPMSG_SIZE if too large. */
  trySend (src: number, dst: number, payload: Uint8Array): void {
    this.check(src, dst, payload)
    if (this.waiters > 0 || !this.postMessage(src, dst, payload)) {
      this.counters.noBuffer++
      throw new RpmsgError('ERR_RPMSG_NO_BUFFER', `no free rpmsg buffer to send ${src} -> ${dst}`)
    }
    this.counters.sent++
    this.endpoints.countSent(src)
    this.sendLatency.observe(0)
  }

  /** Resolves once the message is in a buffer the other side can see; ERR_RPMSG_TIMEOUT if none comes in time. */
  async send (src: number, dst: number, payload: Uint8Array, options: SendOptions = {}): Promise<void> {
    await this.sendOrQueue(src, dst, payload, options.timeoutMs ?? RPMSG_SEND_TIMEOUT_MS, options.queue ?? BUS_QUEUE, false)
  }

  /**
   * A name or address service message the bus sends on its own behalf (NS
   * CREATE/DESTROY, AS ASSIGN/FREE) from a channel's address, as
   * virtio_rpmsg_bus.c's announce_create/destroy send from rpdev->ept. It
   * waits for a buffer like any send, but destroying that endpoint does not
   * cancel it: an NS DESTROY is queued just before its channel's endpoint
   * goes, and must still reach the other side, or the channel stays there
   * for good. A failure is a fault (`code`), never thrown.
   */
  protected sendService (src: number, dst: number, payload: Uint8Array, code: ErrorCode): void {
    this.sendOrQueue(src, dst, payload, RPMSG_SEND_TIMEOUT_MS, BUS_QUEUE, true).catch((err: unknown) => { this.fault(err, code) })
  }

  private async sendOrQueue (src: number, dst: number, payload: Uint8Array, timeoutMs: number, queue: object, service: boolean): Promise<void> {
    this.check(src, dst, payload)
    if (this.waiters === 0 && this.postMessage(src, dst, payload)) {
      this.counters.sent++
      this.endpoints.countSent(src)
      this.sendLatency.observe(0)
      return
    }
    await new Promise<void>((resolve, reject) => {
      const w: Waiter = { src, dst, payload, queue, service, resolve, reject, timer: undefined, since: performance.now() }
      w.timer = setTimeout(() => {
        const list = this.queues.get(w.queue)
        const at = list?.indexOf(w) ?? -1
        if (at < 0) return
        list!.splice(at, 1)
        if (list!.length === 0) this.queues.delete(w.queue)
        this.waiters--
        this.counters.timeouts++
        reject(new RpmsgError('ERR_RPMSG_TIMEOUT', `no rpmsg buffer came free within ${timeoutMs} ms to send ${src} -> ${dst}`))
        this.pump()
      }, timeoutMs)
      const list = this.queues.get(w.queue)
      if (list !== undefined) list.push(w)
      else this.queues.set(w.queue, [w])
      this.waiters++
      this.pump()
    })
  }

  /** Fails every send still waiting. */
  protected abortWaiters (err: Error): void {
    const lists = [...this.queues.values()]
    this.queues.clear()
    this.waiters = 0
    for (const list of lists) {
      for (const w of list) {
        clearTimeout(w.timer)
        w.reject(err)
      }
    }
  }

  /**
   * The queue the bus sends on has just become usable (the virtio side at
   * DRIVER_OK): whatever arm() promised before is void, so post what waits
   * and arm afresh.
   */
  protected queueReady (): void {
    this.armed = false
    this.pump()
  }

  /** Buffers may have come back: post what waits, round-robin between queues; arm the callbacks while anything still waits. */
  protected pump (): void {
    for (;;) {
      let posted = true
      while (this.waiters > 0 && posted) posted = this.postNext()
      if (this.waiters === 0) {
        if (this.armed) {
          this.armed = false
          this.disarm()
        }
        return
      }
      if (this.armed) return
      this.armed = true
      if (this.arm()) return
    }
  }

  /**
   * Posts the head of the queue whose turn it is, and sends that queue to
   * the back; false if no buffer is free. A post that throws fails its send,
   * which leaves the queue and is never delivered later: pump() runs from
   * timers and queue callbacks, where a throw would reach nobody.
   */
  private postNext (): boolean {
    const [queue, list] = this.queues.entries().next().value as [object, Waiter[]]
    const w = list[0]!
    let failed: SoclinkError | null = null
    try {
      if (!this.postMessage(w.src, w.dst, w.payload)) return false
    } catch (err) {
      failed = asSoclinkError(err, 'ERR_INTERNAL')
    }
    list.shift()
    this.queues.delete(queue)
    if (list.length > 0) this.queues.set(queue, list)
    this.waiters--
    clearTimeout(w.timer)
    if (failed !== null) {
      w.reject(failed)
      return true
    }
    this.counters.sent++
    this.endpoints.countSent(w.src)
    this.sendLatency.observe((performance.now() - w.since) / 1000)
    w.resolve()
    return true
  }

  /** One received buffer's used bytes: parse, check, dispatch; never throws. */
  protected receive (bytes: Uint8Array): void {
    let msg
    try {
      msg = decodeMessage(bytes, this.bufSize)
    } catch (err) {
      this.counters.malformed++
      this.fault(err, 'ERR_RPMSG_FORMAT')
      return
    }
    this.counters.received++
    this.endpoints.dispatch(msg.src, msg.dst, msg.payload)
  }

  protected fault (err: unknown, code: ErrorCode): void {
    this.lastError = asSoclinkError(err, code)
    this.emit('fault', this.lastError)
  }

  /** Drops every channel (emitting channel-destroyed) and endpoint. */
  protected dropChannels (): void {
    for (const ch of [...this.channels.values()]) {
      this.channels.delete(ch.name)
      this.destroyEndpoint(ch.src)
      this.emit('channel-destroyed', ch)
      ch.emit('destroyed')
    }
  }

  private check (src: number, dst: number, payload: Uint8Array): void {
    if (dst === RPMSG_ADDR_ANY) throw new RpmsgError('ERR_RPMSG_ADDR', `rpmsg message from ${src} has no destination`)
    checkMessage(src, dst, payload.length, this.bufSize)
  }

  private postMessage (src: number, dst: number, payload: Uint8Array): boolean {
    return this.post(putMessageHeader(this.header, src, dst, payload.length), payload)
  }

  /**
   * Writes one message into a free buffer, the 16-byte header and then the
   * payload straight into buffer memory (both copied before it returns),
   * and tells the other side; false if there is no free buffer.
   */
  protected abstract post (header: Uint8Array, payload: Uint8Array): boolean
  /**
   * Asks to hear when buffers come back; false if some already have. Never
   * throws (it runs from timers): a bus whose queue is not there yet says
   * true and calls queueReady() once it is.
   */
  protected abstract arm (): boolean
  protected abstract disarm (): void
}
