// The virtio side of rpmsg (drivers/rpmsg/virtio_rpmsg_bus.c with the RFC's
// address service, [P 08], [P 10], [P 13]). vq0 "input" holds the rx
// buffers, posted device-writable at probe; vq1 "output" carries tx buffers.
// Buffers (512 bytes, up to 256 per direction) come from the transport's
// pool (virtio_alloc_buffer). The name service endpoint (53, if F_NS was
// negotiated) turns NS CREATE into a channel with a new local endpoint and,
// if the message had RPMSG_AS_ANNOUNCE and F_AS was negotiated, answers
// with AS {name, dst: local, src: remote, ASSIGN} to 54; NS DESTROY removes
// the channel, sending AS FREE first for an announced one.
//
// Binding (rpmsgBind). NS CREATE makes a channel device (rpmsg_ns_cb():
// src RPMSG_ADDR_ANY, dst the announced address, no endpoint). With "kernel"
// (the default) nothing more happens until something claims it
// (RpmsgBusCore.claimChannel: an rpmsg driver whose id table names it, an
// application through the gateway, or the names in rpmsgBindChannels), as
// rpmsg_dev_probe() runs only for a matching driver: then the local
// endpoint is made (rpmsg_create_ept(), lowest free from 1024) and
// announce_create sends AS ASSIGN. When the last holder lets go
// (rpmsg_dev_remove()), announce_destroy sends AS FREE and the endpoint
// goes; src is RPMSG_ADDR_ANY again. "eager" binds every channel at once
// (a keeper binding, "soclink_eager"), as soclink did before.
//
// Unlike the RFC's announce_create, no NS message is echoed back for a
// channel the other side announced (the vhost side has no endpoint 53 and
// would drop it).

import { VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_F_RING_PACKED, VIRTIO_ID_RPMSG, VIRTIO_RING_F_EVENT_IDX, features as featureSet } from '../uapi/virtio-config.js'
import { VIRTIO_DEV_ANY_ID, type DeviceId } from '../uapi/soclink-ids.js'
import { NotFoundError } from '../errors.js'
import type { BufferPool } from '../virtio/buffer-pool.js'
import { VirtioError, type VirtioDevice, type VirtioDriver } from '../virtio/virtio.js'
import type { DriverQueue } from '../virtio/virtqueue.js'
import { RpmsgBusCore, RpmsgChannel } from './core.js'
import { VIRTIO_RPMSG_CONFIG_SIZE, VIRTIO_RPMSG_F_BUFSZ, checkBufSize, chooseBufSize, decodeBufSizes, encodeBufSizes } from './bufsz.js'
import type { RpmsgDriverTable } from './driver.js'
import {
  RPMSG_ADDR_ANY, RPMSG_AS_ADDR, RPMSG_AS_ANNOUNCE, RPMSG_AS_ASSIGN, RPMSG_AS_FREE, RPMSG_BUF_SIZE, RPMSG_BUFS_PER_DIRECTION, RPMSG_HDR_SIZE, RPMSG_NS_ADDR,
  RPMSG_NS_DESTROY, RpmsgError, VIRTIO_RPMSG_F_AS, VIRTIO_RPMSG_F_NS, decodeNsMsg, encodeAsMsg
} from './wire.js'

export class VirtioRpmsgBus extends RpmsgBusCore {
  rvq!: DriverQueue<number>
  svq!: DriverQueue<number>
  /** Every buffer this bus holds, to give back after reset. */
  private readonly allocated: number[] = []
  /** tx buffers not in the ring. */
  private readonly freeTx: number[] = []
  private stopped = false
  /**
   * DRIVER_OK is set and the queues are ours. The bus is attached to its
   * users before start() (a name service message may follow DRIVER_OK at
   * once), so sends may come before: they wait, and go at DRIVER_OK.
   */
  private live = false

  constructor (readonly dev: VirtioDevice, readonly pool: BufferPool, readonly ownBufSize = RPMSG_BUF_SIZE, readonly numBufs = RPMSG_BUFS_PER_DIRECTION,
    readonly binding: RpmsgBinding = DEFAULT_BINDING) {
    super(RPMSG_BUF_SIZE)
  }

  /** virtio_rpmsg_probe(): queues, buffers, rx posted, NS endpoint, DRIVER_OK, then the rx kick. */
  async start (): Promise<void> {
    // VIRTIO_RPMSG_F_BUFSZ (bufsz.ts): take the smaller size and tell the device, before any buffer exists.
    if (this.dev.hasFeature(VIRTIO_RPMSG_F_BUFSZ)) {
      this.bufSize = chooseBufSize(this.ownBufSize, decodeBufSizes(this.dev.ops.getConfig(0, VIRTIO_RPMSG_CONFIG_SIZE)))
      this.dev.ops.setConfig(0, encodeBufSizes({ txbufSize: this.bufSize, rxbufSize: this.bufSize }))
      if (this.bufSize !== RPMSG_BUF_SIZE) this.emit('buf-size', this.bufSize)
    }
    [this.rvq, this.svq] = await this.dev.findVqs<number>([
      { name: 'input', callback: () => { this.onRx() } },
      { name: 'output', callback: () => { this.pump() } }
    ])
    // As many buffers as the rings hold, up to numBufs (virtio_rpmsg_probe: MAX_RPMSG_NUM_BUFS / 2).
    const nrx = Math.min(this.numBufs, this.rvq.num)
    const ntx = Math.min(this.numBufs, this.svq.num)
    for (let i = 0; i < nrx + ntx; i++) {
      const addr = this.pool.alloc(this.bufSize)
      if (addr === null) {
        this.release()
        throw new RpmsgError('ERR_RPMSG_NO_BUFFER', `${this.dev.name}: the buffer pool has no room for ${nrx + ntx} rpmsg buffers`)
      }
      this.allocated.push(addr)
      if (i < nrx) this.rvq.add([], [{ addr, len: this.bufSize }], addr)
      else this.freeTx.push(addr)
    }
    this.svq.disableCb()
    if (this.dev.hasFeature(VIRTIO_RPMSG_F_NS)) this.endpoints.create(RPMSG_NS_ADDR, (p, src) => { this.onNs(p, src) }, { internal: true })
    await this.dev.addStatus(VIRTIO_CONFIG_S_DRIVER_OK)
    this.rvq.kick()
    if (this.stopped) return
    this.live = true
    this.queueReady()
  }

  /** The driver is going, or start() failed: fail waiting sends, drop channels and endpoints. */
  stop (err: Error): void {
    this.stopped = true
    this.live = false
    this.abortWaiters(err)
    this.dropChannels()
    this.endpoints.clear()
  }

  /** After reset: every buffer back to the pool. */
  release (): void {
    for (const addr of this.allocated) this.pool.free(addr)
    this.allocated.length = 0
    this.freeTx.length = 0
  }

  protected post (header: Uint8Array, payload: Uint8Array): boolean {
    if (!this.live || this.dev.broken) return false
    if (this.freeTx.length === 0) for (let b = this.svq.getBuf(); b !== null; b = this.svq.getBuf()) this.freeTx.push(b.token)
    const addr = this.freeTx.pop()
    if (addr === undefined) return false
    const memory = this.pool.memory
    memory.write(addr, header)
    memory.write(addr + RPMSG_HDR_SIZE, payload)
    this.svq.add([{ addr, len: RPMSG_HDR_SIZE + payload.length }], [], addr)
    this.svq.kick()
    return true
  }

  /** Until DRIVER_OK (or after stop) there is no queue to hear from: start() pumps what waits then. */
  protected arm (): boolean { return this.live ? this.svq.enableCb() : true }
  protected disarm (): void { if (this.live) this.svq.disableCb() }

  /** rpmsg_recv_done(): callbacks off while draining, one more look after turning them on ([P 08]). */
  private onRx (): void {
    let n = 0
    do {
      this.rvq.disableCb()
      for (let b = this.rvq.getBuf(); b !== null; b = this.rvq.getBuf()) {
        const addr = b.token
        if (b.len > this.bufSize) {
          this.counters.malformed++
          this.fault(new RpmsgError('ERR_RPMSG_SIZE', `used length ${b.len} is more than a ${this.bufSize}-byte buffer`), 'ERR_RPMSG_SIZE')
        } else {
          this.receive(this.pool.memory.read(addr, b.len))
        }
        if (this.stopped) return
        this.rvq.add([], [{ addr, len: this.bufSize }], addr)
        n++
      }
    } while (!this.rvq.enableCb())
    if (n > 0) this.rvq.kick()
  }

  /** rpmsg_ns_cb(). */
  private onNs (payload: Uint8Array, src: number): void {
    let msg
    try {
      msg = decodeNsMsg(payload)
    } catch (err) {
      this.counters.serviceErrors++
      this.fault(err, 'ERR_RPMSG_FORMAT')
      return
    }
    const existing = this.channels.get(msg.name)
    if ((msg.flags & RPMSG_NS_DESTROY) !== 0) {
      if (existing === undefined || existing.dst !== msg.addr) {
        this.counters.serviceErrors++
        this.fault(new RpmsgError('ERR_RPMSG_ADDR', `NS DESTROY from ${src} for unknown channel ${msg.name} at ${msg.addr}`), 'ERR_RPMSG_ADDR')
        return
      }
      // rpmsg_unregister_device(): a bound channel is removed from its driver first (announce_destroy: AS FREE);
      // its src stays what it was, so 'channel-destroyed' names the channel as its users knew it.
      if (existing.src !== RPMSG_ADDR_ANY) {
        if (existing.announce && this.dev.hasFeature(VIRTIO_RPMSG_F_AS)) this.sendAs(existing, RPMSG_AS_FREE)
        this.destroyEndpoint(existing.src)
      }
      this.channels.delete(existing.name)
      this.emit('channel-destroyed', existing)
      existing.emit('destroyed')
      return
    }
    if (existing !== undefined || msg.addr === RPMSG_ADDR_ANY) {
      this.counters.serviceErrors++
      this.fault(new RpmsgError('ERR_RPMSG_ADDR', `NS CREATE from ${src}: channel ${msg.name} at ${msg.addr} is a duplicate or has no address`), 'ERR_RPMSG_ADDR')
      return
    }
    const ch = new RpmsgChannel(this, msg.name, RPMSG_ADDR_ANY, msg.addr)
    ch.announce = (msg.flags & RPMSG_AS_ANNOUNCE) !== 0
    this.channels.set(ch.name, ch)
    // Kept before anyone hears of it (as eager binding always was): 'channel-created' shows it bound, and drivers claim over the keeper.
    ch.keeper = this.binding.mode === 'eager' ? EAGER_DRIVER : this.binding.channels.includes(ch.name) ? CONFIG_DRIVER : null
    if (ch.keeper !== null) this.bound(ch)
    this.emit('channel-created', ch)
  }

  /** rpmsg_dev_probe(): the channel's endpoint, then announce_create (AS ASSIGN). */
  protected override bound (ch: RpmsgChannel): void {
    const ept = this.endpoints.create(RPMSG_ADDR_ANY, (p, from) => { ch.emit('message', p, from) })
    ch.src = ept.addr
    if (ch.announce && this.dev.hasFeature(VIRTIO_RPMSG_F_AS)) this.sendAs(ch, RPMSG_AS_ASSIGN)
  }

  /** rpmsg_dev_remove(): announce_destroy (AS FREE, from the endpoint about to go), then the endpoint. */
  protected override unbound (ch: RpmsgChannel): void {
    if (ch.announce && this.dev.hasFeature(VIRTIO_RPMSG_F_AS)) this.sendAs(ch, RPMSG_AS_FREE)
    this.destroyEndpoint(ch.src)
    ch.src = RPMSG_ADDR_ANY
  }

  /** The RFC's announce_create / announce_destroy: AS {name, dst: local, src: remote, flags} to 54. */
  private sendAs (ch: RpmsgChannel, flags: number): void {
    const body = encodeAsMsg({ name: ch.name, dst: ch.src, src: ch.dst, flags })
    this.sendService(ch.src, RPMSG_AS_ADDR, body, 'ERR_RPMSG_TIMEOUT')
  }
}

/** The keeper binding of rpmsgBind eager, and of rpmsgBindChannels (RpmsgBusCore.claimChannel). */
export const EAGER_DRIVER = 'soclink_eager'
export const CONFIG_DRIVER = 'soclink_config'

/** rpmsgBind and rpmsgBindChannels: when announced channels are bound. */
export interface RpmsgBinding {
  /** kernel: when claimed (rpmsg_dev_probe); eager: at once. */
  mode: 'kernel' | 'eager'
  /** Bound at once, in kernel mode too. */
  channels: readonly string[]
}

export const DEFAULT_BINDING: RpmsgBinding = { mode: 'kernel', channels: [] }

export interface VirtioRpmsgDriverOptions {
  /** Ask for VIRTIO_RING_F_EVENT_IDX; default true. */
  eventIdx?: boolean
  /** Ask for VIRTIO_F_RING_PACKED; default false. */
  packed?: boolean
  /** Buffer size this side takes (bufsz.ts); above 512 it asks for VIRTIO_RPMSG_F_BUFSZ. Default 512. */
  bufSize?: number
  /** Buffers per direction at most (fewer if the rings are smaller); default 256. */
  numBufs?: number
  /** The daemon's rpmsg drivers, matched against the channels of every bus this driver makes. */
  drivers?: RpmsgDriverTable
  /** When announced channels are bound; default kernel, none by configuration. */
  binding?: RpmsgBinding
}

/** virtio_rpmsg_bus: {VIRTIO_ID_RPMSG, any vendor}, features F_NS | F_AS. */
export class VirtioRpmsgDriver implements VirtioDriver {
  readonly name = 'virtio_rpmsg_bus'
  readonly idTable: readonly DeviceId[] = [{ device: VIRTIO_ID_RPMSG, vendor: VIRTIO_DEV_ANY_ID }]
  readonly features: bigint
  private readonly buses = new Map<VirtioDevice, VirtioRpmsgBus>()
  /**
   * Buses whose probe failed after posting buffers, by device: the device
   * may still hold those buffers, so they go back to the pool only once it
   * has been reset, which the virtio bus does before it probes it again.
   */
  private readonly failed = new Map<VirtioDevice, VirtioRpmsgBus>()
  private readonly drivers: RpmsgDriverTable | undefined
  private readonly bufSize: number
  private readonly numBufs: number
  private readonly binding: RpmsgBinding

  constructor (options: VirtioRpmsgDriverOptions = {}) {
    this.drivers = options.drivers
    this.binding = options.binding ?? DEFAULT_BINDING
    this.bufSize = checkBufSize(options.bufSize ?? RPMSG_BUF_SIZE)
    this.numBufs = options.numBufs ?? RPMSG_BUFS_PER_DIRECTION
    this.features = featureSet(VIRTIO_RPMSG_F_NS, VIRTIO_RPMSG_F_AS) |
      (this.bufSize > RPMSG_BUF_SIZE ? featureSet(VIRTIO_RPMSG_F_BUFSZ) : 0n) |
      (options.eventIdx === false ? 0n : featureSet(VIRTIO_RING_F_EVENT_IDX)) |
      (options.packed === true ? featureSet(VIRTIO_F_RING_PACKED) : 0n)
  }

  async probe (dev: VirtioDevice): Promise<void> {
    const pool = dev.ops.buffers
    if (pool === null) throw new VirtioError('ERR_VIRTIO_DRIVER', `${dev.name}: the transport gives no buffer memory`)
    // The device was reset before this probe (virtio/bus.ts start): a failed probe's buffers are free again.
    this.failed.get(dev)?.release()
    this.failed.delete(dev)
    const bus = new VirtioRpmsgBus(dev, pool, this.bufSize, this.numBufs, this.binding)
    // Attached before start: a name service message may follow DRIVER_OK at once.
    this.drivers?.attach(bus, { side: 'virtio', device: dev.name })
    try {
      await bus.start()
    } catch (err) {
      // Sends that waited for the bus to start fail now, with a code the gateway's users know.
      bus.stop(new RpmsgError('ERR_RPMSG_DETACHED', `${dev.name}: the rpmsg bus did not start: ${err instanceof Error ? err.message : String(err)}`))
      this.drivers?.detach(bus)
      this.failed.set(dev, bus)
      throw err
    }
    this.buses.set(dev, bus)
  }

  /** Reset first so the device lets go of the buffers, then take them back. */
  async remove (dev: VirtioDevice): Promise<void> {
    const bus = this.buses.get(dev)
    if (bus === undefined) return
    this.buses.delete(dev)
    bus.stop(new VirtioError('ERR_VIRTIO_REMOVED', `${dev.name}: the rpmsg driver was removed`))
    this.drivers?.detach(bus)
    await dev.reset()
    bus.release()
  }

  /** Every bus, one per device bound. */
  allBuses (): VirtioRpmsgBus[] { return [...this.buses.values()] }

  /** The bus on `dev`, or on the only device bound. */
  bus (dev?: VirtioDevice): VirtioRpmsgBus {
    const bus = dev === undefined && this.buses.size === 1 ? [...this.buses.values()][0] : this.buses.get(dev!)
    if (bus === undefined) throw new NotFoundError('virtio rpmsg device', dev?.name ?? '(none)')
    return bus
  }
}
