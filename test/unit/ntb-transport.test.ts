// ntb-vhost (HOST1) and ntb-virtio (HOST2) over the in-memory NTB of
// test/support/ntb-pair.ts: the device comes up through the RFC's
// scratchpads (values checked against ntb_virtio.h), the soclink test
// device moves buffers both ways through rings and buffers in HOST2's MW0,
// doorbell bit k is vq k both ways, and a descriptor outside MW0 stops its
// queue with a ring error and never reaches memory outside the window.

import t, { type Test } from 'tap'
import { ntbTransports, type NtbTransports } from '../support/ntb-pair.js'
import { until } from '../support/daemon.js'
import { TestVhostDriver, TEST_DEVICE_FEATURES } from '../../daemon/src/vhost/vhost-soclink-test.js'
import { TestVirtioDriver } from '../../daemon/src/virtio/virtio-soclink-test.js'
import { negotiateFeatures, type VirtioDevice, type VirtioDriver } from '../../daemon/src/virtio/virtio.js'
import type { VhostDevice, VhostDriver } from '../../daemon/src/vhost/vhost.js'
import type { VhostQueue } from '../../daemon/src/vhost/virtqueue.js'
import type { DriverQueue } from '../../daemon/src/virtio/virtqueue.js'
import { vringSize } from '../../daemon/src/uapi/virtio-ring.js'
import { SOCLINK_TEST_DEVICE_ID, VIRTIO_DEV_ANY_ID } from '../../daemon/src/uapi/soclink-ids.js'
import { VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1, features } from '../../daemon/src/uapi/virtio-config.js'
import { BUFFER_OFFSET, Spad, TYPE_VHOST, TYPE_VIRTIO } from '../../daemon/src/transport/ntb-spads.js'

const TEST_ID = { device: SOCLINK_TEST_DEVICE_ID, vendor: 0x1af4 }
const MW_SIZE = 4 << 20

async function testPair (t: Test, opts: { base?: number, packed?: boolean, dbVectors?: number } = {}): Promise<{ n: NtbTransports, dev: VirtioDevice, drv: TestVirtioDriver, vdrv: TestVhostDriver }> {
  const vdrv = new TestVhostDriver({ numBufs: 256 })
  const drv = new TestVirtioDriver({ packed: opts.packed === true })
  const n = await ntbTransports({ id: TEST_ID, vhostDrivers: [vdrv], virtioDrivers: [drv], mwSize: MW_SIZE, memorySize: (opts.base ?? 16 << 20) + (32 << 20), ...(opts.base === undefined ? {} : { base: opts.base }), ...(opts.dbVectors === undefined ? {} : { dbVectors: opts.dbVectors }) })
  t.teardown(n.stop)
  const next = n.nextDevice()
  await n.start()
  const { dev, outcome } = await next
  if (outcome !== 'bound') throw new Error(`virtio side: ${outcome}: ${dev.lastError?.message}`)
  return { n, dev, drv, vdrv }
}

t.test('the device comes up through the scratchpads of ntb_virtio.h', async (t) => {
  const vdrv = new TestVhostDriver({ numBufs: 256 })
  const drv = new TestVirtioDriver()
  // MW0 above 4 GiB, so the upper halves of spads 9/10 matter.
  const base = 0x1_0000_0000
  const n = await ntbTransports({ id: TEST_ID, vhostDrivers: [vdrv], virtioDrivers: [drv], mwSize: MW_SIZE, memorySize: base + (16 << 20), base })
  t.teardown(n.stop)
  const virtioStatus: number[] = []
  const vhostStatus: number[] = []
  n.virtioBus.on('status', (_dev, s) => { virtioStatus.push(s) })
  n.vhost.device.notifier.on('set-status', (s) => { vhostStatus.push(s) })
  const next = n.nextDevice()
  await n.start()
  const { dev, outcome } = await next
  t.equal(outcome, 'bound')
  t.equal(n.vhost.state, 'up')
  t.equal(n.virtio.state, 'up')
  t.same(virtioStatus, [0, 1, 3, 11, 15], 'reset, ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK as the virtio side reads them back')
  t.same(vhostStatus, [1, 3, 11, 15], 'each SET_STATUS reached the vhost device')
  t.same(dev.id, TEST_ID, 'ids from spads 1/2')
  const negotiated = negotiateFeatures(TEST_DEVICE_FEATURES, drv.features)
  t.equal(dev.features, negotiated)
  t.equal(n.vhost.device.features, negotiated, 'FINALIZE_FEATURES carried the features over')

  const s = n.host1.spads
  t.equal(s[Spad.VIRTIO_TYPE], TYPE_VIRTIO, 'spad 0 of the vhost host reads 1 (TYPE_VIRTIO)')
  t.equal(n.host2.spads[Spad.VIRTIO_TYPE], TYPE_VHOST, 'spad 0 of the virtio host reads 2 (TYPE_VHOST)')
  t.equal(s[1], 0x1af4, 'VHOST_VENDORID')
  t.equal(s[2], SOCLINK_TEST_DEVICE_ID, 'VHOST_DEVICEID')
  t.equal(s[3], Number(TEST_DEVICE_FEATURES >> 32n), 'VHOST_FEATURES_UPPER')
  t.equal(s[4], Number(TEST_DEVICE_FEATURES & 0xffff_ffffn), 'VHOST_FEATURES_LOWER')
  t.equal(s[5], Number(negotiated >> 32n), 'VIRTIO_FEATURES_UPPER')
  t.equal(s[6], Number(negotiated & 0xffff_ffffn), 'VIRTIO_FEATURES_LOWER')
  t.equal(s[7], MW_SIZE, 'VHOST_MW0_SIZE_LOWER: the peer window')
  t.equal(s[8], 0, 'VHOST_MW0_SIZE_UPPER')
  t.equal(s[9], 0, 'VIRTIO_MW0_LOWER_ADDR')
  t.equal(s[10], 1, 'VIRTIO_MW0_UPPER_ADDR')
  t.equal(s[11], 15, 'VHOST_DEVICE_STATUS')
  t.equal(s[13], 0, 'VHOST_COMMAND cleared')
  t.equal(s[14], 0, 'VHOST_COMMAND_STATUS back to NONE')
  t.same(s.slice(15, 23), [256, 256, 0, 0, 0, 0, 0, 0], 'VHOST_QUEUE_NUM_BUFFERS(0..7)')

  t.same(n.host2.translation, { addr: base, size: MW_SIZE }, 'mw_set_trans(0, base, the offered size)')
  t.equal(n.vhost.virtioAddr, base)
  t.equal(vringSize(256, 4096), 10246, 'vring_size(256, 4096)')
  const rings = n.virtio.vqs.map((q) => q.addrs.desc - base)
  t.same(rings, [0, 12288], 'vq n at n * ALIGN(vring_size(256, 4096), 4096) in MW0')
  t.same(n.vhost.addrs.map((a) => a?.desc), [base, base + 12288], 'the vhost side found the same rings')
  t.same(n.vhost.addrs.map((a) => a?.device), n.virtio.vqs.map((q) => q.addrs.device))
  const pool = n.virtio.buffers!
  const addr = pool.alloc(64)!
  t.ok(addr >= base + BUFFER_OFFSET && addr < base + MW_SIZE, 'buffers come from [base + 0x20000, base + size)')
  pool.free(addr)
  t.equal(n.vhost.counters.commands, 6, 'RESET, SET_STATUS (ACKNOWLEDGE), SET_STATUS (DRIVER), FINALIZE_FEATURES, SET_STATUS (FEATURES_OK), SET_STATUS (DRIVER_OK)')
  t.equal(n.host2.rang.filter((b) => b === 2 ** 15).length, 6, 'each command rang CONFIG_DB, the highest valid bit (15)')
  t.equal(n.host1.rang.filter((b) => b === 2 ** 15).length, 6, 'each answer rang it back')
})

for (const packed of [false, true]) {
  t.test(`the test device moves 3,000 buffers each way on ${packed ? 'packed' : 'split'} rings in MW0`, async (t) => {
    const { n, dev, drv, vdrv } = await testPair(t, { packed })
    t.equal(dev.layout, packed ? 'packed' : 'split')
    t.equal((n.vhost.device.features & features(VIRTIO_F_RING_PACKED)) !== 0n, packed)
    const c = await drv.run(3000)
    t.match(c, { sent: 3000, received: 3000, verified: 3000, errors: 0 })
    t.match(vdrv.counters(), { sent: 3000, received: 3000, verified: 3000, errors: 0, bytes: c.bytes })
    t.ok(n.vhost.vqs.every((q) => q.ready && q.counters.errors === 0 && q.lastError === null))
    t.equal(n.host1.view.counters.refused, 0, 'no access left MW0')
    t.ok(n.host1.view.counters.highest <= MW_SIZE)
    t.ok(n.host1.view.counters.writes > 0 && n.host1.view.counters.reads > 0)
    t.notOk(n.host2.rang.includes(0) || n.host1.rang.includes(0), 'no doorbell rings nothing')
  })
}

t.test('one doorbell vector for every bit: db_read tells the bits apart', async (t) => {
  const { n, drv, vdrv } = await testPair(t, { dbVectors: 1 })
  t.equal(n.host1.dbVectorCount(), 1)
  t.match(await drv.run(1000), { sent: 1000, received: 1000, verified: 1000, errors: 0 })
  t.match(vdrv.counters(), { verified: 1000, errors: 0 })
  t.equal(n.vhost.counters.doorbellErrors + n.virtio.counters.doorbellErrors, 0)
  t.equal(n.host1.dbRead(), 0, 'HOST1 cleared every bit it handled')
})

const EIGHT = 0xffe1

/** A vhost driver with eight queues of 16 that counts nothing itself (the queues count kicks). */
class EightVhost implements VhostDriver {
  readonly name = 'eight-vhost'
  readonly idTable = [{ device: EIGHT, vendor: VIRTIO_DEV_ANY_ID }]
  vqs: VhostQueue[] = []
  probe (dev: VhostDevice): void {
    dev.setFeatures(features(VIRTIO_F_VERSION_1))
    this.vqs = dev.createVqs(8, 16, Array.from({ length: 8 }, () => () => {}), Array.from({ length: 8 }, (_, k) => `q${k}`))
  }

  remove (dev: VhostDevice): void { dev.delVqs() }
}

class EightVirtio implements VirtioDriver {
  readonly name = 'eight'
  readonly idTable = [{ device: EIGHT, vendor: VIRTIO_DEV_ANY_ID }]
  readonly features = features(VIRTIO_F_VERSION_1)
  vqs: DriverQueue[] = []
  async probe (dev: VirtioDevice): Promise<void> {
    this.vqs = await dev.findVqs(Array.from({ length: 8 }, (_, k) => ({ name: `q${k}`, callback: () => {} })))
  }

  async remove (dev: VirtioDevice): Promise<void> { await dev.reset() }
}

t.test('doorbell bit k is vq k both ways, for vq 0..7', async (t) => {
  const vdrv = new EightVhost()
  const drv = new EightVirtio()
  const n = await ntbTransports({ id: { device: EIGHT, vendor: 0x1af4 }, vhostDrivers: [vdrv], virtioDrivers: [drv], mwSize: MW_SIZE })
  t.teardown(n.stop)
  const next = n.nextDevice()
  await n.start()
  t.equal((await next).outcome, 'bound')
  t.equal(vringSize(16, 4096), 4230)
  t.same(n.virtio.vqs.map((q) => q.addrs.desc - n.base), Array.from({ length: 8 }, (_, k) => k * 8192), '8 rings of 16, two pages each')
  const kicks = (): number[] => n.vhost.vqs.map((q) => q.counters.kicks)
  const interrupts = (): number[] => n.virtio.vqs.map((q) => q.interrupts)
  const unit = (k: number): number[] => Array.from({ length: 8 }, (_, i) => (i === k ? 1 : 0))
  const pool = n.virtio.buffers!
  for (let k = 0; k < 8; k++) {
    const from2 = n.host2.rang.length
    const vq = drv.vqs[k]!
    vq.add([{ addr: pool.alloc(16)!, len: 16 }], [], k)
    t.ok(vq.kick(), `vq ${k} kicks`)
    await until(`vhost vq ${k} kicked`, () => kicks()[k] === 1 ? true : undefined)
    t.same(n.host2.rang.slice(from2), [2 ** k], `virtio vq ${k} rang bit ${k} only`)
    t.same(kicks(), unit(k), `only vhost vq ${k} was kicked`)

    const from1 = n.host1.rang.length
    n.vhost.vqs[k]!.notify()
    await until(`virtio vq ${k} interrupted`, () => interrupts()[k] === 1 ? true : undefined)
    t.same(n.host1.rang.slice(from1), [2 ** k], `vhost vq ${k} rang bit ${k} only`)
    t.same(interrupts(), unit(k), `only virtio vq ${k} was interrupted`)
    for (const q of n.vhost.vqs) q.counters.kicks = 0
    for (const q of n.virtio.vqs) q.interrupts = 0
  }
})

for (const where of ['below', 'across the end of'] as const) {
  t.test(`a descriptor ${where} MW0 stops the queue with a ring error; nothing outside MW0 is touched`, async (t) => {
    const { n, dev, drv, vdrv } = await testPair(t)
    t.match(await drv.run(100), { verified: 100, errors: 0 })
    const mem = n.host2.memory
    const canary = Buffer.alloc(4096, 0xa5)
    mem.write(n.base - 4096, canary)
    mem.write(n.base + MW_SIZE, canary)
    const reads = n.host1.view.counters.reads
    const needsReset: string[] = []
    n.vhost.device.on('needs-reset', (_vq, error) => { needsReset.push(error.code) })
    const rebound = new Promise<void>((resolve) => { n.virtioBus.once('bound', () => { resolve() }) })

    // HOST2 turns hostile: desc[0] of the tx ring points outside MW0, made available and rung.
    const a = n.virtio.vqs[0]!.addrs
    const [addr, len] = where === 'below' ? [n.base - 4096, 64] : [n.base + MW_SIZE - 32, 64]
    mem.write64(a.desc, addr)
    mem.write32(a.desc + 8, len)
    mem.write16(a.desc + 12, 0)
    const idx = mem.read16(a.driver + 2)
    mem.write16(a.driver + 4 + 2 * (idx % a.num), 0)
    mem.write16(a.driver + 2, (idx + 1) & 0xffff)
    n.host2.peerDbSet(1)

    await rebound
    const tx = n.vhost.vqs[0]!
    t.same(needsReset, ['ERR_RING_ADDRESS'], 'the vhost side refused the descriptor')
    t.equal(tx.counters.errors, 1)
    t.equal(n.virtio.counters.needsReset, 1, 'HOST2 saw DEVICE_NEEDS_RESET in spad 11 and reset the device')
    t.equal(n.host1.view.counters.refused, 0, 'the vhost side never tried an access outside MW0')
    t.ok(n.host1.view.counters.highest <= MW_SIZE)
    t.ok(n.host1.view.counters.reads > reads)
    t.ok(canary.equals(mem.read(n.base - 4096, 4096)), 'the page below MW0 is untouched')
    t.ok(canary.equals(mem.read(n.base + MW_SIZE, 4096)), 'the page above MW0 is untouched')
    t.equal(dev.lastError?.code, 'ERR_VIRTIO_NEEDS_RESET')
    t.ok(tx.ready, 'the queue works again after the reset')
    t.match(await drv.run(500), { sent: 500, received: 500, verified: 500, errors: 0 })
    t.equal(vdrv.counters().errors, 0)
  })
}

t.test('more queues than fit below BUFFER_OFFSET are refused', async (t) => {
  // Eight rings of 1024 take 8 * 5 pages, more than 0x20000.
  const vdrv = new (class extends EightVhost {
    override probe (dev: VhostDevice): void {
      dev.setFeatures(features(VIRTIO_F_VERSION_1))
      this.vqs = dev.createVqs(8, 1024, Array.from({ length: 8 }, () => () => {}), [])
    }
  })()
  const n = await ntbTransports({ id: { device: EIGHT, vendor: 0x1af4 }, vhostDrivers: [vdrv], virtioDrivers: [new EightVirtio()], mwSize: MW_SIZE })
  t.teardown(n.stop)
  const next = n.nextDevice()
  await n.start()
  const { dev, outcome } = await next
  t.equal(outcome, 'failed')
  t.equal(dev.lastError?.code, 'ERR_OUT_OF_RANGE')
  t.match(dev.lastError?.message, /BUFFER_OFFSET/)
})

t.test('device config lives in the vhost host\'s scratchpads from 23 on', async (t) => {
  const { n, dev } = await testPair(t)
  n.vhost.writeConfig(2, Uint8Array.of(1, 2, 3, 4, 5))
  t.same(dev.ops.getConfig(0, 8), Uint8Array.of(0, 0, 1, 2, 3, 4, 5, 0))
  t.equal(n.host1.spads[23], 0x02010000)
  t.throws(() => dev.ops.getConfig(0, (64 - 23) * 4 + 1), { code: 'ERR_OUT_OF_RANGE' })
})
