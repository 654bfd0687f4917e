// Device initialization between an in-process rc and ep over loopback, as
// virtio 1.x 3.1.1 lays it out and the pci-epf-vhost register block carries
// it: the status sequence, feature negotiation (offered ∩ requested), a
// device that refuses features it never offered by leaving FEATURES_OK
// clear (the RFC never checks; soclink does), reset from either side, and
// the device going away when the ep's controller stops or the ep goes down.

import t, { type Test } from 'tap'
import { startNode, linkUrl } from '../support/nodes.js'
import { until, within } from '../support/daemon.js'
import { bar0Of, driverOk } from '../support/hostile-rc.js'
import type { SoclinkNode } from '../../daemon/src/node.js'
import type { VirtioDevice } from '../../daemon/src/virtio/virtio.js'
import type { VhostDevice } from '../../daemon/src/vhost/vhost.js'
import { DEVICE_STATUS, GUEST_FEATURES, HOST_FEATURES, QUEUE_STATUS_ACTIVE, queueReg } from '../../daemon/src/transport/epf-vhost-regs.js'
import { CONTROLLER } from '../../daemon/src/roles/pcie-ep.js'

// Numbers written from the virtio 1.x spec (2.1 Device Status Field, 6 Reserved Feature Bits), not from the code.
const ACKNOWLEDGE = 1
const DRIVER = 2
const DRIVER_OK = 4
const FEATURES_OK = 8
const VIRTIO_RING_F_INDIRECT_DESC = 1n << 28n
const VIRTIO_RING_F_EVENT_IDX = 1n << 29n
const VIRTIO_F_VERSION_1 = 1n << 32n
const VIRTIO_F_RING_PACKED = 1n << 34n
/** What the soclink test device offers (vhost/vhost-soclink-test.ts TEST_DEVICE_FEATURES). */
const OFFERED = VIRTIO_F_VERSION_1 | VIRTIO_RING_F_EVENT_IDX | VIRTIO_RING_F_INDIRECT_DESC | VIRTIO_F_RING_PACKED

interface Pair {
  rc: SoclinkNode
  ep: SoclinkNode
  /** DEVICE_STATUS values the rc's virtio bus read back after each change, in order. */
  rcStatus: number[]
  /** Statuses the ep's vhost device was told (NOTIFY_SET_STATUS), in order. */
  epStatus: number[]
  /** Features the ep's vhost device was told (NOTIFY_FINALIZE_FEATURES). */
  epFeatures: bigint[]
  stopEp: () => Promise<void>
}

async function pair (t: Test, rcArgs: string[] = []): Promise<Pair> {
  const rc = await startNode('rc', ['--role', 'rc', ...rcArgs])
  // Listeners go on before any I/O turn: the link cannot come up before the next one.
  const rcStatus: number[] = []
  rc.pcieRc!.virtioBus.on('status', (_dev, status) => { rcStatus.push(status) })
  const ep = await startNode('ep', ['--role', 'ep', '--vhost-driver', 'soclink-test', '--peer', linkUrl(rc)])
  const epStatus: number[] = []
  const epFeatures: bigint[] = []
  ep.pcieEp!.vhostBus.on('added', (dev) => {
    dev.notifier.on('set-status', (s) => { epStatus.push(s) })
    dev.notifier.on('finalize-features', (f) => { epFeatures.push(f) })
  })
  let epStopped = false
  const stopEp = async (): Promise<void> => {
    if (epStopped) return
    epStopped = true
    await ep.stop('test')
  }
  t.teardown(async () => { await stopEp(); await rc.stop('test') })
  return { rc, ep, rcStatus, epStatus, epFeatures, stopEp }
}

function epDevice (ep: SoclinkNode): VhostDevice {
  const epf = ep.pcieEp!.epf
  if (epf === null) throw new Error('the ep function is not started')
  return epf.device
}

const hex = (n: number | bigint): string => `0x${n.toString(16)}`

t.test('status sequence: reset, ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK', async (t) => {
  const { rc, rcStatus, epStatus } = await pair(t)
  const tr = await driverOk(rc)
  t.same(rcStatus, [0, ACKNOWLEDGE, ACKNOWLEDGE | DRIVER, ACKNOWLEDGE | DRIVER | FEATURES_OK, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK],
    `the rc reads back 0, 1, 3, 11, 15 (read ${rcStatus.join(', ')})`)
  t.same([0, 1, 3, 11, 15], rcStatus, 'as plain numbers')
  t.same(epStatus, [1, 3, 11, 15], 'the ep device is told each status the rc sets, in order')
  t.equal(tr.getStatus(), 15, 'DEVICE_STATUS in BAR0')
  t.equal(bar0Of(rc).read8(DEVICE_STATUS), 15)
})

for (const ring of ['split', 'packed'] as const) {
  t.test(`features, --ring ${ring}: negotiated = offered ∩ requested`, async (t) => {
    const { rc, ep, epFeatures } = await pair(t, ['--ring', ring])
    const tr = await driverOk(rc)
    const dev = tr.device
    const requested = VIRTIO_F_VERSION_1 | VIRTIO_RING_F_EVENT_IDX | (ring === 'packed' ? VIRTIO_F_RING_PACKED : 0n)
    t.equal(rc.pcieRc!.testDriver.features, requested, `the rc test driver asks for ${hex(requested)}`)
    t.equal(tr.getFeatures(), OFFERED, `HOST_FEATURES: the device offers ${hex(OFFERED)}`)
    const expected = OFFERED & requested
    t.equal(expected, ring === 'packed' ? 0x5_2000_0000n : 0x1_2000_0000n, 'bits 32 and 29 (and 34 with packed)')
    t.equal(dev.features, expected, `the rc negotiated ${hex(dev.features)}`)
    t.equal((dev.features & VIRTIO_RING_F_INDIRECT_DESC), 0n, 'INDIRECT_DESC is offered but not requested, so not negotiated')
    const bar0 = bar0Of(rc)
    const guest = BigInt(bar0.read32(GUEST_FEATURES)) | (BigInt(bar0.read32(GUEST_FEATURES + 4)) << 32n)
    t.equal(guest, expected, 'GUEST_FEATURES in BAR0')
    t.equal(BigInt(bar0.read32(HOST_FEATURES)) | (BigInt(bar0.read32(HOST_FEATURES + 4)) << 32n), OFFERED, 'HOST_FEATURES in BAR0')
    t.equal(epDevice(ep).features, expected, 'the ep device holds the same features')
    t.same(epFeatures, [expected], 'FINALIZE_FEATURES told the ep once')
    t.equal(dev.layout, ring, `the rc drives ${ring} rings`)
    t.equal(tr.vqs[0]?.addrs.layout, ring)
    t.equal(ep.pcieEp!.epf!.addrs[0]?.layout, ring, `the ep activated ${ring} rings`)
    const counters = await within(rc.pcieRc!.testDriver.run(100, dev), '100 buffers each way')
    t.equal(counters.errors, 0)
    t.ok(counters.verified >= 100, `verified ${counters.verified}`)
  })
}

t.test('a feature the device does not offer: FEATURES_OK stays clear', async (t) => {
  const { rc, ep, epFeatures } = await pair(t)
  const tr = await driverOk(rc)
  const dev = tr.device
  const bus = rc.pcieRc!.virtioBus
  const drv = rc.pcieRc!.testDriver
  // Take the driver off so that the test drives initialization by hand.
  await bus.unregisterDriver(drv)
  t.equal(dev.driver, undefined, 'unbound')
  t.equal(tr.getStatus(), ACKNOWLEDGE, 'reset and acknowledged again')

  const BIT40 = 1n << 40n
  t.equal(tr.getFeatures() & BIT40, 0n, 'the device does not offer bit 40')
  await tr.setStatus(ACKNOWLEDGE | DRIVER)
  epFeatures.length = 0
  await tr.finalizeFeatures(VIRTIO_F_VERSION_1 | BIT40)
  t.same(epFeatures, [], 'the ep device was not told of features it refused')
  await tr.setStatus(tr.getStatus() | FEATURES_OK)
  t.equal(tr.getStatus() & FEATURES_OK, 0, `FEATURES_OK is clear (status ${hex(tr.getStatus())})`)
  t.equal(tr.getStatus(), ACKNOWLEDGE | DRIVER, 'the rest of the status stands')
  const epDev = epDevice(ep)
  t.equal(epDev.lastError?.code, 'ERR_VHOST_FEATURES', 'the ep device says why')
  t.match(epDev.lastError?.message ?? '', /0x10000000000/, 'naming the bit')
  t.equal(epDev.features, 0n, 'no features were taken')

  // A reset forgets the refusal: features the device offers are accepted.
  await tr.reset()
  t.equal(tr.getStatus(), 0)
  await tr.setStatus(ACKNOWLEDGE)
  await tr.setStatus(ACKNOWLEDGE | DRIVER)
  await tr.finalizeFeatures(VIRTIO_F_VERSION_1)
  await tr.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK)
  t.equal(tr.getStatus(), ACKNOWLEDGE | DRIVER | FEATURES_OK, 'FEATURES_OK set for offered features')
  t.equal(epDev.features, VIRTIO_F_VERSION_1)

  // The driver comes back and binds through the bus.
  await bus.registerDriver(drv)
  await driverOk(rc)
  t.equal(dev.status, 15)
  const counters = await within(drv.run(100, dev), '100 buffers each way')
  t.equal(counters.errors, 0)
})

t.test('the bus asks only for features offered, even of a driver that wants more', async (t) => {
  const { rc, ep } = await pair(t)
  const tr = await driverOk(rc)
  const dev = tr.device
  const bus = rc.pcieRc!.virtioBus
  const drv = rc.pcieRc!.testDriver
  await bus.unregisterDriver(drv)
  // A driver for the same device that understands bit 40 too.
  const greedy = { name: 'greedy', idTable: drv.idTable, features: VIRTIO_F_VERSION_1 | (1n << 40n), probe: async () => {}, remove: async () => {} }
  const failed: string[] = []
  bus.on('failed', (d, err) => { if (d === dev) failed.push(err.code) })
  await bus.registerDriver(greedy)
  await until('greedy bound', () => dev.driver === greedy ? true : undefined)
  t.equal(dev.features & (1n << 40n), 0n, 'the bus negotiates offered ∩ requested: bit 40 is never asked for')
  t.equal(dev.status, 15)
  t.same(failed, [])
  t.equal(epDevice(ep).features, VIRTIO_F_VERSION_1)
})

t.test('reset from the rc side', async (t) => {
  const { rc, ep } = await pair(t)
  const tr = await driverOk(rc)
  const epf = ep.pcieEp!.epf!
  const epDev = epf.device
  let resets = 0
  epDev.notifier.on('reset', () => { resets++ })
  t.ok(epf.vqs.every((q) => q.ready), 'the ep queues are active before')
  const bar0 = bar0Of(rc)
  t.equal(bar0.read16(queueReg(0).status) & QUEUE_STATUS_ACTIVE, QUEUE_STATUS_ACTIVE)

  await tr.reset()
  t.equal(resets, 1, "the ep's vhost device heard 'reset' once")
  t.equal(tr.getStatus(), 0, 'DEVICE_STATUS reads 0 from the rc')
  t.equal(bar0.read8(DEVICE_STATUS), 0, "in the rc's BAR0 replica")
  t.equal(epf.getStatus(), 0, "and in the ep's own BAR0")
  t.equal(epDev.features, 0n, 'the ep forgot the negotiated features')
  t.ok(epf.vqs.every((q) => !q.ready), 'the ep queues are stopped')
  for (const n of [0, 1]) t.equal(bar0.read16(queueReg(n).status), 0, `QUEUE_STATUS(${n}) is 0`)
})

t.test('reset from the ep side: the controller stops, then starts again', async (t) => {
  const { rc, ep } = await pair(t)
  const first = await driverOk(rc)
  const bus = rc.pcieRc!.virtioBus
  const removed: VirtioDevice[] = []
  bus.on('removed', (d) => { removed.push(d) })

  await ep.pcieEp!.functions.stop(CONTROLLER)
  await until('rc removed the device', () => rc.pcieRc!.transports.has('ep') ? undefined : true)
  await until('bus removed the device', () => removed.includes(first.device) ? true : undefined)
  t.notOk(bus.devices.includes(first.device), 'the virtio bus no longer has it')
  t.equal(rc.pcieRc!.rc.functionOf('ep'), null, 'the function is gone from the rc')
  t.equal(first.device.driver, undefined, 'the driver was removed')

  await ep.pcieEp!.functions.start(CONTROLLER)
  const second = await driverOk(rc)
  t.not(second, first, 'a new function, enumerated again')
  t.equal(second.device.status, 15, 'DRIVER_OK again')
  t.same(bus.devices, [second.device], 'one device on the bus')
  const counters = await within(rc.pcieRc!.testDriver.run(100, second.device), '100 buffers each way')
  t.equal(counters.errors, 0)
  t.ok(counters.verified >= 100, `verified ${counters.verified}`)
})

t.test('link loss: the ep goes down and the rc removes the device', async (t) => {
  const { rc, stopEp } = await pair(t)
  const tr = await driverOk(rc)
  const bus = rc.pcieRc!.virtioBus
  const removed: VirtioDevice[] = []
  bus.on('removed', (d) => { removed.push(d) })
  await stopEp()
  await until('rc removed the device', () => rc.pcieRc!.transports.has('ep') ? undefined : true)
  await until('bus removed the device', () => removed.includes(tr.device) ? true : undefined)
  t.notOk(rc.pcieRc!.transports.has('ep'), 'no transport for ep')
  t.same(bus.devices, [], 'the virtio bus is empty')
  t.equal(rc.pcieRc!.rc.functionOf('ep'), null, 'no function behind ep')
})
