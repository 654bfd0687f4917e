// The life both NTB transports share (the RFC's drivers/ntb/ntb_virtio.c
// and ntb_vhost.c are built alike): probe listens to the NTB (ntb_set_ctx)
// and enables its link; a link event starts a session or ends it; link
// work runs every NTB_LINK_DOWN_TIMEOUT ms until the session's handshake
// is done (linkStep, each side's own); a slow timer stands in for a lost
// doorbell; CONFIG_DB and the fallback look check that both TYPEs are still
// in place, and a session whose peer side went away starts over; errors
// are kept and logged once. ntb-virtio.ts and ntb-vhost.ts hold what each
// side does inside this.

import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { NtbDevice } from '../hw/ntb/ntb.js'
import { ntbLinkIsUp, ntbSetCtx } from '../hw/ntb/ntb-ctx.js'
import { SoclinkError } from '../errors.js'
import { NtbDoorbells } from './ntb-doorbells.js'
import { FALLBACK_POLL_MS, NTB_LINK_DOWN_TIMEOUT_MS, typesInPlace } from './ntb-spads.js'

/**
 * stopped: not started; down: no link; waiting: link work until the peer
 * side's TYPE; configuring: the virtio side setting up MW0; up: a session.
 */
export type NtbLinkState = 'stopped' | 'down' | 'waiting' | 'configuring' | 'up'

/** What both sides count; polls: fallback looks, which only read unless something is owed. */
export interface NtbLinkCounters { sessions: number, doorbells: number, doorbellErrors: number, polls: number }

export interface NtbLinkClientOptions {
  ntb: NtbDevice
  logger: Logger
  /** Link work retry period (ms); default NTB_LINK_DOWN_TIMEOUT_MS. */
  retryMs?: number
  /** Fallback look (ms); default FALLBACK_POLL_MS. */
  pollMs?: number
}

/** Which side this is: its TYPE, the peer side's, and names for logs. */
interface Side { own: number, peer: number, name: string, peerName: string }

export abstract class NtbLinkClient<E extends Record<keyof E, unknown[]>> extends EventEmitter<E> {
  readonly ntb: NtbDevice
  abstract readonly counters: NtbLinkCounters
  state: NtbLinkState = 'stopped'
  lastError: SoclinkError | null = null
  protected readonly doorbells: NtbDoorbells
  protected readonly logger: Logger
  private retry: NodeJS.Timeout | null = null
  private poll: NodeJS.Timeout | null = null
  private readonly unlisten: Array<() => void> = []
  private readonly retryMs: number
  private readonly pollMs: number

  constructor (opts: NtbLinkClientOptions, private readonly side: Side) {
    super()
    this.ntb = opts.ntb
    this.logger = opts.logger
    this.retryMs = opts.retryMs ?? NTB_LINK_DOWN_TIMEOUT_MS
    this.pollMs = opts.pollMs ?? FALLBACK_POLL_MS
    this.doorbells = new NtbDoorbells(opts.ntb, (err, what) => {
      this.counters.doorbellErrors++
      this.note(err, what)
    })
  }

  /** Probe: listen to the NTB (ntb_set_ctx) and enable its link. */
  async start (): Promise<void> {
    if (this.state !== 'stopped') return
    this.state = 'down'
    this.unlisten.push(ntbSetCtx(this.ntb, { linkEvent: () => { this.linkEvent() }, dbEvent: (vector) => { this.dbEvent(vector) } }), ...this.listen())
    await this.ntb.linkEnable()
    this.linkEvent()
  }

  /** Remove: the session ended, the link disabled. */
  async stop (): Promise<void> {
    if (this.state === 'stopped') return
    for (const off of this.unlisten.splice(0)) off()
    this.teardown('transport stopped')
    this.state = 'stopped'
    await this.settled()
    await this.ntb.linkDisable().catch((err: Error) => { this.logger.warn({ err: err.message }, 'link_disable failed') })
  }

  // ---------------------------------------------------------- each side's

  /** Link work's step: true once the handshake is done (or handed on), false to try again later. */
  protected abstract linkStep (): boolean
  /** The session's end (link_cleanup); it calls endSession() first. */
  protected abstract teardown (reason: string): void
  /** CONFIG_DB rang, or the fallback look: the scratchpads are looked at. */
  protected abstract configDoorbell (): void
  /** Doorbell bit k: queue k's notification. */
  protected abstract queueDoorbell (k: number): void
  /** The fallback look at the queues. */
  protected abstract lookAtQueues (): void
  /** More listeners for start(), each returning its way to stop. */
  protected listen (): Array<() => void> { return [] }
  /** What stop() waits for after teardown. */
  protected async settled (): Promise<void> {}

  // ---------------------------------------------------------- link

  protected linkEvent (): void {
    if (this.state === 'stopped') return
    if (!ntbLinkIsUp(this.ntb)) {
      if (this.state !== 'down') this.teardown('link down')
      return
    }
    if (this.state === 'down') this.begin()
  }

  protected begin (): void {
    this.state = 'waiting'
    this.counters.sessions++
    this.linkWork()
  }

  /** The link is still up but the peer side went away: end the session, and wait for it again. */
  protected restart (reason: string): void {
    this.teardown(reason)
    this.begin()
  }

  /** link_work, up to the point where it needs the other side or the NTB to act. */
  protected linkWork (): void {
    this.clearRetry()
    if (this.state !== 'waiting') return
    try {
      if (!this.ntb.linkIsUp()) { this.teardown('link down'); return }
      if (this.linkStep()) return
    } catch (err) {
      this.note(err, 'link work')
    }
    this.retryLater()
  }

  protected retryLater (): void {
    this.retry = setTimeout(() => { this.linkWork() }, this.retryMs)
  }

  /** The session is up: the fallback look starts. */
  protected startPolling (): void {
    this.poll = setInterval(() => { this.slowPoll() }, this.pollMs)
  }

  /** The common start of a teardown: timers stopped, state down; returns the state it had. */
  protected endSession (): NtbLinkState {
    const was = this.state
    this.clearRetry()
    if (this.poll !== null) clearInterval(this.poll)
    this.poll = null
    this.state = 'down'
    return was
  }

  /** Whether both TYPEs are still in place: the peer side's in ours, ours in its. */
  protected peerCheck (): void {
    if (this.state === 'up' && !typesInPlace(this.ntb, this.side.own, this.side.peer)) this.restart(`the ${this.side.peerName} side's TYPE went away`)
  }

  /** The fallback for a lost doorbell. */
  private slowPoll (): void {
    this.counters.polls++
    this.linkEvent()
    this.configDoorbell()
    this.lookAtQueues()
  }

  // ---------------------------------------------------------- doorbells

  /** db_event: bit k is vq k's notification, CONFIG_DB the scratchpads. */
  private dbEvent (vector: number): void {
    if (this.state === 'stopped') return
    this.doorbells.handle(vector, {
      rang: () => { this.counters.doorbells++ },
      config: () => { this.configDoorbell() },
      queue: (k) => { if (this.state === 'up') this.queueDoorbell(k) }
    })
  }

  // ---------------------------------------------------------- helpers

  private clearRetry (): void {
    if (this.retry !== null) clearTimeout(this.retry)
    this.retry = null
  }

  protected attempt (what: string, fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.note(err, what)
    }
  }

  /** Keeps the error; logs it once until another one comes. */
  protected note (err: unknown, what: string): void {
    const error = err instanceof SoclinkError ? err : new SoclinkError('ERR_NTB', err instanceof Error ? err.message : String(err))
    if (this.lastError?.message !== error.message) this.logger.warn({ ntb: this.ntb.name, what, code: error.code, err: error.message }, this.side.name)
    this.lastError = error
  }
}
