// Device side of the soclink test device (SOCLINK_TEST_DEVICE_ID, see
// uapi/soclink-ids.ts), in the shape of the RFC's vhost_rpmsg client ([P 14]):
// probe sets the features, creates the queues and listens on the notifier.
// vq0 "tx": reads each buffer the driver sends (vhost_read), checks it is
// testPayload(seq) for the next seq, completes it with length 0. vq1 "rx":
// fills each buffer the driver posts with testPayload(seq) of
// testPayloadSize(seq) bytes and completes it with that length. Both loops
// run kicks off while they drain and look again after turning them back on
// (vhost's handle_tx/handle_rx pattern).

import {
  VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, features
} from '../uapi/virtio-config.js'
import {
  SOCLINK_TEST_DEVICE_ID, TEST_MAX_PAYLOAD, VIRTIO_DEV_ANY_ID, checkTestPayload, fillTestPayload, testPayloadSize, type DeviceId
} from '../uapi/soclink-ids.js'
import { NotFoundError } from '../errors.js'
import type { VhostDevice, VhostDriver } from './vhost.js'
import type { VhostQueue } from './virtqueue.js'
import { iovPull, iovPush } from './vringh-iov.js'

/** sent/received: buffers given to / taken from the other side; bytes: payload both ways. */
export interface TestCounters { sent: number, received: number, verified: number, errors: number, bytes: number }

export const TEST_DEVICE_FEATURES = features(VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_F_RING_PACKED)

export interface TestVhostDriverOptions {
  /** Features offered; default TEST_DEVICE_FEATURES. */
  features?: bigint
  /** Ring size of each queue; default 256 (a power of two, for split rings). */
  numBufs?: number
}

class Session {
  readonly counters: TestCounters = { sent: 0, received: 0, verified: 0, errors: 0, bytes: 0 }
  vqs: VhostQueue[] = []
  /** One payload on its way into a buffer (iovPush copies it). */
  private readonly scratch = Buffer.alloc(TEST_MAX_PAYLOAD)
  private txSeq = 0
  private rxSeq = 0

  constructor (readonly dev: VhostDevice) {}

  /** The virtio side starts its sequences again after a reset. */
  restart (): void {
    this.txSeq = 0
    this.rxSeq = 0
  }

  serviceTx (vq: VhostQueue): void {
    do {
      vq.notifyDisable()
      for (let d = vq.getDesc(); d !== null; d = vq.getDesc()) {
        const seq = this.txSeq++
        const data = iovPull(this.dev, d.readable, d.readableBytes)
        this.counters.received++
        this.counters.bytes += data.length
        if (d.writable.length === 0 && data.length === testPayloadSize(seq) && checkTestPayload(seq, data)) this.counters.verified++
        else this.counters.errors++
        vq.complete(d.head, 0)
      }
      vq.kick()
    } while (!vq.notifyEnable())
  }

  serviceRx (vq: VhostQueue): void {
    do {
      vq.notifyDisable()
      for (let d = vq.getDesc(); d !== null; d = vq.getDesc()) {
        if (d.readable.length > 0 || d.writableBytes === 0) {
          this.counters.errors++
          vq.complete(d.head, 0)
          continue
        }
        const seq = this.rxSeq++
        const payload = this.scratch.subarray(0, Math.min(testPayloadSize(seq), d.writableBytes))
        fillTestPayload(seq, payload)
        iovPush(this.dev, d.writable, payload)
        vq.complete(d.head, payload.length)
        this.counters.sent++
        this.counters.bytes += payload.length
      }
      vq.kick()
    } while (!vq.notifyEnable())
  }

  /** Runs a service loop outside a kick (at DRIVER_OK), under the queue's failure policy. */
  poll (vq: VhostQueue | undefined, service: (vq: VhostQueue) => void): void {
    if (vq === undefined || !vq.ready) return
    try {
      service(vq)
    } catch (err) {
      vq.fail(err)
    }
  }
}

export class TestVhostDriver implements VhostDriver {
  readonly name = 'soclink-test-vhost'
  readonly idTable: readonly DeviceId[] = [{ device: SOCLINK_TEST_DEVICE_ID, vendor: VIRTIO_DEV_ANY_ID }]
  readonly features: bigint
  readonly numBufs: number
  private readonly sessions = new Map<VhostDevice, Session>()
  private readonly unsubscribe = new Map<VhostDevice, () => void>()

  constructor (options: TestVhostDriverOptions = {}) {
    this.features = options.features ?? TEST_DEVICE_FEATURES
    this.numBufs = options.numBufs ?? 256
  }

  probe (dev: VhostDevice): void {
    const s = new Session(dev)
    dev.setFeatures(this.features)
    s.vqs = dev.createVqs(2, this.numBufs, [(vq) => { s.serviceTx(vq) }, (vq) => { s.serviceRx(vq) }], ['tx', 'rx'])
    const onStatus = (status: number): void => {
      if ((status & VIRTIO_CONFIG_S_DRIVER_OK) === 0) return
      s.poll(s.vqs[0], (vq) => { s.serviceTx(vq) })
      s.poll(s.vqs[1], (vq) => { s.serviceRx(vq) })
    }
    const onReset = (): void => { s.restart() }
    dev.notifier.on('set-status', onStatus)
    dev.notifier.on('reset', onReset)
    this.unsubscribe.set(dev, () => {
      dev.notifier.off('set-status', onStatus)
      dev.notifier.off('reset', onReset)
    })
    this.sessions.set(dev, s)
  }

  remove (dev: VhostDevice): void {
    this.unsubscribe.get(dev)?.()
    this.unsubscribe.delete(dev)
    this.sessions.delete(dev)
    dev.delVqs()
  }

  /** The counters for `dev`, or for the only device bound. */
  counters (dev?: VhostDevice): TestCounters {
    const s = dev === undefined && this.sessions.size === 1 ? [...this.sessions.values()][0] : this.sessions.get(dev!)
    if (s === undefined) throw new NotFoundError('test vhost device', dev?.name ?? '(none)')
    return s.counters
  }
}
