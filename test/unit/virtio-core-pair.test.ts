// The virtio core and the vhost core joined by the in-process transport of
// test/support/virtio-loop.ts (one Region, doorbells on a later turn). The
// test device pair moves buffers each way with contents checked, on
// split and packed rings; a hostile ring stops one queue, the other keeps
// working, and DEVICE_NEEDS_RESET brings the pair back.

import t from 'tap'
import {
  VIRTIO_CONFIG_S_NEEDS_RESET, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX, features, hasFeature
} from '../../daemon/src/uapi/virtio-config.js'
import { SOCLINK_TEST_DEVICE_ID } from '../../daemon/src/uapi/soclink-ids.js'
import { VirtioBus } from '../../daemon/src/virtio/bus.js'
import { TestVirtioDriver } from '../../daemon/src/virtio/virtio-soclink-test.js'
import { VhostBus } from '../../daemon/src/vhost/bus.js'
import { TestVhostDriver } from '../../daemon/src/vhost/vhost-soclink-test.js'
import { VirtioLoop } from '../support/virtio-loop.js'

async function pair (opts: { packed?: boolean, offered?: bigint, numBufs?: number } = {}): Promise<{ loop: VirtioLoop, drv: TestVirtioDriver, dev: TestVhostDriver, bus: VirtioBus }> {
  const loop = new VirtioLoop({ device: SOCLINK_TEST_DEVICE_ID, noConfig: true })
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
  t.equal(loop.needsReset[0]!.error.code, 'ERR_RING_AVAIL')
  t.match(tx, { ready: false, lastError: { code: 'ERR_RING_AVAIL' }, counters: { errors: 1 } })
  t.equal(loop.vhost.needsReset?.code, 'ERR_RING_AVAIL')
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
