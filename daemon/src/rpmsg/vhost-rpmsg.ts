// The vhost side of rpmsg (the RFC's drivers/rpmsg/vhost_rpmsg_bus.c).
// probe offers F_NS | F_AS (and VERSION_1, EVENT_IDX, RING_PACKED) and creates two
// queues: vq0 "output" (the device writes messages into the virtio side's
// rx buffers) and vq1 "input" (the device reads the virtio side's tx
// buffers). On FINALIZE_FEATURES it creates the address service endpoint at
// 54 (F_AS is required, as in the RFC; it has no NS endpoint at 53).
// createChannel(name) makes an endpoint from 1024 up and, once the status
// has DRIVER_OK, announces it with NS {name, addr, CREATE | AS_ANNOUNCE} to
// 53; AS ASSIGN binds the channel's remote address, AS FREE unbinds it.
// destroyChannel(name) sends NS DESTROY (the virtio side answers AS FREE,
// which then finds no channel and is ignored).

import {
  VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1, VIRTIO_ID_RPMSG, VIRTIO_RING_F_EVENT_IDX, features as featureSet, hasFeature
} from '../uapi/virtio-config.js'
import { VIRTIO_DEV_ANY_ID, type DeviceId } from '../uapi/soclink-ids.js'
import { ConflictError, NotFoundError } from '../errors.js'
import type { VhostDevice, VhostDriver } from '../vhost/vhost.js'
import type { VhostQueue } from '../vhost/virtqueue.js'
import { iovPull, iovPush } from '../vhost/vringh-iov.js'
import { RpmsgBusCore, RpmsgChannel } from './core.js'
import { VIRTIO_RPMSG_CONFIG_SIZE, VIRTIO_RPMSG_F_BUFSZ, acceptedBufSize, checkBufSize, decodeBufSizes, encodeBufSizes } from './bufsz.js'
import type { RpmsgDriverTable } from './driver.js'
import {
  RPMSG_ADDR_ANY, RPMSG_AS_ADDR, RPMSG_AS_ANNOUNCE, RPMSG_AS_ASSIGN, RPMSG_AS_FREE, RPMSG_BUF_SIZE, RPMSG_BUFS_PER_DIRECTION, RPMSG_NS_ADDR,
  RPMSG_NS_CREATE, RPMSG_NS_DESTROY, RpmsgError, VIRTIO_RPMSG_F_AS, VIRTIO_RPMSG_F_NS, checkName, decodeAsMsg, encodeNsMsg
} from './wire.js'

/**
 * What the device offers: F_NS | F_AS (the RFC's), VERSION_1, EVENT_IDX and
 * RING_PACKED. The driver chooses: a virtio side asked for packed rings
 * (setting ring: packed) gets them, as the test device's do; one that does
 * not ask keeps split rings.
 */
export const VHOST_RPMSG_FEATURES = featureSet(VIRTIO_RPMSG_F_NS, VIRTIO_RPMSG_F_AS, VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_F_RING_PACKED)

export class VhostRpmsgBus extends RpmsgBusCore {
  /** vq0 "output": messages to the virtio side. */
  svq: VhostQueue | undefined
  /** vq1 "input": messages from the virtio side. */
  rvq: VhostQueue | undefined
  /** DRIVER_OK seen since the last reset. */
  running = false
  private readonly unsubscribe: Array<() => void> = []
  /** VIRTIO_RPMSG_F_BUFSZ was negotiated: the size is read back at DRIVER_OK. */
  private bufsz = false

  /** `ownBufSize` above 512 is offered with VIRTIO_RPMSG_F_BUFSZ when the transport has a config space (bufsz.ts). */
  constructor (readonly dev: VhostDevice, readonly numBufs = RPMSG_BUFS_PER_DIRECTION, readonly offered = VHOST_RPMSG_FEATURES, readonly ownBufSize = RPMSG_BUF_SIZE) {
    super(RPMSG_BUF_SIZE)
  }

  start (): void {
    const canConfigure = this.ownBufSize > RPMSG_BUF_SIZE && this.dev.ops.writeConfig !== undefined && this.dev.ops.readConfig !== undefined
    if (canConfigure) this.publishBufSize()
    this.dev.setFeatures(canConfigure ? this.offered | featureSet(VIRTIO_RPMSG_F_BUFSZ) : this.offered)
    const [svq, rvq] = this.dev.createVqs(2, this.numBufs, [() => { this.pump() }, (vq) => { this.onRx(vq) }], ['output', 'input'])
    this.svq = svq
    this.rvq = rvq
    const on = <K extends 'set-status' | 'finalize-features' | 'reset'>(event: K, fn: (...args: never[]) => void): void => {
      this.dev.notifier.on(event, fn as never)
      this.unsubscribe.push(() => { this.dev.notifier.off(event, fn as never) })
    }
    on('finalize-features', (f: bigint) => { this.onFeatures(f) })
    on('set-status', (s: number) => { this.onStatus(s) })
    on('reset', () => { this.onReset() })
  }

  stop (err: Error): void {
    for (const off of this.unsubscribe.splice(0)) off()
    this.abortWaiters(err)
    this.running = false
    this.dropChannels()
    this.endpoints.clear()
  }

  /**
   * vhost_rpmsg_create_channel(): an endpoint from 1024 up, announced once
   * the virtio side is ready. `addr` asks for a fixed local address (from
   * 1024 up; ERR_RPMSG_ADDR if taken), as the rpmsg gateway does to bring a
   * channel back on a new bus at the address its application knows.
   */
  createChannel (name: string, addr = RPMSG_ADDR_ANY): RpmsgChannel {
    checkName(name)
    if (this.channels.has(name)) throw new ConflictError(`rpmsg channel ${name} exists on ${this.dev.name}`)
    const ept = this.endpoints.create(addr, (p, from) => { this.channels.get(name)?.emit('message', p, from) })
    const ch = new RpmsgChannel(this, name, ept.addr, RPMSG_ADDR_ANY)
    this.channels.set(name, ch)
    this.emit('channel-created', ch)
    if (this.running) this.announce(ch)
    return ch
  }

  /** Removes the channel, telling the virtio side with NS DESTROY if it was announced. */
  destroyChannel (name: string): void {
    const ch = this.channels.get(name)
    if (ch === undefined) throw new NotFoundError('rpmsg channel', name)
    if (this.running && ch.announce) this.sendNs(ch, RPMSG_NS_DESTROY)
    this.channels.delete(name)
    this.destroyEndpoint(ch.src)
    ch.dst = RPMSG_ADDR_ANY
    this.emit('channel-destroyed', ch)
    ch.emit('destroyed')
  }

  protected post (header: Uint8Array, payload: Uint8Array): boolean {
    const vq = this.svq
    if (vq === undefined || !this.running) return false
    const length = header.length + payload.length
    for (let d = vq.getDesc(); d !== null; d = vq.getDesc()) {
      if (d.readable.length > 0 || d.writableBytes < length) {
        this.counters.malformed++
        this.fault(new RpmsgError('ERR_RPMSG_SIZE', `rx buffer of ${d.writableBytes} writable bytes cannot take a ${length}-byte message`), 'ERR_RPMSG_SIZE')
        vq.complete(d.head, 0)
        continue
      }
      // vringh_iov_push_iotlb() of header then payload, each where the segments put it.
      iovPush(this.dev, d.writable, header)
      iovPush(this.dev, d.writable, payload, header.length)
      vq.complete(d.head, length)
      vq.kick()
      return true
    }
    return false
  }

  protected arm (): boolean { return this.svq?.notifyEnable() ?? true }
  protected disarm (): void { this.svq?.notifyDisable() }

  /** The config space offers this side's size both ways; the virtio side overwrites it with its choice. */
  private publishBufSize (): void {
    this.dev.ops.writeConfig?.(0, encodeBufSizes({ txbufSize: this.ownBufSize, rxbufSize: this.ownBufSize }))
  }

  private onFeatures (f: bigint): void {
    this.bufsz = hasFeature(f, VIRTIO_RPMSG_F_BUFSZ)
    if (!hasFeature(f, VIRTIO_RPMSG_F_AS)) throw new RpmsgError('ERR_RPMSG_ADDR', `${this.dev.name}: Address Service not supported by the virtio side`)
    if (!this.endpoints.has(RPMSG_AS_ADDR)) this.endpoints.create(RPMSG_AS_ADDR, (p, src) => { this.onAs(p, src) }, { internal: true })
  }

  private onStatus (status: number): void {
    if ((status & VIRTIO_CONFIG_S_DRIVER_OK) === 0 || this.running) return
    let bufSize = RPMSG_BUF_SIZE
    if (this.bufsz) {
      try {
        bufSize = acceptedBufSize(this.ownBufSize, decodeBufSizes(this.dev.ops.readConfig!(0, VIRTIO_RPMSG_CONFIG_SIZE)))
      } catch (err) {
        this.counters.serviceErrors++
        this.fault(err, 'ERR_RPMSG_SIZE')
      }
    }
    this.setBufSize(bufSize)
    this.running = true
    if (this.rvq?.ready === true) this.onRx(this.rvq)
    for (const ch of this.channels.values()) this.announce(ch)
    this.pump()
  }

  private onReset (): void {
    this.running = false
    this.bufsz = false
    this.setBufSize(RPMSG_BUF_SIZE)
    if (this.ownBufSize > RPMSG_BUF_SIZE && this.dev.ops.writeConfig !== undefined) this.publishBufSize()
    this.endpoints.destroy(RPMSG_AS_ADDR)
    for (const ch of this.channels.values()) {
      ch.announce = false
      if (ch.dst !== RPMSG_ADDR_ANY) {
        ch.dst = RPMSG_ADDR_ANY
        this.emit('channel-unbound', ch)
      }
    }
  }

  /** Only DRIVER_OK and a reset change it: applications are told ('buf-size'). */
  private setBufSize (bufSize: number): void {
    if (this.bufSize === bufSize) return
    this.bufSize = bufSize
    this.emit('buf-size', bufSize)
  }

  private announce (ch: RpmsgChannel): void {
    ch.announce = true
    this.sendNs(ch, RPMSG_NS_CREATE | RPMSG_AS_ANNOUNCE)
  }

  private sendNs (ch: RpmsgChannel, flags: number): void {
    const body = encodeNsMsg({ name: ch.name, addr: ch.src, flags })
    this.sendService(ch.src, RPMSG_NS_ADDR, body, 'ERR_RPMSG_TIMEOUT')
  }

  /** vhost_rpmsg_as_cb(): exactly 44 bytes, a channel found by name and src. */
  private onAs (payload: Uint8Array, from: number): void {
    let msg
    try {
      msg = decodeAsMsg(payload)
    } catch (err) {
      this.counters.serviceErrors++
      this.fault(err, 'ERR_RPMSG_FORMAT')
      return
    }
    const ch = this.channels.get(msg.name)
    if (ch === undefined || ch.src !== msg.src) {
      // AS FREE answering our own NS DESTROY finds the channel gone already.
      if (msg.flags === RPMSG_AS_FREE) return
      this.counters.serviceErrors++
      this.fault(new RpmsgError('ERR_RPMSG_ADDR', `AS from ${from} for unknown channel ${msg.name} at ${msg.src}`), 'ERR_RPMSG_ADDR')
      return
    }
    if (msg.flags === RPMSG_AS_ASSIGN) {
      if (ch.dst !== RPMSG_ADDR_ANY || msg.dst === RPMSG_ADDR_ANY) {
        this.counters.serviceErrors++
        this.fault(new RpmsgError('ERR_RPMSG_ADDR', `AS ASSIGN for ${ch.name}: already bound to ${ch.dst} or no address`), 'ERR_RPMSG_ADDR')
        return
      }
      ch.dst = msg.dst
      this.emit('channel-bound', ch)
    } else if (msg.flags === RPMSG_AS_FREE) {
      ch.dst = RPMSG_ADDR_ANY
      this.emit('channel-unbound', ch)
    } else {
      this.counters.serviceErrors++
      this.fault(new RpmsgError('ERR_RPMSG_FORMAT', `AS flags ${msg.flags} are neither ASSIGN nor FREE`), 'ERR_RPMSG_FORMAT')
    }
  }

  /** The virtio side's tx buffers: read, dispatch, give back; kicks off while draining. */
  private onRx (vq: VhostQueue): void {
    do {
      vq.notifyDisable()
      for (let d = vq.getDesc(); d !== null; d = vq.getDesc()) {
        if (d.writable.length > 0 || d.readableBytes > this.bufSize) {
          this.counters.malformed++
          this.fault(new RpmsgError('ERR_RPMSG_SIZE', `tx buffer of ${d.readableBytes} bytes (${d.writable.length} writable segments)`), 'ERR_RPMSG_SIZE')
        } else {
          this.receive(iovPull(this.dev, d.readable, d.readableBytes))
        }
        vq.complete(d.head, 0)
      }
      vq.kick()
    } while (!vq.notifyEnable())
  }
}

export interface VhostRpmsgDriverOptions {
  /** Ring size of each queue; default 256. */
  numBufs?: number
  /** Features offered; default VHOST_RPMSG_FEATURES (VIRTIO_RPMSG_F_BUFSZ is added when bufSize is above 512). */
  features?: bigint
  /** Buffer size this side takes (bufsz.ts); default 512. */
  bufSize?: number
  /** The daemon's rpmsg drivers and configfs tree: each bus is attached as a virtproc. */
  drivers?: RpmsgDriverTable
}

/** vhost_rpmsg_bus: {VIRTIO_ID_RPMSG, any vendor}. */
export class VhostRpmsgDriver implements VhostDriver {
  readonly name = 'vhost_rpmsg_bus'
  readonly idTable: readonly DeviceId[] = [{ device: VIRTIO_ID_RPMSG, vendor: VIRTIO_DEV_ANY_ID }]
  private readonly buses = new Map<VhostDevice, VhostRpmsgBus>()

  constructor (readonly options: VhostRpmsgDriverOptions = {}) {
    checkBufSize(options.bufSize ?? RPMSG_BUF_SIZE)
  }

  probe (dev: VhostDevice): void {
    const bus = new VhostRpmsgBus(dev, this.options.numBufs ?? RPMSG_BUFS_PER_DIRECTION, this.options.features ?? VHOST_RPMSG_FEATURES, this.options.bufSize ?? RPMSG_BUF_SIZE)
    bus.start()
    this.buses.set(dev, bus)
    this.options.drivers?.attach(bus, { side: 'vhost', device: dev.name }, bus)
  }

  remove (dev: VhostDevice): void {
    const bus = this.buses.get(dev)
    if (bus === undefined) return
    this.buses.delete(dev)
    bus.stop(new RpmsgError('ERR_RPMSG_NO_BUFFER', `${dev.name}: the rpmsg driver was removed`))
    this.options.drivers?.detach(bus)
    dev.delVqs()
  }

  /** Every bus, one per device bound. */
  allBuses (): VhostRpmsgBus[] { return [...this.buses.values()] }

  /** The bus on `dev`, or on the only device bound. */
  bus (dev?: VhostDevice): VhostRpmsgBus {
    const bus = dev === undefined && this.buses.size === 1 ? [...this.buses.values()][0] : this.buses.get(dev!)
    if (bus === undefined) throw new NotFoundError('vhost rpmsg device', dev?.name ?? '(none)')
    return bus
  }
}
