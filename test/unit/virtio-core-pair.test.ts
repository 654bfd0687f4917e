// The virtio core and the vhost core joined by an in-process transport over
// ONE Region (the virtio side's memory): status and features go straight
// across, FEATURES_OK and DRIVER_OK reach the vhost device's notifier,
// DRIVER_OK activates the device rings, and notifications are doorbells
// delivered on a later turn (setImmediate), coalesced as a doorbell bit is.
// The test device pair moves buffers each way with contents checked, on
// split and packed rings; a hostile ring stops one queue, the other keeps
// working, and DEVICE_NEEDS_RESET brings the pair back.

import t from 'tap'
import { Region } from '../../daemon/src/mem/region.js'
import {
  VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_NEEDS_RESET, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX, features, hasFeature
} from '../../daemon/src/uapi/virtio-config.js'
import { SOCLINK_TEST_DEVICE_ID } from '../../daemon/src/uapi/soclink-ids.js'
import { FirstFitPool } from '../../daemon/src/virtio/buffer-pool.js'
import { VirtioBus } from '../../daemon/src/virtio/bus.js'
import { VirtioDevice, type VirtioConfigOps } from '../../daemon/src/virtio/virtio.js'
import { Virtqueue, createDriverRing, ringBytes } from '../../daemon/src/virtio/virtqueue.js'
import { TestVirtioDriver } from '../../daemon/src/virtio/test-driver.js'
import { VhostBus } from '../../daemon/src/vhost/bus.js'
import { VhostDevice, type VhostConfigOps } from '../../daemon/src/vhost/vhost.js'
import { VhostVirtqueue, createDeviceRing, type VhostQueue } from '../../daemon/src/vhost/virtqueue.js'
import { TestVhostDriver } from '../../daemon/src/vhost/test-driver.js'
import type { SoclinkError } from '../../daemon/src/errors.js'

class Loop {
  readonly mem = new Region(1, 'rc', 8 << 20)
  readonly pool = new FirstFitPool(this.mem, 0x1000, (8 << 20) - 0x1000)
  status = 0
  offered = 0n
  accepted = 0n
  vhostVqs: VhostVirtqueue[] = []
  virtioVqs: Array<Virtqueue<unknown>> = []
  readonly needsReset: Array<{ vq: VhostQueue | null, error: SoclinkError }> = []
  readonly vhost = new VhostDevice({ device: SOCLINK_TEST_DEVICE_ID, vendor: 0x1af4 }, this.vhostOps())
  readonly virtio = new VirtioDevice({ device: SOCLINK_TEST_DEVICE_ID, vendor: 0x1af4 }, this.virtioOps())
  private readonly pending = new Set<object>()
  private rings: number[] = []

  constructor () {
    this.vhost.on('needs-reset', (vq, error) => {
      this.needsReset.push({ vq, error })
      this.vhost.setStatus(this.status | VIRTIO_CONFIG_S_NEEDS_RESET)
    })
  }

  /** A doorbell: one delivery on a later turn however often it rings meanwhile. */
  ring (target: object, deliver: () => void): void {
    if (this.pending.has(target)) return
    this.pending.add(target)
    setImmediate(() => { this.pending.delete(target); deliver() })
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
      getConfig: (_offset, length) => new Uint8Array(length),
      setConfig: () => {}
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
      getStatus: () => this.status
    }
  }
}

async function pair (opts: { packed?: boolean, offered?: bigint, numBufs?: number } = {}): Promise<{ loop: Loop, drv: TestVirtioDriver, dev: TestVhostDriver, bus: VirtioBus }> {
  const loop = new Loop()
  const vbus = new VhostBus()
  const dev = new TestVhostDriver(opts.offered === undefined ? { numBufs: opts.numBufs ?? 128 } : { features: opts.offered, numBufs: opts.numBufs ?? 128 })
  await vbus.registerDriver(dev)
  if (await vbus.registerDevice(loop.vhost) !== 'bound') throw new Error('vhost side did not bind')
  const bus = new VirtioBus()
  const drv = new TestVirtioDriver({ packed: opts.packed === true })
  await bus.registerDriver(drv)
  const outcome = await bus.addDevice(loop.virtio)
  if (outcome !== 'bound') throw new Error(`virtio side: ${outcome}: ${loop.virtio.lastError?.message}`)
  return { loop, drv, dev, bus }
}

for (const packed of [false, true]) {
  t.test(`the test pair moves 10,000 buffers each way on ${packed ? 'packed' : 'split'} rings`, async (t) => {
    const { loop, drv, dev } = await pair({ packed })
    t.equal(loop.virtio.layout, packed ? 'packed' : 'split')
    t.equal(hasFeature(loop.virtio.features, VIRTIO_F_RING_PACKED), packed)
    t.equal(loop.vhost.features, loop.virtio.features, 'the vhost side saw the finalized features')
    t.ok(loop.vhostVqs.every((q) => q.ready), 'DRIVER_OK activated the device rings')
    const c = await drv.run(10_000)
    t.match(c, { sent: 10_000, received: 10_000, verified: 10_000, errors: 0 })
    t.match(dev.counters(), { sent: 10_000, received: 10_000, verified: 10_000, errors: 0, bytes: c.bytes })
    t.equal(loop.pool.blocksInUse, 2, 'every buffer came back; only the two rings are held')
    t.ok(loop.vhostVqs.every((q) => q.counters.errors === 0 && q.lastError === null))
  })
}

t.test('features: the device offers no packed ring, so a driver asking for one gets split', async (t) => {
  const { loop, drv, dev } = await pair({ packed: true, offered: features(VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX) })
  t.equal(loop.virtio.features, features(VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX))
  t.equal(loop.virtio.layout, 'split')
  t.match(await drv.run(300), { sent: 300, verified: 300, errors: 0 })
  t.match(dev.counters(), { verified: 300, errors: 0 })
})

t.test('a hostile tx ring stops tx, rx keeps working, and DEVICE_NEEDS_RESET brings the pair back', async (t) => {
  const { loop, drv, dev, bus } = await pair()
  await drv.run(100)
  const [tx, rx] = loop.vhostVqs
  const avail = loop.virtioVqs[0]!.addrs.driver
  loop.mem.write16(avail + 2, (loop.mem.read16(avail + 2) + 1000) & 0xffff)
  tx!.trigger()
  t.equal(loop.needsReset.length, 1)
  t.equal(loop.needsReset[0]!.vq, tx)
  t.equal(loop.needsReset[0]!.error.code, 'ERR_RING_IDX')
  t.match(tx, { ready: false, lastError: { code: 'ERR_RING_IDX' }, counters: { errors: 1 } })
  t.equal(loop.vhost.needsReset?.code, 'ERR_RING_IDX')
  t.ok(loop.status & VIRTIO_CONFIG_S_NEEDS_RESET, 'the transport set DEVICE_NEEDS_RESET')
  t.ok(rx!.ready, 'rx still runs')
  t.match(await drv.run({ tx: 0, rx: 500 }), { received: 600, verified: 600, errors: 0 })

  t.equal(await bus.deviceNeedsReset(loop.virtio), 'bound')
  t.equal(loop.virtio.lastError?.code, 'ERR_VIRTIO_NEEDS_RESET')
  t.notOk(loop.status & VIRTIO_CONFIG_S_NEEDS_RESET)
  t.equal(loop.vhost.needsReset, null)
  t.ok(loop.vhostVqs.every((q) => q.ready))
  t.match(await drv.run(1000), { sent: 1000, received: 1000, verified: 1000, errors: 0 })
  t.equal(dev.counters().errors, 0)
})

t.test('removing the virtio device resets it and gives every buffer back', async (t) => {
  const { loop, drv, bus } = await pair()
  await drv.run(50)
  const running = drv.run(100_000)
  await bus.removeDevice(loop.virtio)
  await t.rejects(running, { code: 'ERR_VIRTIO_REMOVED' })
  t.equal(loop.status, 0)
  t.equal(loop.pool.blocksInUse, 0)
  t.ok(loop.vhostVqs.every((q) => !q.ready))
})
