// ntb_vhost (HOST1): the vhost side of virtio over an NTB (the RFC's
// drivers/ntb/ntb_vhost.c), written against the NtbDevice of ntb.h.
//
// Link work (RFC ntb_vhost_link_work, every NTB_LINK_DOWN_TIMEOUT ms while
// the link is up): once the vhost device is registered, publish the
// device's ids, features, the peer MW0 size and the ring sizes in this
// host's scratchpads, write TYPE_VHOST into the peer's spad 0, and wait for
// the peer to write TYPE_VIRTIO into ours; then read the virtio host's MW0
// address (spads 9/10) and serve commands from spad 13, answering in 14.
//
// Rings live in the virtio host's MW0 (ntb-spads.ts ringOffsets), reached
// through peer MW 0 at offset addr - virtio_addr (ntb-mw-access.ts); a
// descriptor outside MW0 is a ring error that stops its queue and sets
// DEVICE_NEEDS_RESET, never an access outside the window.
//
// Differences from the RFC, on purpose: commands are served when CONFIG_DB
// rings (and on a slow timer in case a doorbell is lost) instead of a 1 ms
// poll, and CONFIG_DB is rung back after each answer; an unknown command is
// answered ERROR (the RFC leaves the virtio side to time out); rings are
// built at DRIVER_OK from the negotiated features (split or packed); link
// down, or the virtio side's TYPE going away, resets the device as surprise
// removal would, and the handshake starts over; the vhost device being
// unregistered (vhost configfs unlink) takes this side's TYPE away, so the
// virtio side removes its device too. The slow timer only reads: it writes
// or rings only for a command waiting or an interrupt owed, and runs a
// queue's callback only when buffers were made available (ntb-avail-watch.ts).

import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { NtbDevice } from '../hw/ntb/ntb.js'
import { VhostDevice, type VhostConfigOps } from '../vhost/vhost.js'
import { packedDeviceRing, VhostVirtqueue, type VhostCallback, type VhostQueue } from '../vhost/virtqueue.js'
import { Vringh } from '../vhost/vringh.js'
import { VringhPacked } from '../vhost/vringh-packed.js'
import { ringBytes } from '../virtio/virtqueue.js'
import { ringAddrs, type RingAddrs } from '../uapi/ring-addrs.js'
import { RingError } from '../uapi/ring-error.js'
import type { DeviceId } from '../uapi/soclink-ids.js'
import {
  hasFeature, VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_NEEDS_RESET, VIRTIO_F_RING_PACKED
} from '../uapi/virtio-config.js'
import { OutOfRangeError, SoclinkError, UnavailableError } from '../errors.js'
import { NtbDoorbells } from './ntb-doorbells.js'
import { VirtioMwAccess } from './ntb-mw-access.js'
import { AvailWatch } from './ntb-avail-watch.js'
import {
  BUFFER_OFFSET, CmdStatus, configDbBit, FALLBACK_POLL_MS, HostCmd, joinSpads, MAX_VQS, NTB_LINK_DOWN_TIMEOUT_MS, queueNumBuffers,
  ringOffsets, Spad, splitSpads, TYPE_VHOST, TYPE_VIRTIO, VRING_ALIGN, readConfigSpads, writeConfigSpads, type SpadAccess
} from './ntb-spads.js'

/** stopped: not started; down: no link; waiting: link work until TYPE_VIRTIO; up: serving the virtio side. */
export type NtbVhostState = 'stopped' | 'down' | 'waiting' | 'up'

export interface NtbVhostOptions {
  ntb: NtbDevice
  /** The vhost client's id (the RFC sets it through configfs: vhost-client item linked into vhost-transport). */
  id: DeviceId
  logger: Logger
  /** Link work retry period (ms); default NTB_LINK_DOWN_TIMEOUT_MS. */
  retryMs?: number
  /** Fallback look at the scratchpads and rings (ms); default FALLBACK_POLL_MS. */
  pollMs?: number
  /**
   * Whether the vhost device is on its bus before start() (default true).
   * False: link work waits for deviceRegistered(), as the RFC's waits for
   * vhost configfs to register the device.
   */
  registered?: boolean
}

export interface NtbVhostEvents {
  /** The virtio side is there: its MW0 starts at virtioAddr. */
  up: [virtioAddr: number]
  /** The session ended; the device was reset. */
  down: [reason: string]
}

/** polls: fallback looks (slowPoll), which read and write nothing unless something changed. */
export interface NtbVhostCounters { sessions: number, commands: number, commandErrors: number, doorbells: number, doorbellErrors: number, polls: number }

export class NtbVhost extends EventEmitter<NtbVhostEvents> implements VhostConfigOps {
  readonly device: VhostDevice
  readonly ntb: NtbDevice
  readonly counters: NtbVhostCounters = { sessions: 0, commands: 0, commandErrors: 0, doorbells: 0, doorbellErrors: 0, polls: 0 }
  /** Where each active ring is, for state views. */
  readonly addrs: Array<RingAddrs | undefined> = []
  state: NtbVhostState = 'stopped'
  /** The virtio host's MW0 address while up. */
  virtioAddr: number | null = null
  lastError: SoclinkError | null = null
  private queues: VhostVirtqueue[] = []
  /** The device side of each ring activated, for state views (ringPosition). */
  private rings: Array<Vringh | VringhPacked | undefined> = []
  /** The vhost device is registered on its bus: link work may announce it. */
  private registered: boolean
  /** What the virtio side had made available in each ring at the last poll. */
  private readonly avail = new AvailWatch()
  private offered = 0n
  private featuresAccepted = true
  private driverOk = false
  private mw: VirtioMwAccess | null = null
  /** Stops the peer MW's change notices (PeerMw.onUpdate) of this session. */
  private stopWatching: (() => void) | null = null
  private retry: NodeJS.Timeout | null = null
  private poll: NodeJS.Timeout | null = null
  private readonly unlisten: Array<() => void> = []
  private readonly doorbells: NtbDoorbells
  private readonly logger: Logger
  private readonly retryMs: number
  private readonly pollMs: number

  constructor (opts: NtbVhostOptions) {
    super()
    this.ntb = opts.ntb
    this.logger = opts.logger
    this.retryMs = opts.retryMs ?? NTB_LINK_DOWN_TIMEOUT_MS
    this.pollMs = opts.pollMs ?? FALLBACK_POLL_MS
    this.registered = opts.registered ?? true
    this.doorbells = new NtbDoorbells(opts.ntb, (err, what) => {
      this.counters.doorbellErrors++
      this.note(err, what)
    })
    this.device = new VhostDevice(opts.id, this)
    this.device.on('needs-reset', (vq, error) => {
      this.logger.error({ queue: vq?.index ?? null, code: error.code, err: error.message }, 'device needs reset')
      if (this.state !== 'up') return
      this.attempt('DEVICE_NEEDS_RESET', () => {
        this.ntb.spadWrite(Spad.VHOST_DEVICE_STATUS, this.ntb.spadRead(Spad.VHOST_DEVICE_STATUS) | VIRTIO_CONFIG_S_NEEDS_RESET)
        this.ringConfig()
      })
    })
  }

  /** ntb_vhost_probe: listen to the NTB (ntb_set_ctx) and enable its link. */
  async start (): Promise<void> {
    if (this.state !== 'stopped') return
    this.state = 'down'
    const onLink = (): void => { this.linkEvent() }
    const onDb = (vector: number): void => { this.dbEvent(vector) }
    this.ntb.on('link', onLink)
    this.ntb.on('db', onDb)
    this.unlisten.push(() => { this.ntb.off('link', onLink) }, () => { this.ntb.off('db', onDb) })
    await this.ntb.linkEnable()
    this.linkEvent()
  }

  async stop (): Promise<void> {
    if (this.state === 'stopped') return
    for (const off of this.unlisten.splice(0)) off()
    this.teardown('transport stopped')
    this.state = 'stopped'
    await this.ntb.linkDisable().catch((err: Error) => { this.logger.warn({ err: err.message }, 'link_disable failed') })
  }

  get vqs (): readonly VhostVirtqueue[] { return this.queues }

  /** vhost_register_device() completed (vhost configfs linked an item): link work may go on. */
  deviceRegistered (): void {
    this.registered = true
    if (this.state === 'waiting') this.linkWork()
  }

  /**
   * vhost_unregister_device() completed (vhost configfs unlinked the item).
   * The RFC stops there and leaves the virtio side with a device nobody
   * serves; here this side's TYPE leaves the virtio host's spad 0 and
   * CONFIG_DB tells it, so it removes its device as on surprise removal,
   * and link work waits for the next registration.
   */
  deviceUnregistered (): void {
    if (!this.registered) return
    this.registered = false
    if (this.state !== 'waiting' && this.state !== 'up') return
    const wasUp = this.state === 'up'
    this.attempt('withdraw TYPE_VHOST', () => {
      this.ntb.peerSpadWrite(Spad.VIRTIO_TYPE, 0)
      if (wasUp) this.doorbells.ringConfig()
    })
    this.restart('the vhost device was unregistered')
  }

  /**
   * Where the device side of ring `n` is: the next avail entry (split) or
   * slot (packed) it reads and the next used one it writes, with the packed
   * wrap counters; null before its first activation.
   */
  ringPosition (n: number): { lastAvail: number, availWrap: boolean | null, nextUsed: number, usedWrap: boolean | null } | null {
    const r = this.rings[n]
    if (r === undefined) return null
    if (r instanceof Vringh) return { lastAvail: r.lastAvailIdx, availWrap: null, nextUsed: r.lastUsedIdx, usedWrap: null }
    return { lastAvail: r.lastAvail, availWrap: r.availWrap === 1, nextUsed: r.nextUsed, usedWrap: r.usedWrap === 1 }
  }

  // ---------------------------------------------------------- config ops

  createVqs (nvqs: number, numBufs: number, callbacks: ReadonlyArray<VhostCallback | null>, names: readonly string[]): VhostQueue[] {
    if (!Number.isInteger(nvqs) || nvqs < 1 || nvqs > MAX_VQS) throw new OutOfRangeError(`${nvqs} queues: an NTB vhost device has 1 to ${MAX_VQS}`)
    this.queues = Array.from({ length: nvqs }, (_, index) => new VhostVirtqueue({
      index, name: names[index] ?? `vq${index}`, num: numBufs, callback: callbacks[index] ?? null, notify: (vq) => { if (this.state === 'up') this.doorbells.ringQueue(vq.index) }
    }))
    // Published again by every link work, in case the NTB is not ready yet.
    this.attempt('VHOST_QUEUE_NUM_BUFFERS', () => { this.publishQueues() })
    return this.queues
  }

  delVqs (): void {
    for (const q of this.queues) q.deactivate()
    this.queues = []
    this.attempt('VHOST_QUEUE_NUM_BUFFERS', () => { this.publishQueues() })
  }

  /** ntb_vhost_read: a buffer of the virtio host, by its physical address. */
  read (addr: number, length: number): Uint8Array { return this.space().read(addr, length) }

  /** ntb_vhost_write. */
  write (addr: number, bytes: Uint8Array): void { this.space().write(addr, bytes) }

  setFeatures (features: bigint): void {
    this.offered = features
    this.attempt('VHOST_FEATURES', () => { this.publishFeatures() })
  }

  setStatus (status: number): void { this.ntb.spadWrite(Spad.VHOST_DEVICE_STATUS, status) }

  getStatus (): number {
    try {
      return this.ntb.spadRead(Spad.VHOST_DEVICE_STATUS)
    } catch {
      return 0
    }
  }

  /** Device-specific config space, in this host's scratchpads from VHOST_DEVICE_CFG_SPACE on, where the virtio side reads it. */
  writeConfig (offset: number, bytes: Uint8Array): void {
    writeConfigSpads(this.ownSpads(), offset, bytes)
  }

  /** The same scratchpads, with what the virtio side wrote into them. */
  readConfig (offset: number, length: number): Uint8Array {
    return readConfigSpads(this.ownSpads(), offset, length)
  }

  private ownSpads (): SpadAccess {
    return { count: this.ntb.spadCount(), read: (i) => this.ntb.spadRead(i), write: (i, v) => { this.ntb.spadWrite(i, v) } }
  }

  private space (): VirtioMwAccess {
    if (this.mw === null) throw new UnavailableError('the virtio host\'s MW0 is not mapped (no NTB session)')
    return this.mw
  }

  // ---------------------------------------------------------- link

  private linkEvent (): void {
    if (this.state === 'stopped') return
    let up = false
    try {
      up = this.ntb.linkIsUp()
    } catch {}
    if (!up) {
      if (this.state !== 'down') this.teardown('link down')
      return
    }
    if (this.state === 'down') this.begin()
  }

  private begin (): void {
    this.state = 'waiting'
    this.counters.sessions++
    this.linkWork()
  }

  /** ntb_vhost_link_work. */
  private linkWork (): void {
    this.clearRetry()
    if (this.state !== 'waiting') return
    try {
      if (!this.ntb.linkIsUp()) { this.teardown('link down'); return }
      // The RFC waits for the device to be registered with a valid id (vhost configfs).
      if (this.registered && this.device.index >= 0 && (this.device.id.device !== 0 || this.device.id.vendor !== 0)) {
        this.publish()
        this.ntb.peerSpadWrite(Spad.VIRTIO_TYPE, TYPE_VHOST)
        if (this.ntb.spadRead(Spad.VIRTIO_TYPE) === TYPE_VIRTIO) { this.up(); return }
      }
    } catch (err) {
      this.note(err, 'link work')
    }
    this.retry = setTimeout(() => { this.linkWork() }, this.retryMs)
  }

  /** Everything the virtio side reads from this host's scratchpads. */
  private publish (): void {
    const bit = configDbBit(this.ntb.dbValidMask())
    if (this.queues.length > bit) {
      throw new OutOfRangeError(`${this.queues.length} queues need ${this.queues.length + 1} doorbell bits; the NTB has valid mask 0x${this.ntb.dbValidMask().toString(16)}`)
    }
    this.ntb.spadWrite(Spad.VHOST_VENDORID, this.device.id.vendor)
    this.ntb.spadWrite(Spad.VHOST_DEVICEID, this.device.id.device)
    this.publishFeatures()
    const [lower, upper] = splitSpads(this.ntb.peerMwGetAddr(0).size)
    this.ntb.spadWrite(Spad.VHOST_MW0_SIZE_LOWER, lower)
    this.ntb.spadWrite(Spad.VHOST_MW0_SIZE_UPPER, upper)
    this.publishQueues()
  }

  private publishFeatures (): void {
    const [lower, upper] = splitSpads(this.offered)
    this.ntb.spadWrite(Spad.VHOST_FEATURES_LOWER, lower)
    this.ntb.spadWrite(Spad.VHOST_FEATURES_UPPER, upper)
  }

  private publishQueues (): void {
    for (let n = 0; n < MAX_VQS; n++) this.ntb.spadWrite(queueNumBuffers(n), this.queues[n]?.num ?? 0)
  }

  private up (): void {
    const addr = joinSpads(this.ntb.spadRead(Spad.VIRTIO_MW0_LOWER_ADDR), this.ntb.spadRead(Spad.VIRTIO_MW0_UPPER_ADDR), 'virtio MW0 address')
    const peerMw = this.ntb.peerMwGetAddr(0)
    this.mw = new VirtioMwAccess(peerMw.memory, addr)
    this.stopWatching = peerMw.onUpdate?.((offset, length) => { this.driverWrote(addr + offset, length) }) ?? null
    this.virtioAddr = addr
    this.state = 'up'
    this.lastError = null
    this.poll = setInterval(() => { this.slowPoll() }, this.pollMs)
    this.logger.info({ ntb: this.ntb.name, virtioAddr: addr, mwSize: this.mw.window.size }, 'NTB virtio side is up')
    this.emit('up', addr)
    this.commandCheck()
  }

  /** ntb_vhost_link_cleanup, plus the reset a surprise removal means for the device. */
  private teardown (reason: string): void {
    const was = this.state
    this.clearRetry()
    if (this.poll !== null) clearInterval(this.poll)
    this.poll = null
    this.state = 'down'
    this.stopWatching?.()
    this.stopWatching = null
    for (const q of this.queues) q.deactivate()
    this.mw = null
    this.virtioAddr = null
    this.featuresAccepted = true
    this.driverOk = false
    // Forget the virtio side's TYPE, so that the next session waits for a fresh one.
    this.attempt('cleanup', () => {
      for (const idx of [Spad.VIRTIO_TYPE, Spad.VHOST_DEVICE_STATUS, Spad.VHOST_COMMAND, Spad.VHOST_COMMAND_STATUS]) this.ntb.spadWrite(idx, 0)
    })
    if (was !== 'up') return
    this.logger.info({ ntb: this.ntb.name, reason }, 'NTB virtio side is gone; device reset')
    this.device.notifyReset()
    this.emit('down', reason)
  }

  /** The link is still up but the virtio side went away: reset, and wait for it again. */
  private restart (reason: string): void {
    this.teardown(reason)
    this.begin()
  }

  /**
   * The fallback for a lost doorbell, and only reads: a command is answered
   * only if one is there, an interrupt raised only if one is owed
   * (recheck), and a queue's callback runs only if the driver made buffers
   * available since the last look; the callback re-arms notifications,
   * which writes the ring, so an idle pair would otherwise write and send
   * on every poll.
   */
  private slowPoll (): void {
    this.counters.polls++
    this.linkEvent()
    this.configDoorbell()
    for (const vq of this.queues) {
      if (!vq.ready) continue
      vq.recheck()
      const a = this.addrs[vq.index]
      if (this.mw !== null && a !== undefined && this.avail.moved(vq.index, this.mw, a)) vq.wake()
    }
  }

  /**
   * The virtio host wrote into its MW0 (by its addresses; PeerMw.onUpdate):
   * a write to a ring's driver area may owe an interrupt, a moved avail index
   * a look at a kick it skipped; look now, not at the next slow poll (as
   * transport/pci-epf-vhost.ts driverWrote does).
   */
  private driverWrote (addr: number, length: number): void {
    if (this.state !== 'up') return
    for (const vq of this.queues) {
      const a = this.addrs[vq.index]
      if (a === undefined || !vq.ready) continue
      const to = a.layout === 'split' ? a.driver + 4 + 2 * a.num + 2 : a.driver + 4
      if (addr < to && addr + length > a.driver) vq.recheck()
      if (a.layout === 'split' && addr < a.driver + 4 && addr + length > a.driver + 2) queueMicrotask(() => { if (vq.ready) vq.wake() })
    }
  }

  /** Whether both TYPEs are still in place: the virtio side's in ours, ours in its. */
  private peerCheck (): void {
    if (this.state !== 'up') return
    let present = false
    try {
      present = this.ntb.spadRead(Spad.VIRTIO_TYPE) === TYPE_VIRTIO && this.ntb.peerSpadRead(Spad.VIRTIO_TYPE) === TYPE_VHOST
    } catch {}
    if (!present) this.restart('the virtio side\'s TYPE went away')
  }

  // ---------------------------------------------------------- doorbells

  /** db_event: bit k is vq k's kick, CONFIG_DB the scratchpads. */
  private dbEvent (vector: number): void {
    if (this.state === 'stopped') return
    const bits = this.doorbells.take(vector)
    if (bits === null) return
    this.counters.doorbells++
    const config = this.doorbells.configBit
    for (const b of bits) {
      if (b === config) this.configDoorbell()
      else if (this.state === 'up') this.queues[b]?.trigger()
    }
  }

  private configDoorbell (): void {
    this.commandCheck()
    this.peerCheck()
  }

  private ringConfig (): void {
    if (this.state === 'up') this.doorbells.ringConfig()
  }

  // ---------------------------------------------------------- commands

  /** ntb_vhost_cmd_handler: read the command, clear it, act, answer. */
  private commandCheck (): void {
    if (this.state !== 'up') return
    let cmd: number
    try {
      cmd = this.ntb.spadRead(Spad.VHOST_COMMAND)
      if (cmd === HostCmd.NONE) return
      this.ntb.spadWrite(Spad.VHOST_COMMAND, HostCmd.NONE)
    } catch (err) {
      this.note(err, 'command')
      return
    }
    this.counters.commands++
    let ok = false
    try {
      ok = this.act(cmd)
    } catch (err) {
      this.note(err, `command ${cmd}`)
    }
    if (!ok) this.counters.commandErrors++
    if (this.state !== 'up') return
    this.attempt('command status', () => {
      this.ntb.spadWrite(Spad.VHOST_COMMAND_STATUS, ok ? CmdStatus.OKAY : CmdStatus.ERROR)
      this.ringConfig()
    })
  }

  private act (cmd: number): boolean {
    switch (cmd) {
      case HostCmd.SET_STATUS: {
        const status = this.ntb.spadRead(Spad.VHOST_DEVICE_STATUS)
        // A device that refused the features leaves FEATURES_OK clear (virtio 1.x 3.1.1).
        if ((status & VIRTIO_CONFIG_S_FEATURES_OK) !== 0 && !this.featuresAccepted) {
          this.ntb.spadWrite(Spad.VHOST_DEVICE_STATUS, status & ~VIRTIO_CONFIG_S_FEATURES_OK)
          return true
        }
        if ((status & VIRTIO_CONFIG_S_DRIVER_OK) !== 0 && !this.driverOk) {
          this.driverOk = true
          this.activate()
        }
        this.device.notifySetStatus(status)
        return true
      }
      case HostCmd.FINALIZE_FEATURES: {
        const f = BigInt(this.ntb.spadRead(Spad.VIRTIO_FEATURES_LOWER) >>> 0) | (BigInt(this.ntb.spadRead(Spad.VIRTIO_FEATURES_UPPER) >>> 0) << 32n)
        this.featuresAccepted = this.device.notifyFinalizeFeatures(f)
        return true
      }
      case HostCmd.RESET:
        for (const q of this.queues) q.deactivate()
        this.ntb.spadWrite(Spad.VHOST_DEVICE_STATUS, 0)
        this.featuresAccepted = true
        this.driverOk = false
        this.device.notifyReset()
        return true
      default:
        this.logger.warn({ ntb: this.ntb.name, cmd }, 'unknown command')
        return false
    }
  }

  /** DRIVER_OK: the rings the virtio side laid out in its MW0, in the negotiated layout. */
  private activate (): void {
    const mw = this.space()
    const features = this.device.features
    const layout = hasFeature(features, VIRTIO_F_RING_PACKED) ? 'packed' : 'split'
    const { offsets } = ringOffsets(layout, this.queues.map((q) => q.num))
    this.avail.reset()
    for (const vq of this.queues) {
      vq.activate(() => {
        const at = offsets[vq.index]!
        if (at + ringBytes(layout, vq.num, VRING_ALIGN) > BUFFER_OFFSET) {
          throw new RingError('ERR_RING_SIZE', `vq ${vq.index}: a ${layout} ring of ${vq.num} at MW0 offset 0x${at.toString(16)} runs past BUFFER_OFFSET 0x${BUFFER_OFFSET.toString(16)}`)
        }
        const addrs = ringAddrs(layout, mw.virtioAddr + at, vq.num, VRING_ALIGN)
        this.addrs[vq.index] = addrs
        // As createDeviceRing(), keeping the ring for ringPosition().
        const opts = { features, canAccess: (addr: number, len: number): boolean => mw.contains(addr, len) }
        const ring = layout === 'packed'
          ? new VringhPacked(mw, { num: addrs.num, desc: addrs.desc, driver: addrs.driver, device: addrs.device }, opts)
          : new Vringh(mw, { num: addrs.num, desc: addrs.desc, avail: addrs.driver, used: addrs.device }, opts)
        this.rings[vq.index] = ring
        return ring instanceof VringhPacked ? packedDeviceRing(ring) : ring
      })
    }
  }

  // ---------------------------------------------------------- helpers

  private clearRetry (): void {
    if (this.retry !== null) clearTimeout(this.retry)
    this.retry = null
  }

  private attempt (what: string, fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.note(err, what)
    }
  }

  /** Keeps the error; logs it once until another one comes. */
  private note (err: unknown, what: string): void {
    const error = err instanceof SoclinkError ? err : new SoclinkError('ERR_NTB', err instanceof Error ? err.message : String(err))
    if (this.lastError?.message !== error.message) this.logger.warn({ ntb: this.ntb.name, what, code: error.code, err: error.message }, 'NTB vhost')
    this.lastError = error
  }
}

