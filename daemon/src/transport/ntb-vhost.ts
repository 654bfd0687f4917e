// ntb_vhost (HOST1): the vhost side of virtio over an NTB (the RFC's
// drivers/ntb/ntb_vhost.c), written against the NtbDevice of ntb.h.
//
// This file holds the session and the vhost config ops; probe and remove,
// link events, the link work's timers and doorbells are the life both NTB
// transports share (ntb-link-client.ts). Link
// work (RFC ntb_vhost_link_work, every NTB_LINK_DOWN_TIMEOUT ms while the
// link is up): once the vhost device is registered, publish the device's
// ids, features, the peer MW0 size and the ring sizes in this host's
// scratchpads, write TYPE_VHOST into the peer's spad 0, and wait for the
// peer to write TYPE_VIRTIO into ours; then read the virtio host's MW0
// address (spads 9/10) and serve commands from spad 13, answering in 14.
// The scratchpad work is ntb-vhost-link.ts's, the commands
// ntb-vhost-commands.ts's, the rings in the virtio host's MW0 (and the
// search for a lost kick) ntb-vhost-rings.ts's; a descriptor outside MW0
// stops its queue and sets DEVICE_NEEDS_RESET.
//
// Differences from the RFC, on purpose (more in those files): link down,
// or the virtio side's TYPE going away, resets the device as surprise
// removal would, and the handshake starts over; the vhost device being
// unregistered (vhost configfs unlink) takes this side's TYPE away, so the
// virtio side removes its device too. A slow timer stands in for a lost
// doorbell and only reads: it writes or rings only for a command waiting or
// an interrupt owed, and runs a queue's callback only when buffers were
// made available.

import type { MemoryAccess } from '../mem/access.js'
import { OffsetView } from '../mem/offset-view.js'
import { VhostDevice, type VhostConfigOps } from '../vhost/vhost.js'
import { VhostVirtqueue, type VhostCallback, type VhostQueue } from '../vhost/virtqueue.js'
import type { RingAddrs } from '../uapi/ring-addrs.js'
import type { DeviceId } from '../uapi/soclink-ids.js'
import { VIRTIO_CONFIG_S_NEEDS_RESET } from '../uapi/virtio-config.js'
import { OutOfRangeError, UnavailableError } from '../errors.js'
import { NtbLinkClient, type NtbLinkClientOptions, type NtbLinkCounters, type NtbLinkState } from './ntb-link-client.js'
import { NtbVhostCommands } from './ntb-vhost-commands.js'
import { announce, forget, publish, publishFeatures, publishQueues, virtioMw0Addr, withdraw } from './ntb-vhost-link.js'
import { NtbVhostRings, type VhostRingPosition } from './ntb-vhost-rings.js'
import { MAX_VQS, ownSpads, readConfigSpads, Spad, TYPE_VHOST, TYPE_VIRTIO, writeConfigSpads } from './ntb-spads.js'

/** stopped: not started; down: no link; waiting: link work until TYPE_VIRTIO; up: serving the virtio side. */
export type NtbVhostState = Exclude<NtbLinkState, 'configuring'>

export interface NtbVhostOptions extends NtbLinkClientOptions {
  /** The vhost client's id (the RFC sets it through configfs: vhost-client item linked into vhost-transport). */
  id: DeviceId
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
export interface NtbVhostCounters extends NtbLinkCounters { commands: number, commandErrors: number }

export class NtbVhost extends NtbLinkClient<NtbVhostEvents> implements VhostConfigOps {
  readonly device: VhostDevice
  readonly counters: NtbVhostCounters = { sessions: 0, commands: 0, commandErrors: 0, doorbells: 0, doorbellErrors: 0, polls: 0 }
  /** Where each active ring is, for state views. */
  readonly addrs: Array<RingAddrs | undefined>
  /** The virtio host's MW0 address while up. */
  virtioAddr: number | null = null
  private queues: VhostVirtqueue[] = []
  /** The rings in the virtio host's MW0, once activated. */
  private readonly rings = new NtbVhostRings()
  /** The vhost device is registered on its bus: link work may announce it. */
  private registered: boolean
  private offered = 0n
  private mw: OffsetView | null = null
  /** Stops the peer MW's change notices (PeerMw.onUpdate) of this session. */
  private stopWatching: (() => void) | null = null
  private readonly commands: NtbVhostCommands

  constructor (opts: NtbVhostOptions) {
    super(opts, { own: TYPE_VHOST, peer: TYPE_VIRTIO, name: 'NTB vhost', peerName: 'virtio' })
    this.registered = opts.registered ?? true
    this.addrs = this.rings.addrs
    this.device = new VhostDevice(opts.id, this)
    this.commands = new NtbVhostCommands({
      ntb: opts.ntb,
      device: this.device,
      logger: opts.logger,
      counters: this.counters,
      up: () => this.state === 'up',
      queues: () => this.queues,
      activate: () => { this.rings.activate(this.space(), this.device.features, this.queues) },
      answered: () => { this.ringConfig() },
      note: (err, what) => { this.note(err, what) }
    })
    this.device.on('needs-reset', (vq, error) => {
      this.logger.error({ queue: vq?.index ?? null, code: error.code, err: error.message }, 'device needs reset')
      if (this.state !== 'up') return
      this.attempt('DEVICE_NEEDS_RESET', () => {
        this.ntb.spadWrite(Spad.VHOST_DEVICE_STATUS, this.ntb.spadRead(Spad.VHOST_DEVICE_STATUS) | VIRTIO_CONFIG_S_NEEDS_RESET)
        this.ringConfig()
      })
    })
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
      withdraw(this.ntb)
      if (wasUp) this.doorbells.ringConfig()
    })
    this.restart('the vhost device was unregistered')
  }

  /**
   * Where the device side of ring `n` is: the next avail entry (split) or
   * slot (packed) it reads and the next used one it writes, with the packed
   * wrap counters; null before its first activation.
   */
  ringPosition (n: number): VhostRingPosition | null { return this.rings.position(n) }

  // ---------------------------------------------------------- config ops

  createVqs (nvqs: number, numBufs: number, callbacks: ReadonlyArray<VhostCallback | null>, names: readonly string[]): VhostQueue[] {
    if (!Number.isInteger(nvqs) || nvqs < 1 || nvqs > MAX_VQS) throw new OutOfRangeError(`${nvqs} queues: an NTB vhost device has 1 to ${MAX_VQS}`)
    this.queues = Array.from({ length: nvqs }, (_, index) => new VhostVirtqueue({
      index, name: names[index] ?? `vq${index}`, num: numBufs, callback: callbacks[index] ?? null, notify: (vq) => { if (this.state === 'up') this.doorbells.ringQueue(vq.index) }
    }))
    // Published again by every link work, in case the NTB is not ready yet.
    this.attempt('VHOST_QUEUE_NUM_BUFFERS', () => { publishQueues(this.ntb, this.nums()) })
    return this.queues
  }

  delVqs (): void {
    for (const q of this.queues) q.deactivate()
    this.queues = []
    this.attempt('VHOST_QUEUE_NUM_BUFFERS', () => { publishQueues(this.ntb, this.nums()) })
  }

  /** ntb_vhost_read: a buffer of the virtio host, by its physical address. */
  read (addr: number, length: number): Uint8Array { return this.space().read(addr, length) }

  /** ntb_vhost_write. */
  write (addr: number, bytes: Uint8Array): void { this.space().write(addr, bytes) }

  setFeatures (features: bigint): void {
    this.offered = features
    this.attempt('VHOST_FEATURES', () => { publishFeatures(this.ntb, features) })
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
    writeConfigSpads(ownSpads(this.ntb), offset, bytes)
  }

  /** The same scratchpads, with what the virtio side wrote into them. */
  readConfig (offset: number, length: number): Uint8Array {
    return readConfigSpads(ownSpads(this.ntb), offset, length)
  }

  /** Each queue's ring size, as VHOST_QUEUE_NUM_BUFFERS publishes them. */
  private nums (): number[] { return this.queues.map((q) => q.num) }

  private space (): OffsetView {
    if (this.mw === null) throw new UnavailableError('the virtio host\'s MW0 is not mapped (no NTB session)')
    return this.mw
  }

  // ---------------------------------------------------------- link

  /** ntb_vhost_link_work's step: the RFC waits for the device to be registered with a valid id (vhost configfs). */
  protected linkStep (): boolean {
    if (!this.registered || this.device.index < 0 || (this.device.id.device === 0 && this.device.id.vendor === 0)) return false
    publish(this.ntb, this.device.id, this.offered, this.nums())
    if (!announce(this.ntb)) return false
    this.up()
    return true
  }

  private up (): void {
    const addr = virtioMw0Addr(this.ntb)
    const peerMw = this.ntb.peerMwGetAddr(0)
    this.mw = virtioMw(peerMw.memory, addr)
    this.stopWatching = peerMw.onUpdate?.((offset, length) => { if (this.state === 'up') this.rings.driverWrote(addr + offset, length, this.queues) }) ?? null
    this.virtioAddr = addr
    this.state = 'up'
    this.lastError = null
    this.startPolling()
    this.logger.info({ ntb: this.ntb.name, virtioAddr: addr, mwSize: this.mw.length }, 'NTB virtio side is up')
    this.emit('up', addr)
    this.commands.check()
  }

  /** ntb_vhost_link_cleanup, plus the reset a surprise removal means for the device. */
  protected teardown (reason: string): void {
    const was = this.endSession()
    this.stopWatching?.()
    this.stopWatching = null
    for (const q of this.queues) q.deactivate()
    this.mw = null
    this.virtioAddr = null
    this.commands.reset()
    this.attempt('cleanup', () => { forget(this.ntb) })
    if (was !== 'up') return
    this.logger.info({ ntb: this.ntb.name, reason }, 'NTB virtio side is gone; device reset')
    this.device.notifyReset()
    this.emit('down', reason)
  }

  /**
   * The fallback look at the rings (NtbVhostRings.look), which only reads:
   * a queue's callback re-arms notifications, which writes the ring, so an
   * idle pair would otherwise write and send on every poll.
   */
  protected lookAtQueues (): void { this.rings.look(this.mw, this.queues) }

  // ---------------------------------------------------------- doorbells

  /** Bit k: vq k's kick. */
  protected queueDoorbell (k: number): void { this.queues[k]?.trigger() }

  protected configDoorbell (): void {
    this.commands.check()
    this.peerCheck()
  }

  private ringConfig (): void {
    if (this.state === 'up') this.doorbells.ringConfig()
  }
}

/**
 * The virtio host's memory window 0 as ntb_vhost reaches it: by the virtio
 * host's own physical addresses, [virtio_addr, virtio_addr + size), which is
 * what descriptors hold (ntb_virtio hands out buffers from a pool over its
 * MW0 block). An address maps to offset addr - virtio_addr of the peer
 * window, as ntb_vhost_read/ntb_vhost_write compute it; anything else is
 * refused before it reaches the window. The RFC checks only reads and
 * writes of buffers, with unsigned arithmetic that lets an address below
 * virtio_addr wrap; here every access is checked, rings included.
 */
export function virtioMw (window: MemoryAccess, virtioAddr: number): OffsetView {
  return new OffsetView(window, 0, window.size, { start: virtioAddr, name: 'virtio host\'s MW0' })
}
