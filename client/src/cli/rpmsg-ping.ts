// The rpmsg ping application's round trips (soclink rpmsg ping): one ping
// at a time, each waiting for its own echo, printed and summed up as ping(8)
// does; and the waits it needs, which a Ctrl-C ends early and which hold no
// listener or timer between pings.

import { setTimeout as sleep } from 'node:timers/promises'
import { InvalidArgumentError } from 'commander'
import { ApiError } from '../errors.js'
import type { RpmsgEndpoint, RpmsgMessage } from '../rpmsg-client.js'
import { asNumber } from './args.js'
import { pingPayload, pingReplyText, pingSummaryText, RttStats, rttSummary } from './rpmsg-views.js'

/** ping(8)'s default payload. */
export const DEFAULT_PING_SIZE = 56
/** Room for the sequence number that tells one ping's reply from another's. */
export const MIN_PING_SIZE = 4

export const asPingSize = (text: string): number => {
  const n = asNumber('size')(text)
  if (n < MIN_PING_SIZE) throw new InvalidArgumentError(`size must be at least ${MIN_PING_SIZE} bytes (room for the sequence number)`)
  return n
}

export type Outcome<T> = { value: T } | { timeout: true } | { stopped: true }

/**
 * A command's stop (Ctrl-C, SIGTERM) as an AbortSignal, and waits that end
 * early once it fires. A wait adds one abort listener and one timer and
 * removes both when it ends, so a ping that runs for weeks holds none
 * between pings.
 */
export class Stop {
  private readonly controller = new AbortController()

  get signal (): AbortSignal { return this.controller.signal }
  get stopped (): boolean { return this.controller.signal.aborted }
  stop (): void { this.controller.abort() }

  /** `p`, unless `ms` pass first or the command is stopped. */
  async race<T> (p: Promise<T>, ms: number): Promise<Outcome<T>> {
    if (this.stopped) return { stopped: true }
    let timer: NodeJS.Timeout | undefined
    let onStop = (): void => {}
    const ended = new Promise<Outcome<T>>((resolve) => {
      timer = setTimeout(() => { resolve({ timeout: true }) }, ms)
      onStop = () => { resolve({ stopped: true }) }
      this.signal.addEventListener('abort', onStop, { once: true })
    })
    try {
      return await Promise.race([p.then((value) => ({ value })), ended])
    } finally {
      clearTimeout(timer)
      this.signal.removeEventListener('abort', onStop)
    }
  }

  /** Waits `ms`; false if the command is stopped first. */
  async sleep (ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.signal })
      return true
    } catch (err) {
      if (this.stopped) return false
      throw err
    }
  }
}

/**
 * An endpoint's messages one at a time, for waits that may give up: a wait
 * that times out leaves its read under way for the next wait, which adds
 * nothing to it, so however many pings go unanswered one read is pending.
 */
export class Inbox<T> {
  private reading = false
  private result: IteratorResult<T> | null = null
  private wake = (): void => {}

  constructor (private readonly messages: AsyncIterator<T>) {}

  /** Resolves once a message (or the end) is there to take(). */
  async arrived (): Promise<void> {
    if (this.result !== null) return
    if (!this.reading) {
      this.reading = true
      void this.messages.next().then((r) => { this.result = r; this.reading = false; this.wake() })
    }
    await new Promise<void>((resolve) => { this.wake = resolve })
  }

  /** The message (or the end) that arrived, once; null if none has. */
  take (): IteratorResult<T> | null {
    const r = this.result
    this.result = null
    return r
  }
}

/** Milliseconds to the microsecond, for JSON. */
const micros = (ms: number): number => Math.round(ms * 1000) / 1000

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)

export interface PingRun {
  ept: RpmsgEndpoint
  dst: number
  /** The command's stop: ends the run with its summary. */
  stop: Stop
  /** Prints one stream line: `record` under --json, else `human()`. */
  emit: (record: object, human: () => string) => void
  /** The error for an endpoint or connection that ended under the run. */
  ended: () => ApiError
  /**
   * A claimed channel's endpoint goes with the channel (the other side
   * restarted): claims it again once it is announced again, and the run
   * goes on from the new endpoint; null if the command was stopped first.
   */
  reclaim?: () => Promise<{ ept: RpmsgEndpoint, dst: number } | null>
}

export interface PingOptions { count?: number, size: number, interval: number, timeout: number }

/** Pings until --count, Ctrl-C or the endpoint ends; prints each reply and the summary; ERR_NO_REPLY if none came back. */
export async function pingRounds (run: PingRun, o: PingOptions): Promise<void> {
  const { stop, emit, ended, reclaim } = run
  let { ept, dst } = run
  let inbox = new Inbox(ept[Symbol.asyncIterator]())
  /** A claimed channel went: claim it again (false: stopped first). */
  const again = async (why: string): Promise<boolean> => {
    emit({ type: 'detached', addr: ept.addr, reason: why }, () => `channel ${ept.name} detached: ${why}; claiming it again once it is announced`)
    const next = await reclaim!()
    if (next === null) return false
    ;({ ept, dst } = next)
    inbox = new Inbox(ept[Symbol.asyncIterator]())
    emit({ type: 'claimed', addr: ept.addr, dst }, () => `channel ${ept.name} claimed again: endpoint ${ept.addr}, remote ${dst}`)
    return true
  }
  /** The echo of `expected`; late replies to earlier pings and stray messages are skipped. */
  const reply = async (expected: Uint8Array, deadline: number): Promise<RpmsgMessage | 'timeout' | 'stopped' | 'closed'> => {
    for (;;) {
      const r = await stop.race(inbox.arrived(), Math.max(0, deadline - performance.now()))
      if ('stopped' in r) return 'stopped'
      if ('timeout' in r) return 'timeout'
      const m = inbox.take()
      if (m === null) continue
      if (m.done === true) return 'closed'
      if (sameBytes(m.value.payload, expected)) return m.value
    }
  }

  const rtts = new RttStats()
  let sent = 0
  const start = performance.now()
  for (let seq = 1; o.count === undefined || seq <= o.count; seq++) {
    if (seq > 1 && o.interval > 0 && !await stop.sleep(o.interval)) break
    const payload = pingPayload(seq, o.size)
    const t0 = performance.now()
    sent++
    try {
      await ept.send(dst, payload, { timeoutMs: o.timeout })
    } catch (err) {
      if (stop.stopped) { sent--; break }
      if (reclaim !== undefined && err instanceof ApiError && (err.code === 'ERR_RPMSG_DESTROYED' || err.code === 'ERR_RPMSG_ADDR')) {
        if (!await again(err.message)) break
        continue
      }
      if (!(err instanceof ApiError) || err.code === 'ERR_CLOSED' || err.code === 'ERR_RPMSG_DESTROYED') throw err
      // Like ping(8) on a send error: say so, count the ping as lost, go on (the bus may come back).
      emit({ type: 'error', seq, code: err.code, message: err.message }, () => `seq=${seq} not sent: ${err.code}: ${err.message}`)
      continue
    }
    const r = await reply(payload, t0 + o.timeout)
    if (r === 'stopped') break
    if (r === 'closed') {
      const err = ended()
      if (reclaim === undefined || err.code !== 'ERR_RPMSG_DESTROYED') throw err
      if (!await again(err.message)) break
      continue
    }
    if (r === 'timeout') {
      emit({ type: 'timeout', seq }, () => `no reply for seq=${seq} within ${o.timeout} ms`)
      continue
    }
    const rtt = performance.now() - t0
    rtts.add(rtt)
    emit({ type: 'reply', seq, src: r.src, size: r.payload.length, rttMs: micros(rtt) }, () => pingReplyText(r.src, r.payload.length, seq, rtt))
  }
  const summary = rttSummary(rtts, sent)
  const elapsed = performance.now() - start
  const rttMs = summary.rttMs === null ? null : { min: micros(summary.rttMs.min), avg: micros(summary.rttMs.avg), max: micros(summary.rttMs.max), mdev: micros(summary.rttMs.mdev) }
  emit({ type: 'summary', dst, ...summary, rttMs, timeMs: Math.round(elapsed) }, () => pingSummaryText(dst, summary, elapsed))
  if (sent > 0 && summary.received === 0) throw new ApiError('ERR_NO_REPLY', `no reply from rpmsg address ${dst} to ${sent} ping${sent === 1 ? '' : 's'}`, 0)
}
