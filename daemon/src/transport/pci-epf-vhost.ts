// pci-epf-vhost: the endpoint function that exposes a vhost device to the
// root complex (the RFC's drivers/pci/endpoint/functions/pci-epf-vhost.c).
// BAR0 holds struct epf_vhost_reg (epf-vhost-regs.ts); the root complex
// drives the device by writing command bytes there. The RFC polls those
// registers every millisecond; here every write the root complex makes to
// BAR0 arrives as a Region write in link order, so commands are acted on as
// they land. Rings and buffers live in the root complex's memory, reached
// through one outbound window over all of it.
//
// Differences from the RFC, on purpose: little-endian always; device config
// lives at DEVICE_CFG_SPACE (0x110), where the RC driver reads it; INTx sets
// ISR before it asserts; a queue NOTIFY is posted (no status written back),
// since nothing waits for it; a ring error sets DEVICE_NEEDS_RESET and raises
// the config interrupt instead of stalling silently.

import type { Logger } from 'pino'
import type { Region } from '../mem/region.js'
import type { EndpointController, OutboundMap } from '../hw/pcie/endpoint-controller.js'
import type { FunctionConfig } from '../hw/pcie/function-table.js'
import { VhostDevice, type VhostConfigOps } from '../vhost/vhost.js'
import { packedDeviceRing, VhostVirtqueue, type VhostCallback, type VhostQueue } from '../vhost/virtqueue.js'
import { Vringh } from '../vhost/vringh.js'
import { VringhPacked } from '../vhost/vringh-packed.js'
import { ringAddrs, type RingAddrs } from '../uapi/ring-addrs.js'
import { hasFeature, VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_NEEDS_RESET, VIRTIO_F_RING_PACKED } from '../uapi/virtio-config.js'
import { OutOfRangeError, UnavailableError } from '../errors.js'
import * as R from './epf-vhost-regs.js'

export interface PciEpfVhostOptions {
  ctrl: EndpointController
  fn: FunctionConfig
  /** Size of the root complex's system memory: the outbound window's size. */
  rcMemorySize: number
  logger: Logger
}

export class PciEpfVhost implements VhostConfigOps {
  readonly device: VhostDevice
  readonly fn: FunctionConfig
  private readonly ctrl: EndpointController
  private readonly bar0: Region
  private readonly opts: PciEpfVhostOptions
  private outbound: OutboundMap | null = null
  private queues: VhostVirtqueue[] = []
  private featuresAccepted = true
  private readonly stopObserving: () => void

  constructor (opts: PciEpfVhostOptions) {
    this.opts = opts
    this.ctrl = opts.ctrl
    this.fn = opts.fn
    const f = opts.fn
    this.ctrl.setHeader({
      vendorId: f.vendorId, deviceId: f.deviceId, revisionId: f.revisionId, classCode: f.classCode,
      subsystemVendorId: f.subsysVendorId, subsystemId: f.subsysId, interruptPin: f.interruptPin
    })
    this.bar0 = this.ctrl.setBar(0, R.BAR0_SIZE, 0)
    // The RFC's BAR0 register block: every write there acts (queue select, notify, status).
    this.bar0.markRegisters(0, R.BAR0_SIZE)
    this.stopObserving = this.bar0.observe((offset, length, origin) => { if (origin !== null) this.registerWrite(offset, length) })
    // The virtio device id is the function's subsystem id (the RFC's vhost-client link).
    this.device = new VhostDevice({ device: f.subsysId, vendor: f.subsysVendorId }, this)
    this.device.on('needs-reset', (vq, error) => {
      this.opts.logger.error({ queue: vq?.index ?? null, code: error.code, err: error.message }, 'device needs reset')
      this.bar0.write8(R.DEVICE_STATUS, this.bar0.read8(R.DEVICE_STATUS) | VIRTIO_CONFIG_S_NEEDS_RESET)
      this.interrupt(this.bar0.read16(R.MSIX_CONFIG), R.ISR_CONFIG)
    })
  }

  /** Brings the link up to the root complex and maps its memory. */
  start (): void {
    this.ctrl.start()
    this.outbound = this.ctrl.mapOutbound(0, this.opts.rcMemorySize)
    this.outbound.window.onUpdate((offset, length) => { this.driverWrote(offset, length) })
  }

  /**
   * The root complex wrote into rc memory: if it covers a ring's driver
   * part (avail flags and used_event, or the packed driver area), an
   * interrupt decided on the old value may be owed now.
   */
  private driverWrote (offset: number, length: number): void {
    for (const vq of this.queues) {
      const a = this.addrs[vq.index]
      if (a === undefined || !vq.ready) continue
      const to = a.layout === 'split' ? a.driver + 4 + 2 * a.num + 2 : a.driver + 4
      if (offset < to && offset + length > a.driver) vq.recheck()
      // The avail index moved: the driver may have read our avail_event (or
      // the NO_NOTIFY flag) before our write to it arrived and not kicked,
      // while our own look at the index after enabling came before its
      // update reached this replica. Look again, as the RFC's polling would.
      if (a.layout === 'split' && offset < a.driver + 4 && offset + length > a.driver + 2) queueMicrotask(() => { if (vq.ready) vq.wake() })
    }
  }

  stop (): void {
    for (const q of this.queues) q.deactivate()
    this.outbound = null
    this.stopObserving()
    this.ctrl.stop('function stopped')
  }

  // ---------------------------------------------------------- config ops

  createVqs (nvqs: number, numBufs: number, callbacks: ReadonlyArray<VhostCallback | null>, names: readonly string[]): VhostQueue[] {
    // The function's attributes bound what a vhost driver gets: numVrings
    // queues at most, each of vringSize buffers (the configfs settings win
    // over the driver's wish, as a hardware limit would).
    const most = Math.min(R.MAX_VQS, this.fn.numVrings)
    if (nvqs < 1 || nvqs > most) throw new OutOfRangeError(`${nvqs} queues: function ${this.fn.name} has room for 1 to ${most}`)
    const num = this.fn.vringSize > 0 ? this.fn.vringSize : numBufs
    this.queues = []
    for (let i = 0; i < nvqs; i++) {
      this.queues.push(new VhostVirtqueue({ index: i, name: names[i] ?? `vq${i}`, num, callback: callbacks[i] ?? null, notify: (vq) => { this.queueInterrupt(vq.index) } }))
      this.bar0.write16(R.queueReg(i).numBuffers, num)
      this.bar0.write16(R.queueReg(i).msixVector, R.NO_VECTOR)
    }
    this.bar0.write16(R.NUM_QUEUES, nvqs)
    return this.queues
  }

  delVqs (): void {
    for (const q of this.queues) {
      q.deactivate()
      const r = R.queueReg(q.index)
      this.bar0.write16(r.numBuffers, 0)
      this.bar0.write16(r.status, 0)
    }
    this.bar0.write16(R.NUM_QUEUES, 0)
    this.queues = []
  }

  read (addr: number, length: number): Uint8Array {
    return this.rcMemory().read(addr, length)
  }

  write (addr: number, bytes: Uint8Array): void {
    this.rcMemory().write(addr, bytes)
  }

  setFeatures (features: bigint): void {
    this.bar0.write32(R.HOST_FEATURES, Number(features & 0xffff_ffffn))
    this.bar0.write32(R.HOST_FEATURES + 4, Number(features >> 32n))
  }

  setStatus (status: number): void { this.bar0.write8(R.DEVICE_STATUS, status) }
  getStatus (): number { return this.bar0.read8(R.DEVICE_STATUS) }

  /** Device-specific config space, as the root complex reads it. */
  writeConfig (offset: number, bytes: Uint8Array): void {
    if (offset + bytes.length > R.BAR0_SIZE - R.DEVICE_CFG_SPACE) throw new OutOfRangeError('device config past the end of BAR0')
    this.bar0.write(R.DEVICE_CFG_SPACE + offset, bytes)
  }

  /** Device-specific config space, with what the root complex wrote into it. */
  readConfig (offset: number, length: number): Uint8Array {
    if (offset + length > R.BAR0_SIZE - R.DEVICE_CFG_SPACE) throw new OutOfRangeError('device config past the end of BAR0')
    return this.bar0.read(R.DEVICE_CFG_SPACE + offset, length)
  }

  get vqs (): readonly VhostVirtqueue[] { return this.queues }

  private rcMemory (): import('../mem/window.js').Window {
    const w = this.outbound?.window
    if (w === undefined || w.state !== 'open') throw new UnavailableError('the root complex\'s memory is not mapped')
    return w
  }

  // ---------------------------------------------------------- registers

  /** A write from the root complex landed in BAR0: act on any command byte it covers. */
  private registerWrite (offset: number, length: number): void {
    const end = offset + length
    if (offset <= R.HOST_CMD && end > R.HOST_CMD) this.hostCommand(this.bar0.read8(R.HOST_CMD))
    if (offset <= R.ISR + 3 && end > R.ISR && this.bar0.read32(R.ISR) === 0) this.ctrl.raiseIntx(false)
    for (let n = 0; n < R.MAX_VQS; n++) {
      const at = R.queueReg(n).cmd
      if (offset <= at && end > at) this.queueCommand(n, this.bar0.read8(at))
    }
  }

  private hostCommand (cmd: number): void {
    if (cmd === R.HostCmd.NONE) return
    this.bar0.write8(R.HOST_CMD, R.HostCmd.NONE)
    let ok = true
    switch (cmd) {
      case R.HostCmd.SET_STATUS: {
        const status = this.bar0.read8(R.DEVICE_STATUS)
        // A device that refused the features leaves FEATURES_OK clear (virtio 1.x 3.1.1).
        if ((status & VIRTIO_CONFIG_S_FEATURES_OK) !== 0 && !this.featuresAccepted) {
          this.bar0.write8(R.DEVICE_STATUS, status & ~VIRTIO_CONFIG_S_FEATURES_OK)
        } else {
          this.device.notifySetStatus(status)
        }
        break
      }
      case R.HostCmd.FINALIZE_FEATURES: {
        const f = BigInt(this.bar0.read32(R.GUEST_FEATURES)) | (BigInt(this.bar0.read32(R.GUEST_FEATURES + 4)) << 32n)
        this.featuresAccepted = this.device.notifyFinalizeFeatures(f)
        break
      }
      case R.HostCmd.RESET:
        for (const q of this.queues) {
          q.deactivate()
          this.bar0.write16(R.queueReg(q.index).status, 0)
        }
        this.bar0.write8(R.DEVICE_STATUS, 0)
        this.bar0.write32(R.ISR, 0)
        this.featuresAccepted = true
        this.device.notifyReset()
        break
      default:
        ok = false
    }
    this.bar0.write8(R.HOST_CMD_STATUS, ok ? R.CmdStatus.OKAY : R.CmdStatus.ERROR)
  }

  private queueCommand (n: number, cmd: number): void {
    const r = R.queueReg(n)
    const vq = this.queues[n]
    if (cmd === R.QueueCmd.NOTIFY) {
      // Posted: the root complex does not wait; run the callback after the frame that carried it.
      if (vq !== undefined) queueMicrotask(() => { vq.trigger() })
      return
    }
    if (cmd === R.QueueCmd.NONE) return
    this.bar0.write8(r.cmd, R.QueueCmd.NONE)
    let ok = vq !== undefined
    if (vq !== undefined && cmd === R.QueueCmd.ACTIVATE) ok = this.activate(vq)
    else if (vq !== undefined && cmd === R.QueueCmd.DEACTIVATE) {
      vq.deactivate()
      this.bar0.write16(r.status, 0)
    } else ok = false
    this.bar0.write8(r.cmdStatus, ok ? R.CmdStatus.OKAY : R.CmdStatus.ERROR)
  }

  /** ACTIVATE: the ring the root complex placed at QUEUE_ADDR, in the negotiated layout. */
  private activate (vq: VhostVirtqueue): boolean {
    const r = R.queueReg(vq.index)
    const addr = this.bar0.read32(r.addr) + this.bar0.read32(r.addr + 4) * 0x1_0000_0000
    const features = this.device.features
    const packed = hasFeature(features, VIRTIO_F_RING_PACKED)
    const ok = vq.activate(() => {
      const mem = this.rcMemory()
      const addrs = ringAddrs(packed ? 'packed' : 'split', addr, vq.num, R.VRING_ALIGN)
      this.addrs[vq.index] = addrs
      // As createDeviceRing(), keeping the ring for ringPosition().
      const opts = { features, canAccess: (a: number, len: number): boolean => a >= 0 && a + len <= mem.size }
      const ring = addrs.layout === 'packed'
        ? new VringhPacked(mem, { num: addrs.num, desc: addrs.desc, driver: addrs.driver, device: addrs.device }, opts)
        : new Vringh(mem, { num: addrs.num, desc: addrs.desc, avail: addrs.driver, used: addrs.device }, opts)
      this.rings[vq.index] = ring
      return ring instanceof VringhPacked ? packedDeviceRing(ring) : ring
    })
    if (ok) this.bar0.write16(r.status, R.QUEUE_STATUS_ACTIVE)
    return ok
  }

  /** Where each active ring is, for state views. */
  readonly addrs: Array<RingAddrs | undefined> = []
  /** The device side of each ring activated, for state views. */
  private readonly rings: Array<Vringh | VringhPacked | undefined> = []

  /**
   * Where the device side of queue n stands, for state views: the next avail
   * entry (split) or slot (packed) it will read and the next used one it will
   * write, with the packed wrap counters; null before its first activation.
   */
  ringPosition (n: number): { lastAvail: number, availWrap: boolean | null, nextUsed: number, usedWrap: boolean | null } | null {
    const r = this.rings[n]
    if (r === undefined) return null
    if (r instanceof Vringh) return { lastAvail: r.lastAvailIdx, availWrap: null, nextUsed: r.lastUsedIdx, usedWrap: null }
    return { lastAvail: r.lastAvail, availWrap: r.availWrap === 1, nextUsed: r.nextUsed, usedWrap: r.usedWrap === 1 }
  }

  // ---------------------------------------------------------- interrupts

  private queueInterrupt (n: number): void {
    this.interrupt(this.bar0.read16(R.queueReg(n).msixVector), R.ISR_QUEUE)
  }

  /** MSI on the given vector, or, with no vector, ISR bit then INTx. */
  private interrupt (vector: number, isrBit: number): void {
    try {
      if (vector !== R.NO_VECTOR) {
        this.ctrl.raiseMsi(vector)
        return
      }
      this.bar0.write32(R.ISR, this.bar0.read32(R.ISR) | isrBit)
      this.ctrl.raiseIntx(true)
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'interrupt not delivered')
    }
  }
}
