// virtio-pci-epf: the root complex's virtio transport for an endpoint that
// runs pci-epf-vhost (the RFC's drivers/virtio/virtio_pci_epf.c). It drives
// the register block in the function's BAR0 through the rc's window onto it:
// features and status through HOST_CMD, rings placed in rc system memory and
// handed over with QUEUE_ADDR + ACTIVATE, kicks as QUEUE_CMD NOTIFY, and
// interrupts as MSI (vector 0 config, vector n + 1 queue n) or INTx + ISR.
// Commands never block the event loop (command-channel.ts).

import type { Logger } from 'pino'
import type { Window } from '../mem/window.js'
import type { EndpointFunction, RootComplex } from '../hw/pcie/root-complex.js'
import { VirtioDevice, type VirtioConfigOps, type VqSpec, type FindVqsOptions } from '../virtio/virtio.js'
import { createDriverRing, ringBytes, Virtqueue, type DriverQueue } from '../virtio/virtqueue.js'
import type { BufferPool } from '../virtio/buffer-pool.js'
import { VIRTIO_CONFIG_S_NEEDS_RESET } from '../uapi/virtio-config.js'
import { ConflictError, OutOfRangeError } from '../errors.js'
import { CommandChannel } from './command-channel.js'
import * as R from './epf-vhost-regs.js'

export interface VirtioPciEpfOptions {
  fn: EndpointFunction
  rc: RootComplex
  /** Rings and buffers, in rc system memory. */
  pool: BufferPool
  /** Interrupt mode: MSI vectors, or INTx with ISR. */
  msi: boolean
  logger: Logger
}

/** Whether the RC driver binds this function (virtio_pci_epf.c's id table). */
export function isEpfVhost (fn: EndpointFunction): boolean {
  return fn.header.vendorId === R.TI_VENDOR_ID && (R.EPF_DEVICE_IDS as readonly number[]).includes(fn.header.deviceId)
}

export class VirtioPciEpf implements VirtioConfigOps {
  readonly device: VirtioDevice
  readonly buffers: BufferPool
  readonly peer: string
  private readonly bar0: Window
  private readonly channel: CommandChannel
  private readonly opts: VirtioPciEpfOptions
  private queues: Array<Virtqueue<unknown>> = []
  private rings: number[] = []
  private readonly unlisten: Array<() => void> = []
  /** Called when the device sets DEVICE_NEEDS_RESET (the bus re-probes or fails it). */
  onNeedsReset: (() => void) | null = null

  constructor (opts: VirtioPciEpfOptions) {
    this.opts = opts
    this.peer = opts.fn.peer
    this.buffers = opts.pool
    const bar = opts.fn.bars.find((b) => b.index === 0)
    if (bar === undefined || bar.size < R.BAR0_SIZE) throw new ConflictError(`${this.peer}: BAR0 of ${R.BAR0_SIZE} bytes is missing`)
    this.bar0 = bar.window
    this.channel = new CommandChannel(this.bar0)
    this.device = new VirtioDevice({ device: opts.fn.header.subsystemId, vendor: opts.fn.header.subsystemVendorId }, this)
    this.unlisten.push(opts.rc.onMsi(this.peer, (vector) => { this.vector(vector) }))
    this.unlisten.push(opts.rc.onIntx(this.peer, (level) => { if (level) this.intx() }))
    this.unlisten.push(opts.pool.memory === opts.rc.sysmem
      ? opts.rc.sysmem.observe((offset, length, origin) => { if (origin !== null) this.deviceWrote(offset, length) })
      : () => {})
  }

  /**
   * The device wrote into a ring: if it was the part where it asks for
   * kicks (used->flags and avail_event, or the packed device area), a kick
   * decided on the old value may be owed now.
   */
  private deviceWrote (offset: number, length: number): void {
    for (const vq of this.queues) {
      const a = vq.addrs
      const from = a.device
      const to = a.layout === 'split' ? a.device + 4 + 8 * a.num + 2 : a.device + 4
      if (offset < to && offset + length > from) vq.recheck()
    }
  }

  close (): void {
    for (const u of this.unlisten) u()
    this.channel.close()
  }

  getFeatures (): bigint {
    return BigInt(this.bar0.read32(R.HOST_FEATURES)) | (BigInt(this.bar0.read32(R.HOST_FEATURES + 4)) << 32n)
  }

  async finalizeFeatures (features: bigint): Promise<void> {
    this.bar0.write32(R.GUEST_FEATURES, Number(features & 0xffff_ffffn))
    this.bar0.write32(R.GUEST_FEATURES + 4, Number(features >> 32n))
    await this.channel.hostCommand(R.HostCmd.FINALIZE_FEATURES, 'FINALIZE_FEATURES')
  }

  getStatus (): number { return this.bar0.read8(R.DEVICE_STATUS) }

  async setStatus (status: number): Promise<void> {
    // The RFC refuses set_status(0): a reset goes through RESET.
    if (status === 0) { await this.reset(); return }
    this.bar0.write8(R.DEVICE_STATUS, status)
    await this.channel.hostCommand(R.HostCmd.SET_STATUS, `SET_STATUS 0x${status.toString(16)}`)
  }

  /** RESET; a function already gone (its BAR0 window closed) has nothing to reset. */
  async reset (): Promise<void> {
    if (this.bar0.state === 'open') await this.channel.hostCommand(R.HostCmd.RESET, 'RESET')
    this.freeRings()
  }

  async findVqs<T = unknown> (specs: ReadonlyArray<VqSpec<T>>, opts: FindVqsOptions): Promise<Array<DriverQueue<T>>> {
    const out: Array<DriverQueue<T>> = []
    for (let i = 0; i < specs.length; i++) {
      const r = R.queueReg(i)
      const num = this.bar0.read16(r.numBuffers)
      // setup_vq() of virtio_pci_epf.c: no such queue, or one already active.
      if (num === 0) throw new OutOfRangeError(`${this.peer}: the device has no queue ${i}`)
      if ((this.bar0.read16(r.status) & R.QUEUE_STATUS_ACTIVE) !== 0) throw new ConflictError(`${this.peer}: queue ${i} is already active`)
      const bytes = ringBytes(opts.layout, num, R.VRING_ALIGN)
      const base = this.buffers.alloc(bytes, R.VRING_ALIGN)
      if (base === null) throw new OutOfRangeError(`${this.peer}: no room for a ${bytes}-byte ring in system memory`)
      this.rings.push(base)
      const { ring, addrs } = createDriverRing<T>(this.buffers.memory, { layout: opts.layout, num, base, align: R.VRING_ALIGN, features: this.device.features })
      const spec = specs[i]!
      const vq = new Virtqueue<T>(ring, { index: i, name: spec.name, addrs, callback: spec.callback, notify: () => { this.channel.notify(i) } })
      this.bar0.write32(r.addr, base % 0x1_0000_0000)
      this.bar0.write32(r.addr + 4, Math.floor(base / 0x1_0000_0000))
      // The vector is set before ACTIVATE, so the first interrupt finds it.
      this.bar0.write16(r.msixVector, this.opts.msi ? i + 1 : R.NO_VECTOR)
      await this.channel.queueCommand(i, R.QueueCmd.ACTIVATE, `ACTIVATE queue ${i}`)
      this.queues[i] = vq as Virtqueue<unknown>
      out.push(vq)
    }
    this.bar0.write16(R.MSIX_CONFIG, this.opts.msi ? 0 : R.NO_VECTOR)
    return out
  }

  async delVqs (): Promise<void> {
    for (const vq of this.queues) {
      if (this.bar0.state === 'open') await this.channel.queueCommand(vq.index, R.QueueCmd.DEACTIVATE, `DEACTIVATE queue ${vq.index}`)
    }
    this.freeRings()
  }

  getConfig (offset: number, length: number): Uint8Array {
    if (offset + length > R.DEVICE_CFG_SIZE) throw new OutOfRangeError('device config read past its end')
    return this.bar0.read(R.DEVICE_CFG_SPACE + offset, length)
  }

  setConfig (offset: number, bytes: Uint8Array): void {
    if (offset + bytes.length > R.DEVICE_CFG_SIZE) throw new OutOfRangeError('device config write past its end')
    this.bar0.write(R.DEVICE_CFG_SPACE + offset, bytes)
  }

  get vqs (): ReadonlyArray<Virtqueue<unknown>> { return this.queues }

  private freeRings (): void {
    for (const base of this.rings) this.buffers.free(base)
    this.rings = []
    this.queues = []
  }

  private vector (vector: number): void {
    if (vector === 0) { this.configChanged(); return }
    this.queues[vector - 1]?.interrupt()
  }

  /**
   * INTx: clear ISR and service the config and every queue. virtio-pci's ISR
   * is read-to-clear in one access; here the read comes from the BAR0
   * replica and the clear is a posted write, so a bit the endpoint sets
   * meanwhile can be wiped unseen. The line is shared anyway, so each
   * assertion services everything, and no interrupt depends on ISR's bits.
   */
  private intx (): void {
    this.bar0.write32(R.ISR, 0)
    this.configChanged()
    for (const q of this.queues) q.interrupt()
  }

  private configChanged (): void {
    if ((this.getStatus() & VIRTIO_CONFIG_S_NEEDS_RESET) === 0) return
    this.opts.logger.warn({ peer: this.peer }, 'device set NEEDS_RESET')
    this.onNeedsReset?.()
  }
}
