// The virtio core and the vhost core joined in process over ONE Region (the
// virtio side's memory): status and features go straight across,
// FEATURES_OK and DRIVER_OK reach the vhost device's notifier, DRIVER_OK
// activates the device rings, and notifications are doorbells delivered on
// a later turn (setImmediate), coalesced as a doorbell bit is. pause() holds
// them until resume(), so a side can be made to stop taking buffers.
// stall() holds the virtio side's config operations (status, features,
// queues, reset) until unstall(), as a device behind a link whose far
// end has stopped answering; unstall(error) fails them instead.

import { Region } from '../../daemon/src/mem/region.js'
import type { SoclinkError } from '../../daemon/src/errors.js'
import { VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_NEEDS_RESET } from '../../daemon/src/uapi/virtio-config.js'
import { FirstFitPool } from '../../daemon/src/virtio/buffer-pool.js'
import { VirtioDevice, type VirtioConfigOps } from '../../daemon/src/virtio/virtio.js'
import { Virtqueue, createDriverRing, ringBytes } from '../../daemon/src/virtio/virtqueue.js'
import { VhostDevice, type VhostConfigOps } from '../../daemon/src/vhost/vhost.js'
import { VhostVirtqueue, createDeviceRing, type VhostQueue } from '../../daemon/src/vhost/virtqueue.js'

export interface VirtioLoopOptions {
  /** The virtio device id both sides carry. */
  device: number
  /** The vhost side's transport has no config space (no writeConfig/readConfig). */
  noConfig?: boolean
}

export class VirtioLoop {
  readonly mem = new Region(1, 'rc', 8 << 20)
  readonly pool = new FirstFitPool(this.mem, 0x1000, (8 << 20) - 0x1000)
  status = 0
  offered = 0n
  accepted = 0n
  vhostVqs: VhostVirtqueue[] = []
  /** The device's config space. */
  readonly config = new Uint8Array(64)
  virtioVqs: Array<Virtqueue<unknown>> = []
  /** Every 'needs-reset' the vhost device raised, in order. */
  readonly needsReset: Array<{ vq: VhostQueue | null, error: SoclinkError }> = []
  readonly vhost: VhostDevice
  readonly virtio: VirtioDevice
  readonly noConfig: boolean
  private readonly pending = new Set<object>()
  private held: Array<() => void> | null = null
  private gate: { wait: Promise<void>, open: (err?: Error) => void } | null = null
  private rings: number[] = []

  constructor (opts: VirtioLoopOptions) {
    this.noConfig = opts.noConfig === true
    this.vhost = new VhostDevice({ device: opts.device, vendor: 0x1af4 }, this.vhostOps())
    this.virtio = new VirtioDevice({ device: opts.device, vendor: 0x1af4 }, this.virtioOps())
    this.vhost.on('needs-reset', (vq, error) => {
      this.needsReset.push({ vq, error })
      this.vhost.setStatus(this.status | VIRTIO_CONFIG_S_NEEDS_RESET)
    })
  }

  /** Holds every doorbell until resume(). */
  pause (): void { this.held ??= [] }

  resume (): void {
    const held = this.held ?? []
    this.held = null
    for (const deliver of held) setImmediate(deliver)
  }

  /** Holds every virtio config operation until unstall(). */
  stall (): void {
    if (this.gate !== null) return
    let open!: (err?: Error) => void
    const wait = new Promise<void>((resolve, reject) => { open = (err) => { if (err === undefined) resolve(); else reject(err) } })
    // A gate nobody waited at is not an unhandled rejection.
    wait.catch(() => undefined)
    this.gate = { wait, open }
  }

  /** Lets the held operations go on, or fails them with `err`. */
  unstall (err?: Error): void {
    const g = this.gate
    this.gate = null
    g?.open(err)
  }

  private async answered (): Promise<void> {
    if (this.gate !== null) await this.gate.wait
  }

  /** A doorbell: one delivery on a later turn however often it rings meanwhile. */
  ring (target: object, deliver: () => void): void {
    if (this.pending.has(target)) return
    this.pending.add(target)
    const run = (): void => { this.pending.delete(target); deliver() }
    if (this.held !== null) this.held.push(run)
    else setImmediate(run)
  }

  private writeStatus (s: number): void {
    const added = s & ~this.status
    this.status = s
    if ((added & VIRTIO_CONFIG_S_FEATURES_OK) !== 0 && !this.vhost.notifyFinalizeFeatures(this.accepted)) this.status &= ~VIRTIO_CONFIG_S_FEATURES_OK
    if ((added & VIRTIO_CONFIG_S_DRIVER_OK) !== 0) {
      this.vhostVqs.forEach((q, i) => { q.activate(() => createDeviceRing(this.mem, this.virtioVqs[i]!.addrs, this.accepted)) })
    }
    this.vhost.notifySetStatus(this.status)
  }

  private virtioOps (): VirtioConfigOps {
    return {
      buffers: this.pool,
      getFeatures: () => this.offered,
      finalizeFeatures: async (f) => { await this.answered(); this.accepted = f },
      getStatus: () => this.status,
      setStatus: async (s) => { await this.answered(); this.writeStatus(s) },
      reset: async () => {
        await this.answered()
        for (const q of this.vhostVqs) q.deactivate()
        this.status = 0
        this.vhost.notifyReset()
      },
      findVqs: async (specs, { layout }) => {
        await this.answered()
        if (specs.length > this.vhostVqs.length) throw new Error(`${specs.length} queues asked, ${this.vhostVqs.length} offered`)
        return specs.map((spec, index) => {
          const num = this.vhostVqs[index]!.num
          const base = this.pool.alloc(ringBytes(layout, num), 16)!
          this.rings.push(base)
          const { ring, addrs } = createDriverRing<never>(this.mem, { layout, num, base, features: this.accepted })
          const vq = new Virtqueue(ring, { index, name: spec.name, addrs, callback: spec.callback, notify: () => { this.ring(this.vhostVqs[index]!, () => { this.vhostVqs[index]?.trigger() }) } })
          this.virtioVqs[index] = vq as Virtqueue<unknown>
          return vq
        })
      },
      delVqs: async () => {
        for (const base of this.rings) this.pool.free(base)
        this.rings = []
        this.virtioVqs = []
      },
      getConfig: (offset, length) => this.config.slice(offset, offset + length),
      setConfig: (offset, bytes) => { this.config.set(bytes, offset) }
    }
  }

  private vhostOps (): VhostConfigOps {
    return {
      createVqs: (nvqs, num, callbacks, names) => {
        this.vhostVqs = Array.from({ length: nvqs }, (_, index) => new VhostVirtqueue({
          index, name: names[index]!, num, callback: callbacks[index] ?? null,
          notify: () => { this.ring(this.virtioVqs[index] ?? {}, () => { this.virtioVqs[index]?.interrupt() }) }
        }))
        return this.vhostVqs
      },
      delVqs: () => { this.vhostVqs = [] },
      read: (addr, length) => this.mem.read(addr, length),
      write: (addr, bytes) => { this.mem.write(addr, bytes) },
      setFeatures: (f) => { this.offered = f },
      setStatus: (s) => { this.status = s },
      getStatus: () => this.status,
      ...(this.noConfig
        ? {}
        : {
            writeConfig: (offset: number, bytes: Uint8Array) => { this.config.set(bytes, offset) },
            readConfig: (offset: number, length: number) => this.config.slice(offset, offset + length)
          })
    }
  }
}
