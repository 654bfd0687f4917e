// What the virtio-side and the vhost-side rpmsg buses share: the endpoint
// table, channels (a name, a local address src and a remote address dst,
// as struct rpmsg_channel_info), receive (rpmsg_recv_single: parse, check
// lengths, dispatch; malformed and unknown-destination messages counted
// and dropped), and send (rpmsg_send_offchannel_raw): trySend fails at once
// with ERR_RPMSG_NO_BUFFER, send waits in FIFO order for a buffer, with the
// queue's callbacks armed only while someone waits, and fails with
// ERR_RPMSG_TIMEOUT after timeoutMs (15 s as in the kernel by default).
// A subclass says how to put one message into a buffer (post), and how to
// be told when buffers come back (arm / disarm).

import { EventEmitter } from 'node:events'
import type { SoclinkError } from '../errors.js'
import { asSoclinkError } from '../virtio/virtio.js'
import { EndpointTable, type Endpoint, type EndpointCallback } from './endpoints.js'
import { RPMSG_ADDR_ANY, RPMSG_BUF_SIZE, RPMSG_HDR_SIZE, RpmsgError, checkMessage, decodeMessage, putMessageHeader } from './wire.js'

export const RPMSG_SEND_TIMEOUT_MS = 15_000

export interface SendOptions {
  /** How long send() waits for a buffer; default RPMSG_SEND_TIMEOUT_MS. */
  timeoutMs?: number
}

export interface RpmsgChannelEvents {
  message: [payload: Uint8Array, src: number]
  destroyed: []
}

/** A named channel: messages from `src` (local) to `dst` (remote; RPMSG_ADDR_ANY until known). */
export class RpmsgChannel extends EventEmitter<RpmsgChannelEvents> {
  /** The other side asked to be told our address (RPMSG_AS_ANNOUNCE). */
  announce = false
  constructor (readonly bus: RpmsgBusCore, readonly name: string, readonly src: number, public dst: number) {
    super()
  }

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
interface Waiter { src: number, dst: number, payload: Uint8Array, service: boolean, resolve: () => void, reject: (err: Error) => void, timer: NodeJS.Timeout | undefined }

export abstract class RpmsgBusCore extends EventEmitter<RpmsgBusEvents> {
  readonly endpoints = new EndpointTable()
  readonly channels = new Map<string, RpmsgChannel>()
  readonly counters: RpmsgCounters = { sent: 0, received: 0, malformed: 0, serviceErrors: 0, noBuffer: 0, timeouts: 0 }
  lastError: SoclinkError | null = null
  private waiters: Waiter[] = []
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
  get waiting (): number { return this.waiters.length }

  channel (name: string): RpmsgChannel | undefined { return this.channels.get(name) }

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
    if (!this.waiters.some((w) => w.src === src && !w.service)) return
    const err = new RpmsgError('ERR_RPMSG_DESTROYED', `rpmsg endpoint ${src} was destroyed with sends still waiting for a buffer`)
    this.waiters = this.waiters.filter((w) => {
      if (w.src !== src || w.service) return true
      clearTimeout(w.timer)
      w.reject(err)
      return false
    })
    this.pump()
  }

  /** Sends now or throws ERR_RPMSG_NO_BUFFER (also while earlier send()s wait, to keep order); ERR_RPMSG_SIZE if too large. */
  trySend (src: number, dst: number, payload: Uint8Array): void {
    this.check(src, dst, payload)
    if (this.waiters.length > 0 || !this.postMessage(src, dst, payload)) {
      this.counters.noBuffer++
      throw new RpmsgError('ERR_RPMSG_NO_BUFFER', `no free rpmsg buffer to send ${src} -> ${dst}`)
    }
    this.counters.sent++
    this.endpoints.countSent(src)
  }

  /** Resolves once the message is in a buffer the other side can see; ERR_RPMSG_TIMEOUT if none comes in time. */
  async send (src: number, dst: number, payload: Uint8Array, options: SendOptions = {}): Promise<void> {
    await this.sendOrQueue(src, dst, payload, options.timeoutMs ?? RPMSG_SEND_TIMEOUT_MS, false)
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
  protected sendService (src: number, dst: number, payload: Uint8Array, code: string): void {
    this.sendOrQueue(src, dst, payload, RPMSG_SEND_TIMEOUT_MS, true).catch((err: unknown) => { this.fault(err, code) })
  }

  private async sendOrQueue (src: number, dst: number, payload: Uint8Array, timeoutMs: number, service: boolean): Promise<void> {
    this.check(src, dst, payload)
    if (this.waiters.length === 0 && this.postMessage(src, dst, payload)) {
      this.counters.sent++
      this.endpoints.countSent(src)
      return
    }
    await new Promise<void>((resolve, reject) => {
      const w: Waiter = { src, dst, payload, service, resolve, reject, timer: undefined }
      w.timer = setTimeout(() => {
        const at = this.waiters.indexOf(w)
        if (at < 0) return
        this.waiters.splice(at, 1)
        this.counters.timeouts++
        reject(new RpmsgError('ERR_RPMSG_TIMEOUT', `no rpmsg buffer came free within ${timeoutMs} ms to send ${src} -> ${dst}`))
        this.pump()
      }, timeoutMs)
      this.waiters.push(w)
      this.pump()
    })
  }

  /** Fails every send still waiting. */
  protected abortWaiters (err: Error): void {
    const ws = this.waiters
    this.waiters = []
    for (const w of ws) {
      clearTimeout(w.timer)
      w.reject(err)
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

  /** Buffers may have come back: post what waits, in order; arm the callbacks while anything still waits. */
  protected pump (): void {
    for (;;) {
      while (this.waiters.length > 0) {
        const w = this.waiters[0]!
        const posted = this.postWaiter(w)
        if (posted === false) break
        this.waiters.shift()
        clearTimeout(w.timer)
        if (posted !== true) {
          w.reject(posted)
          continue
        }
        this.counters.sent++
        this.endpoints.countSent(w.src)
        w.resolve()
      }
      if (this.waiters.length === 0) {
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

  protected fault (err: unknown, code: string): void {
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

  /**
   * Posts a waiting send: true if posted, false if no buffer is free, or
   * the error its post threw. pump() runs from timers and queue callbacks,
   * where a throw would reach nobody; the send fails with it instead and
   * leaves the queue, so it is never delivered later.
   */
  private postWaiter (w: Waiter): boolean | SoclinkError {
    try {
      return this.postMessage(w.src, w.dst, w.payload)
    } catch (err) {
      return asSoclinkError(err, 'ERR_INTERNAL')
    }
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
