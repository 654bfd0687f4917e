// ntb_perf for soclink (after drivers/ntb/test/ntb_perf.c): an NTB client
// that runs beside the virtio/vhost transport on each NTB host, on the same
// NtbDevice. It is both halves of ntb_perf at once:
//   - the responder: once the link is up, memory window PERF_MW (1) is
//     translated onto a perf buffer in this host's memory, and a ring of
//     the request bit is answered by ringing the answer bit back;
//   - the initiator, run(): writes `bytes` into the peer's MW 1 in
//     `chunk`-sized writes (wrapping round the window, as ntb_perf wraps
//     its chunks round the peer's outbuf), rings the request bit and waits
//     for the answer. The link's ordering (a doorbell is never seen before
//     the writes before it) makes the answer mean that every write has
//     landed in the peer's memory: MB/s = bytes / elapsed (10^6 bytes, as
//     ntb_perf's MBytes/s). Then `pings` ring-and-wait round trips give the
//     doorbell latency.
//
// Where the perf buffer and the doorbell bits go: ntb-perf-layout.ts.
//
// Doorbells carry no sequence: an answer is taken for the oldest request
// still waiting. A ping that times out leaves its answer owed; the run ends
// there, and the next run first waits (up to one timeout) for the owed
// answers and drops them (counters.lateAnswers) before it rings, so a late
// answer never ends a later ping early. What is still owed after that wait
// is taken as lost (a responder that was not ready drops requests); an
// answer later still than that would be taken for the next request.
//
// Writes to the peer's window go out in flights of at most FLIGHT_BYTES,
// each closed by a round trip, so no more than a flight waits unacknowledged
// on the link (its replay buffer is bounded) while rpmsg keeps running.

import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { NtbDevice } from '../hw/ntb/ntb.js'
import { ntbLinkIsUp, ntbSetCtx } from '../hw/ntb/ntb-ctx.js'
import { BusyError, OutOfRangeError, SoclinkError, TimeoutError, UnavailableError } from '../errors.js'
import { MAX_VQS } from './ntb-spads.js'
import { perfBits, perfBuffer, type PerfBits, type PerfBuffer } from './ntb-perf-layout.js'

/** The memory window ntb_perf translates and writes (MW2 in the board's terms). */
export const PERF_MW = 1
/** Bytes written between two round trips at most. */
export const FLIGHT_BYTES = 4 << 20
/** How long a request waits for its answer (ms). */
export const PERF_TIMEOUT_MS = 5000
export const DEFAULT_BYTES = 16 << 20
export const DEFAULT_CHUNK = 64 << 10
export const DEFAULT_PINGS = 1000

/** stopped; down: no link; mapping: MW1's translation under way; ready: answering; unavailable: cannot run here (see reason). */
export type NtbPerfState = 'stopped' | 'down' | 'mapping' | 'ready' | 'unavailable'

export interface NtbPerfOptions {
  ntb: NtbDevice
  memorySize: number
  mw0Base: number
  logger: Logger
  timeoutMs?: number
  /** Milliseconds, monotonic; default performance.now. */
  now?: () => number
}

export interface NtbPerfRequest { bytes?: number, chunk?: number, pings?: number }

export interface NtbPerfResult {
  bytes: number
  chunk: number
  seconds: number
  /** 10^6 bytes per second. */
  mbps: number
  pings: number
  /** Doorbell round trips, microseconds. */
  rtt: { min: number, avg: number, p99: number }
}

/** strayAnswers: answers while nothing was asked or owed; lateAnswers: answers to requests whose ping had timed out, dropped. */
export interface NtbPerfCounters { answered: number, strayAnswers: number, lateAnswers: number, runs: number, failedRuns: number }

/** The run going on: bytes written of bytes, then round trips done of pings (a progress line polls it). */
export interface NtbPerfRunView { bytes: number, written: number, pings: number, pinged: number }

export interface NtbPerfView {
  state: NtbPerfState
  reason: string
  widx: number
  bits: PerfBits | null
  buffer: PerfBuffer | null
  running: boolean
  /** null when no run is going. */
  run: NtbPerfRunView | null
  lastError: string
  counters: NtbPerfCounters
}

export interface NtbPerfEvents { state: [state: NtbPerfState] }

interface Waiter { resolve: () => void, reject: (err: Error) => void }

export class NtbPerf extends EventEmitter<NtbPerfEvents> {
  readonly counters: NtbPerfCounters = { answered: 0, strayAnswers: 0, lateAnswers: 0, runs: 0, failedRuns: 0 }
  private current: NtbPerfState = 'stopped'
  private reason = ''
  private lastError = ''
  private bits: PerfBits | null = null
  private buffer: PerfBuffer | null = null
  private running = false
  private progress: NtbPerfRunView | null = null
  private waiter: Waiter | null = null
  /** Requests whose ping timed out: their answers may still come, and are dropped when they do. */
  private owed = 0
  /** Set while a run waits for the owed answers (drain()). */
  private drained: (() => void) | null = null
  /** Bumped on every link change: a translation finished for an older link is not used. */
  private generation = 0
  private translated = false
  private readonly unlisten: Array<() => void> = []
  private readonly ntb: NtbDevice
  private readonly opts: NtbPerfOptions
  private readonly timeoutMs: number
  private readonly now: () => number

  constructor (opts: NtbPerfOptions) {
    super()
    this.opts = opts
    this.ntb = opts.ntb
    this.timeoutMs = opts.timeoutMs ?? PERF_TIMEOUT_MS
    this.now = opts.now ?? (() => performance.now())
  }

  get state (): NtbPerfState { return this.current }

  /** Listens to the device (ntb_set_ctx beside the transport's); the transport enables the link. */
  start (): void {
    if (this.current !== 'stopped') return
    this.unlisten.push(ntbSetCtx(this.ntb, { linkEvent: () => { this.linkEvent() }, dbEvent: (vector) => { this.dbEvent(vector) } }))
    this.setState('down')
    this.linkEvent()
  }

  async stop (): Promise<void> {
    if (this.current === 'stopped') return
    for (const off of this.unlisten.splice(0)) off()
    this.generation++
    this.fail(new UnavailableError('ntb_perf stopped'))
    this.setState('stopped')
    await this.untranslate()
  }

  view (): NtbPerfView {
    return {
      state: this.current,
      reason: this.reason,
      widx: PERF_MW,
      bits: this.bits,
      buffer: this.buffer,
      running: this.running,
      run: this.progress === null ? null : { ...this.progress },
      lastError: this.lastError,
      counters: { ...this.counters }
    }
  }

  /** The doorbell bits ntb_perf owns, once known. */
  get ownedBits (): PerfBits | null { return this.bits }

  /** One bandwidth and latency run toward the peer's responder. */
  async run (req: NtbPerfRequest = {}): Promise<NtbPerfResult> {
    if (this.running) throw new BusyError('an ntb_perf run is going on this host; wait for it to end')
    const bytes = req.bytes ?? DEFAULT_BYTES
    const chunk = req.chunk ?? DEFAULT_CHUNK
    const pings = req.pings ?? DEFAULT_PINGS
    for (const [name, v] of [['bytes', bytes], ['chunk', chunk], ['pings', pings]] as const) {
      if (!Number.isSafeInteger(v) || v < 1) throw new OutOfRangeError(`ntb_perf: ${name} ${v} must be a whole number from 1`)
    }
    this.requireReady()
    const peer = this.ntb.peerMwGetAddr(PERF_MW)
    if (chunk > peer.size) throw new OutOfRangeError(`ntb_perf: chunk ${chunk} is larger than the peer's memory window ${PERF_MW} (${peer.size} bytes)`)
    this.running = true
    this.counters.runs++
    const progress: NtbPerfRunView = { bytes, written: 0, pings, pinged: 0 }
    this.progress = progress
    try {
      await this.drain()
      await this.ping(() => new UnavailableError(`the peer answered no ntb_perf request in ${this.timeoutMs} ms: no responder there ` +
        '(a soclink NTB host whose link is up, with a board of 2 or more memory windows)'))
      const pattern = new Uint8Array(chunk)
      for (let i = 0; i < chunk; i++) pattern[i] = (i * 7 + 0x5a) & 0xff
      const start = this.now()
      let written = 0
      let at = 0
      let flight = 0
      while (written < bytes) {
        const n = Math.min(chunk, bytes - written, peer.size - at)
        peer.memory.write(at, n === chunk ? pattern : pattern.subarray(0, n))
        written += n
        progress.written = written
        flight += n
        at = (at + n) % peer.size
        if (flight >= FLIGHT_BYTES || written === bytes) {
          await this.ping(() => new TimeoutError(`ntb_perf: the peer did not answer within ${this.timeoutMs} ms after ${written} bytes`))
          flight = 0
        }
      }
      const seconds = (this.now() - start) / 1000
      const rtts: number[] = []
      for (let i = 0; i < pings; i++) {
        const t0 = this.now()
        await this.ping(() => new TimeoutError(`ntb_perf: ping ${i + 1} of ${pings} got no answer within ${this.timeoutMs} ms`))
        rtts.push((this.now() - t0) * 1000)
        progress.pinged++
      }
      return { bytes, chunk, seconds, mbps: seconds > 0 ? bytes / seconds / 1e6 : 0, pings, rtt: rttStats(rtts) }
    } catch (err) {
      this.counters.failedRuns++
      this.lastError = err instanceof Error ? err.message : String(err)
      throw err
    } finally {
      this.running = false
      this.progress = null
    }
  }

  private requireReady (): void {
    if (this.current === 'ready') return
    if (this.current === 'unavailable') throw new UnavailableError(`ntb_perf is unavailable on this host: ${this.reason}`)
    if (this.current === 'mapping') throw new UnavailableError('ntb_perf is still translating its memory window; try again')
    throw new UnavailableError(`ntb_perf: the NTB link is ${this.current === 'stopped' ? 'gone (perf stopped)' : 'down'}`)
  }

  // ---------------------------------------------------------- responder

  private linkEvent (): void {
    if (this.current === 'stopped') return
    if (!ntbLinkIsUp(this.ntb)) {
      if (this.current === 'down' || this.current === 'unavailable') return
      this.generation++
      // Requests of the old link are answered on it or not at all.
      this.owed = 0
      this.fail(new UnavailableError('ntb_perf: the NTB link went down'))
      this.setState('down')
      void this.untranslate()
      return
    }
    if (this.current !== 'down' && this.current !== 'unavailable') return
    void this.translate(++this.generation)
  }

  /** Works out the bits and the buffer, then mw_set_trans(PERF_MW) onto it. */
  private async translate (gen: number): Promise<void> {
    const ntb = this.ntb
    let buffer: PerfBuffer
    try {
      if (ntb.mwCount() <= PERF_MW) throw new UnavailableError(`the board offers ${ntb.mwCount()} memory window(s); ntb_perf needs MW ${PERF_MW} (a board with --ntb-mws 2 or more)`)
      const bits = perfBits(ntb.dbValidMask())
      if (bits === null) throw new UnavailableError(`doorbell valid mask 0x${ntb.dbValidMask().toString(16)} leaves no two bits between the queues' (0..${MAX_VQS - 1}) and CONFIG_DB`)
      const mw1 = ntb.mwGetAlign(PERF_MW)
      buffer = perfBuffer({ memorySize: this.opts.memorySize, mw0Base: this.opts.mw0Base, mw0Max: ntb.mwGetAlign(0).sizeMax, mw1Align: mw1.addrAlign, mw1Max: mw1.sizeMax })
      this.bits = bits
      this.buffer = buffer
    } catch (err) {
      // Nothing to try until the next link up: the board or the settings leave no room.
      this.reason = err instanceof Error ? err.message : String(err)
      this.setState('unavailable')
      this.opts.logger.info({ ntb: ntb.name, reason: this.reason }, 'ntb_perf unavailable')
      return
    }
    this.setState('mapping')
    try {
      await ntb.mwSetTrans(PERF_MW, buffer.addr, buffer.size)
      this.translated = true
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      this.lastError = message
      if (gen === this.generation && this.current === 'mapping') this.setState('down')
      this.opts.logger.warn({ ntb: ntb.name, err: message, code: err instanceof SoclinkError ? err.code : undefined }, 'ntb_perf: mw_set_trans failed; trying again on the next link up')
      return
    }
    if (gen !== this.generation) {
      // The link went down (or perf stopped) meanwhile: the translation is stale.
      if (this.current === 'down' || this.current === 'stopped') await this.untranslate()
      return
    }
    this.reason = ''
    this.setState('ready')
    this.opts.logger.info({ ntb: ntb.name, buffer, bits: this.bits }, 'ntb_perf ready: MW 1 translated onto the perf buffer')
  }

  private async untranslate (): Promise<void> {
    if (!this.translated) return
    this.translated = false
    await this.ntb.mwClearTrans(PERF_MW).catch((err: unknown) => {
      // The window stays translated onto the perf buffer, which nothing else uses; the next link up translates it again.
      this.lastError = err instanceof Error ? err.message : String(err)
    })
  }

  /** A request rings: answer it (while ready); an answer: wakes the run waiting for it. */
  private dbEvent (vector: number): void {
    const bits = this.bits
    if (bits === null || this.current === 'stopped') return
    let mask = 0
    try {
      mask = this.ntb.dbVectorMask(vector)
    } catch {
      // No such vector on this NTB: none of ntb_perf's bits rang (the transport reports the vector).
      return
    }
    const request = 2 ** bits.request
    const answer = 2 ** bits.answer
    // The transport's handler may have cleared them already (it takes every bit of a vector).
    if ((mask & (request | answer)) !== 0) this.attempt(() => { this.ntb.dbClear(mask & (request | answer)) })
    if ((mask & request) !== 0 && this.current === 'ready') {
      this.attempt(() => {
        this.ntb.peerDbSet(answer)
        this.counters.answered++
      })
    }
    if ((mask & answer) !== 0) this.answer()
  }

  /** The oldest request's answer: an owed one is dropped, else it wakes the ping waiting. */
  private answer (): void {
    if (this.owed > 0) {
      this.owed--
      this.counters.lateAnswers++
      if (this.owed === 0) this.drained?.()
      return
    }
    const w = this.waiter
    this.waiter = null
    if (w === null) this.counters.strayAnswers++
    else w.resolve()
  }

  /** Waits for the owed answers, up to timeoutMs (or until perf stops or the link goes down); what is still owed then is taken as lost. */
  private async drain (): Promise<void> {
    if (this.owed === 0) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.drained?.() }, this.timeoutMs)
      this.drained = () => {
        clearTimeout(timer)
        this.drained = null
        resolve()
      }
    })
    this.owed = 0
  }

  /** Rings the request bit; resolves on the answer, rejects with timeout() after timeoutMs. */
  private async ping (timeout: () => Error): Promise<void> {
    this.requireReady()
    const bits = this.bits!
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null
        this.owed++
        reject(timeout())
      }, this.timeoutMs)
      this.waiter = {
        resolve: () => { clearTimeout(timer); resolve() },
        reject: (err) => { clearTimeout(timer); reject(err) }
      }
      try {
        this.ntb.peerDbSet(2 ** bits.request)
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)))
      }
    })
  }

  private fail (err: Error): void {
    const w = this.waiter
    this.waiter = null
    w?.reject(err)
    // A run waiting for owed answers goes on to ping, which says why it cannot.
    this.drained?.()
  }

  private attempt (fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err)
    }
  }

  private setState (s: NtbPerfState): void {
    if (this.current === s) return
    this.current = s
    this.emit('state', s)
  }
}

/** min, avg and p99 (nearest rank) of round trips. */
export function rttStats (values: number[]): { min: number, avg: number, p99: number } {
  if (values.length === 0) return { min: 0, avg: 0, p99: 0 }
  const sorted = [...values].sort((a, b) => a - b)
  const sum = sorted.reduce((a, b) => a + b, 0)
  return { min: sorted[0]!, avg: sum / sorted.length, p99: sorted[Math.ceil(0.99 * sorted.length) - 1]! }
}
