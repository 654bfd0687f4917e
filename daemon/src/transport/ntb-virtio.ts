// ntb_virtio (HOST2): the virtio side of virtio over an NTB (the RFC's
// drivers/ntb/ntb_virtio.c), written against the NtbDevice of ntb.h.
//
// Link work (RFC ntb_virtio_link_work, every NTB_LINK_DOWN_TIMEOUT ms while
// the link is up): once the vhost side wrote TYPE_VHOST into this host's
// spad 0, read the MW0 size it offers (peer spads 7/8), take that much of
// this host's memory at `base` (clamped to `size`), translate inbound MW 0
// onto it, write its address into peer spads 9/10 and TYPE_VIRTIO into
// peer spad 0, read the ids (1/2) and add a VirtioDevice to the bus (the
// scratchpad and window work is ntb-virtio-link.ts's). Rings sit below
// BUFFER_OFFSET (ntb-virtio-rings.ts), buffers come from a pool over
// [base + BUFFER_OFFSET, base + size); features, status and reset go
// through peer spads 3-6 and 11 and commands in 13/14 (ntb-host-command.ts).
// This file holds the session around them and the config ops; probe and
// remove, link events, the link work's timers and doorbells are the
// life both NTB transports share (ntb-link-client.ts).
//
// Differences from the RFC, on purpose: CONFIG_DB doorbells instead of
// polling (ntb-spads.ts); DEVICE_NEEDS_RESET in the status is acted on
// (remove the driver, reset, probe again); device config is read from the
// vhost host's scratchpads; link down, or the vhost side's TYPE going away,
// removes the device (surprise removal; the RFC leaves it registered) and
// the handshake starts over.

import type { Region } from '../mem/region.js'
import { VirtioDevice, type VirtioConfigOps, type VqSpec, type FindVqsOptions } from '../virtio/virtio.js'
import type { ProbeOutcome, VirtioBus } from '../virtio/bus.js'
import type { Virtqueue, DriverQueue } from '../virtio/virtqueue.js'
import { FirstFitPool, type BufferPool } from '../virtio/buffer-pool.js'
import { VIRTIO_CONFIG_S_NEEDS_RESET } from '../uapi/virtio-config.js'
import { UnavailableError } from '../errors.js'
import { NtbHostCommands } from './ntb-host-command.js'
import { announce, mw0Size } from './ntb-virtio-link.js'
import { BringUpRetry, retriable } from '../hw/bring-up-retry.js'
import { deviceWrote, findVqs } from './ntb-virtio-rings.js'
import { NtbLinkClient, type NtbLinkClientOptions, type NtbLinkCounters, type NtbLinkState } from './ntb-link-client.js'
import {
  BUFFER_OFFSET, COMMAND_TIMEOUT_MS, HostCmd, joinFeatures, peerSpads, readConfigSpads, Spad, splitSpads, TYPE_VHOST, TYPE_VIRTIO, writeConfigSpads
} from './ntb-spads.js'

/** stopped: not started; down: no link; waiting: link work until TYPE_VHOST; configuring: MW0 being set up; up: a device is presented. */
export type NtbVirtioState = NtbLinkState

export interface NtbVirtioOptions extends NtbLinkClientOptions {
  /** This host's system memory: MW0 is carved out of it (the RFC's dma_alloc_coherent). */
  memory: Region
  /** Where MW0 starts in `memory`, a multiple of the window's address alignment. */
  base: number
  /** The most MW0 may take; the vhost side's offer is clamped to it. */
  size: number
  /** The bus the device is added to and removed from. */
  bus: VirtioBus
  commandTimeoutMs?: number
  /** Fallback re-read of a command's status (ms); default 5. */
  commandPollMs?: number
}

export interface NtbVirtioEvents {
  /** A device was presented and probed. */
  device: [dev: VirtioDevice, outcome: ProbeOutcome]
  /** A device was removed (link down, or the vhost side went away). */
  removed: [dev: VirtioDevice, reason: string]
}

/** polls: fallback looks (slowPoll), which only read unless a kick is owed. */
export interface NtbVirtioCounters extends NtbLinkCounters { needsReset: number }

export class NtbVirtio extends NtbLinkClient<NtbVirtioEvents> implements VirtioConfigOps {
  readonly counters: NtbVirtioCounters = { sessions: 0, doorbells: 0, doorbellErrors: 0, needsReset: 0, polls: 0 }
  /** The device of the current session. */
  device: VirtioDevice | null = null
  /** MW0's size in this session (the vhost side's offer, clamped). */
  mwSize: number | null = null
  private pool: FirstFitPool | null = null
  private queues: Array<Virtqueue<unknown>> = []
  /** Bumped whenever a session ends: work of an older session stops. */
  private generation = 0
  /** The last session's removal and translation teardown. */
  private settling: Promise<void> = Promise.resolve()
  private needsResetSeen = false
  /** The session's device probed again after a timeout, with backoff. */
  private readonly probeRetry = new BringUpRetry()
  private readonly commands: NtbHostCommands
  private readonly opts: NtbVirtioOptions

  constructor (opts: NtbVirtioOptions) {
    super(opts, { own: TYPE_VIRTIO, peer: TYPE_VHOST, name: 'NTB virtio', peerName: 'vhost' })
    this.opts = opts
    this.commands = new NtbHostCommands(opts.ntb, {
      timeoutMs: opts.commandTimeoutMs ?? COMMAND_TIMEOUT_MS,
      pollMs: opts.commandPollMs ?? 5,
      ring: () => { this.doorbells.ringConfig() }
    })
  }

  /** Buffers of the current session ([P 12] alloc_buffer/free_buffer). */
  get buffers (): BufferPool | null { return this.pool }

  get vqs (): ReadonlyArray<Virtqueue<unknown>> { return this.queues }

  /** ntb_virtio_probe's listeners beside the NTB's: the vhost side wrote into this host's memory (ntb-virtio-rings.ts deviceWrote). */
  protected override listen (): Array<() => void> {
    return [this.opts.memory.observe((offset, length, origin) => { if (origin !== null && this.state === 'up') deviceWrote(this.queues, offset, length) })]
  }

  /** ntb_virtio_free waits for the device's removal and the translation's teardown. */
  protected override async settled (): Promise<void> { await this.settling }

  // ---------------------------------------------------------- config ops

  getFeatures (): bigint {
    this.requireUp('get_features')
    return joinFeatures(this.ntb.peerSpadRead(Spad.VHOST_FEATURES_LOWER), this.ntb.peerSpadRead(Spad.VHOST_FEATURES_UPPER))
  }

  async finalizeFeatures (features: bigint): Promise<void> {
    this.requireUp('finalize_features')
    const [lower, upper] = splitSpads(features)
    this.ntb.peerSpadWrite(Spad.VIRTIO_FEATURES_LOWER, lower)
    this.ntb.peerSpadWrite(Spad.VIRTIO_FEATURES_UPPER, upper)
    await this.commands.send(HostCmd.FINALIZE_FEATURES, 'FINALIZE_FEATURES')
  }

  getStatus (): number {
    if (this.state !== 'up') return 0
    try {
      return this.ntb.peerSpadRead(Spad.VHOST_DEVICE_STATUS) & 0xff
    } catch {
      return 0
    }
  }

  async setStatus (status: number): Promise<void> {
    // The RFC refuses set_status(0): a reset goes through RESET.
    if (status === 0) { await this.reset(); return }
    this.requireUp('set_status')
    this.ntb.peerSpadWrite(Spad.VHOST_DEVICE_STATUS, status)
    await this.commands.send(HostCmd.SET_STATUS, `SET_STATUS 0x${status.toString(16)}`)
  }

  /** RESET; a device whose link is gone has nothing left to reset. */
  async reset (): Promise<void> {
    if (this.state === 'up') await this.commands.send(HostCmd.RESET, 'RESET')
    this.needsResetSeen = false
    this.queues = []
  }

  /** ntb_virtio_find_vq: ring sizes from peer spads 15+n, rings zeroed in MW0 below BUFFER_OFFSET. */
  async findVqs<T = unknown> (specs: ReadonlyArray<VqSpec<T>>, opts: FindVqsOptions): Promise<Array<DriverQueue<T>>> {
    this.requireUp('find_vqs')
    const gen = this.generation
    const out = findVqs<T>(this.ntb, this.opts.memory, this.opts.base, {
      specs, layout: opts.layout, features: this.device?.features ?? 0n, notify: (i) => { this.kick(gen, i) }
    })
    this.queues = out as Array<Virtqueue<unknown>>
    return out
  }

  async delVqs (): Promise<void> { this.queues = [] }

  getConfig (offset: number, length: number): Uint8Array {
    this.requireUp('get')
    return readConfigSpads(peerSpads(this.ntb), offset, length)
  }

  setConfig (offset: number, bytes: Uint8Array): void {
    this.requireUp('set')
    writeConfigSpads(peerSpads(this.ntb), offset, bytes)
  }

  private requireUp (what: string): void {
    if (this.state !== 'up') throw new UnavailableError(`${what}: no NTB session with a vhost side (${this.state})`)
  }

  // ---------------------------------------------------------- link

  /** ntb_virtio_link_work's step: once the vhost side's TYPE is in spad 0, MW0 is set up (configure). */
  protected linkStep (): boolean {
    if (this.ntb.spadRead(Spad.VIRTIO_TYPE) !== TYPE_VHOST) return false
    this.state = 'configuring'
    void this.configure(this.generation)
    return true
  }

  private async configure (gen: number): Promise<void> {
    try {
      await this.settling
      if (gen !== this.generation) return
      const base = this.opts.base
      const size = mw0Size(this.ntb, base, this.opts.size)
      await this.ntb.mwSetTrans(0, base, size)
      if (gen !== this.generation) {
        await this.ntb.mwClearTrans(0).catch((err: unknown) => { this.note(err, 'mw_clear_trans') })
        return
      }
      const id = announce(this.ntb, base)
      this.pool = new FirstFitPool(this.opts.memory, base + BUFFER_OFFSET, size - BUFFER_OFFSET)
      this.mwSize = size
      const dev = new VirtioDevice(id, this)
      this.device = dev
      this.state = 'up'
      this.lastError = null
      this.startPolling()
      this.logger.info({ ntb: this.ntb.name, base, size, device: id.device, vendor: id.vendor }, 'NTB vhost side is up; adding the virtio device')
      this.probed(dev, await this.opts.bus.addDevice(dev), gen)
    } catch (err) {
      this.note(err, 'configure')
      if (gen !== this.generation || this.state !== 'configuring') return
      this.state = 'waiting'
      this.retryLater()
    }
  }

  /**
   * A probe's outcome; one that failed on a timeout (the vhost host was
   * slow to answer its commands) is tried again with backoff while the
   * session lasts (hw/bring-up-retry.ts).
   */
  private probed (dev: VirtioDevice, outcome: ProbeOutcome, gen: number): void {
    this.emit('device', dev, outcome)
    if (gen !== this.generation || this.device !== dev) return
    if (outcome === 'bound') this.probeRetry.reset()
    dev.retrying = outcome === 'failed' && retriable(dev.lastError)
    if (!dev.retrying) return
    const retryMs = this.probeRetry.schedule(() => {
      if (gen === this.generation && this.device === dev) void this.opts.bus.reprobe(dev).then((again) => { this.probed(dev, again, gen) })
    })
    this.logger.warn({ ntb: this.ntb.name, device: dev.name, err: dev.lastError?.message, retryMs }, 'virtio probe timed out; it is tried again')
  }

  /** ntb_virtio_link_cleanup, and the device removed as on surprise removal. */
  protected teardown (reason: string): void {
    const was = this.endSession()
    this.generation++
    this.probeRetry.reset()
    this.commands.abort(`${this.ntb.name}: ${reason}`)
    // Forget the vhost side's TYPE, so that the next session waits for a fresh one.
    try {
      this.ntb.spadWrite(Spad.VIRTIO_TYPE, 0)
    } catch {
      // The NTB cannot be written (its board went away): its scratchpads, the TYPE with them, start from 0 when it comes back.
    }
    const dev = this.device
    this.device = null
    if (dev !== null) dev.retrying = false
    const translated = was === 'up' || was === 'configuring'
    this.settling = this.settling.then(async () => {
      if (dev !== null) {
        this.logger.info({ ntb: this.ntb.name, device: dev.name, reason }, 'NTB vhost side is gone; removing the virtio device')
        await this.opts.bus.removeDevice(dev)
        this.emit('removed', dev, reason)
      }
      this.queues = []
      this.pool = null
      this.mwSize = null
      if (translated) await this.ntb.mwClearTrans(0).catch((err: unknown) => { this.note(err, 'mw_clear_trans') })
    }).catch((err: unknown) => { this.note(err, 'cleanup') })
  }

  /** The fallback look at the queues: each reads, and rings only a kick that is owed (recheck). */
  protected lookAtQueues (): void {
    for (const vq of this.queues) vq.recheck()
  }

  private needsResetCheck (): void {
    const dev = this.device
    if (this.state !== 'up' || dev === null || this.needsResetSeen || (this.getStatus() & VIRTIO_CONFIG_S_NEEDS_RESET) === 0) return
    this.needsResetSeen = true
    this.counters.needsReset++
    this.logger.warn({ ntb: this.ntb.name, device: dev.name }, 'device set NEEDS_RESET')
    void this.opts.bus.deviceNeedsReset(dev)
  }

  // ---------------------------------------------------------- doorbells

  /** Bit k: vq k's used-buffer notification. */
  protected queueDoorbell (k: number): void { this.queues[k]?.interrupt() }

  protected configDoorbell (): void {
    this.commands.check()
    this.needsResetCheck()
    this.peerCheck()
  }

  /** ntb_virtio_notify: vq i rings bit i, from the session that made it only. */
  private kick (gen: number, i: number): void {
    if (gen === this.generation && this.state === 'up') this.doorbells.ringQueue(i)
  }
}
