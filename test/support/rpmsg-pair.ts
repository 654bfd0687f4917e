// The virtio core and the vhost core joined in process over ONE Region (the
// virtio side's memory), as in test/unit/virtio-core-pair.test.ts, with the
// rpmsg drivers bound on both sides. Notifications are doorbells delivered
// on a later turn (setImmediate), coalesced; pause() holds them until
// resume(), so a side can be made to stop taking buffers.

import { once } from 'node:events'
import { Region } from '../../daemon/src/mem/region.js'
import type { RpmsgChannel } from '../../daemon/src/rpmsg/core.js'
import { VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_NEEDS_RESET, VIRTIO_ID_RPMSG } from '../../daemon/src/uapi/virtio-config.js'
import { FirstFitPool } from '../../daemon/src/virtio/buffer-pool.js'
import { VirtioBus } from '../../daemon/src/virtio/bus.js'
import { VirtioDevice, type VirtioConfigOps } from '../../daemon/src/virtio/virtio.js'
import { Virtqueue, createDriverRing, ringBytes } from '../../daemon/src/virtio/virtqueue.js'
import { VhostBus } from '../../daemon/src/vhost/bus.js'
import { VhostDevice, type VhostConfigOps } from '../../daemon/src/vhost/vhost.js'
import { VhostVirtqueue, createDeviceRing } from '../../daemon/src/vhost/virtqueue.js'
import { VirtioRpmsgDriver, type VirtioRpmsgBus } from '../../daemon/src/rpmsg/virtio-rpmsg.js'
import { VhostRpmsgDriver, type VhostRpmsgBus } from '../../daemon/src/rpmsg/vhost-rpmsg.js'

export class RpmsgLoop {
  readonly mem = new Region(1, 'rc', 8 << 20)
  readonly pool = new FirstFitPool(this.mem, 0x1000, (8 << 20) - 0x1000)
  status = 0
  offered = 0n
  accepted = 0n
  vhostVqs: VhostVirtqueue[] = []
  /** The device's config space. */
  readonly config = new Uint8Array(64)
  virtioVqs: Array<Virtqueue<unknown>> = []
  readonly vhost: VhostDevice
  readonly virtio = new VirtioDevice({ device: VIRTIO_ID_RPMSG, vendor: 0x1af4 }, this.virtioOps())
  private readonly pending = new Set<object>()
  private held: Array<() => void> | null = null
  private rings: number[] = []

  /** `noConfig`: the vhost side's transport has no config space (no writeConfig/readConfig). */
  constructor (readonly noConfig = false) {
    this.vhost = new VhostDevice({ device: VIRTIO_ID_RPMSG, vendor: 0x1af4 }, this.vhostOps())
    this.vhost.on('needs-reset', () => { this.vhost.setStatus(this.status | VIRTIO_CONFIG_S_NEEDS_RESET) })
  }

  /** Holds every doorbell until resume(). */
  pause (): void { this.held ??= [] }

  resume (): void {
    const held = this.held ?? []
    this.held = null
    for (const deliver of held) setImmediate(deliver)
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
      finalizeFeatures: async (f) => { this.accepted = f },
      getStatus: () => this.status,
      setStatus: async (s) => { this.writeStatus(s) },
      reset: async () => {
        for (const q of this.vhostVqs) q.deactivate()
        this.status = 0
        this.vhost.notifyReset()
      },
      findVqs: async (specs, { layout }) => {
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

export interface RpmsgPair {
  loop: RpmsgLoop
  virtioBus: VirtioBus
  vhostDriver: VhostRpmsgDriver
  virtioDriver: VirtioRpmsgDriver
  /** The vhost side's rpmsg bus. */
  vhost: VhostRpmsgBus
  /** The virtio side's rpmsg bus. */
  virtio: VirtioRpmsgBus
}

/** Both sides bound: vhost first (it publishes its queues), then virtio (DRIVER_OK). */
export interface RpmsgPairOptions {
  packed?: boolean
  /** Buffer sizes each side is configured for (default 512). */
  virtioBufSize?: number
  vhostBufSize?: number
  /** The vhost side's transport has no config space. */
  noConfig?: boolean
  /** Buffers per direction (both sides; default 256). */
  numBufs?: number
}

export async function rpmsgPair (opts: RpmsgPairOptions = {}): Promise<RpmsgPair> {
  const loop = new RpmsgLoop(opts.noConfig === true)
  const vbus = new VhostBus()
  const vhostDriver = new VhostRpmsgDriver({ bufSize: opts.vhostBufSize, numBufs: opts.numBufs })
  await vbus.registerDriver(vhostDriver)
  if (await vbus.registerDevice(loop.vhost) !== 'bound') throw new Error(`vhost side did not bind: ${loop.vhost.lastError?.message}`)
  const virtioBus = new VirtioBus()
  const virtioDriver = new VirtioRpmsgDriver({ packed: opts.packed === true, bufSize: opts.virtioBufSize, numBufs: opts.numBufs })
  await virtioBus.registerDriver(virtioDriver)
  const outcome = await virtioBus.addDevice(loop.virtio)
  if (outcome !== 'bound') throw new Error(`virtio side: ${outcome}: ${loop.virtio.lastError?.message}`)
  return { loop, virtioBus, vhostDriver, virtioDriver, vhost: vhostDriver.bus(loop.vhost), virtio: virtioDriver.bus(loop.virtio) }
}

/** A pair with one channel made on the vhost side, seen on the virtio side (name service) and bound (address service). */
export async function rpmsgChannelPair (name: string, opts: RpmsgPairOptions = {}): Promise<{ pair: RpmsgPair, host: RpmsgChannel, guest: RpmsgChannel }> {
  const pair = await rpmsgPair(opts)
  const created = once(pair.virtio, 'channel-created') as Promise<[RpmsgChannel]>
  const bound = once(pair.vhost, 'channel-bound') as Promise<[RpmsgChannel]>
  const host = pair.vhost.createChannel(name)
  const [guest] = await created
  await bound
  return { pair, host, guest }
}
