// The virtio bus against a scripted transport that logs every call:
// virtio_dev_probe()'s order (virtio 1.x 3.1.1), feature negotiation,
// FEATURES_OK refused, failing probes, remove, DEVICE_NEEDS_RESET, id-table
// matching and serialized work on one device.

import t from 'tap'
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE as ACK, VIRTIO_CONFIG_S_DRIVER as DRIVER, VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED as FAILED, VIRTIO_CONFIG_S_FEATURES_OK as FEATURES_OK, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, features
} from '../../daemon/src/uapi/virtio-config.js'
import { VIRTIO_DEV_ANY_ID as ANY, idTableMatch, type DeviceId } from '../../daemon/src/uapi/soclink-ids.js'
import { VirtioBus } from '../../daemon/src/virtio/bus.js'
import { VirtioDevice, negotiateFeatures, type VirtioConfigOps, type VirtioDriver, type VqSpec } from '../../daemon/src/virtio/virtio.js'
import type { DriverQueue } from '../../daemon/src/virtio/virtqueue.js'

const V1 = features(VIRTIO_F_VERSION_1)

class Ops implements VirtioConfigOps {
  readonly buffers = null
  readonly log: string[] = []
  status = 0
  refuse = false
  specs: Array<VqSpec<unknown>> = []
  constructor (readonly offered: bigint) {}
  getFeatures (): bigint { return this.offered }
  async finalizeFeatures (f: bigint): Promise<void> { this.log.push(`finalize 0x${f.toString(16)}`) }
  getStatus (): number { return this.status }
  async setStatus (s: number): Promise<void> {
    this.log.push(`status ${s}`)
    this.status = this.refuse ? s & ~FEATURES_OK : s
  }

  async reset (): Promise<void> { this.log.push('reset'); this.status = 0 }
  async findVqs<T> (specs: ReadonlyArray<VqSpec<T>>): Promise<Array<DriverQueue<T>>> {
    this.log.push(`findVqs ${specs.map((s) => s.name).join(',')}`)
    this.specs = specs as Array<VqSpec<unknown>>
    return specs.map(() => ({}) as DriverQueue<T>)
  }

  async delVqs (): Promise<void> { this.log.push('delVqs') }
  getConfig (_offset: number, length: number): Uint8Array { return new Uint8Array(length) }
  setConfig (): void {}
}

function driver (name: string, idTable: DeviceId[], log: string[], extra: Partial<VirtioDriver> = {}): VirtioDriver {
  return {
    name,
    idTable,
    features: features(0, 1, VIRTIO_RING_F_EVENT_IDX),
    probe: async (dev) => { log.push(`probe ${name}`); await dev.findVqs([{ name: 'q0', callback: null }]) },
    remove: async () => { log.push(`remove ${name}`) },
    ...extra
  }
}

function setup (offered = V1 | features(0, 2, VIRTIO_RING_F_EVENT_IDX, VIRTIO_F_RING_PACKED), id: DeviceId = { device: 5, vendor: 7 }): { ops: Ops, dev: VirtioDevice, bus: VirtioBus, events: string[] } {
  const ops = new Ops(offered)
  const dev = new VirtioDevice(id, ops)
  const bus = new VirtioBus()
  const events: string[] = []
  dev.on('status', (s) => events.push(`status ${s}`))
  for (const e of ['bound', 'unbound', 'failed', 'needs-reset', 'removed'] as const) bus.on(e, (d: VirtioDevice, x?: unknown) => events.push(`${e} ${d.name}${x instanceof Error ? ` ${(x as { code?: string }).code}` : ''}`))
  return { ops, dev, bus, events }
}

t.test('negotiateFeatures: the intersection, VERSION_1 always kept if offered', async (t) => {
  t.equal(negotiateFeatures(V1 | features(0, 3), features(0, 4)), V1 | features(0))
  t.equal(negotiateFeatures(features(0, VIRTIO_RING_F_INDIRECT_DESC), features(0, VIRTIO_RING_F_INDIRECT_DESC)), features(0, VIRTIO_RING_F_INDIRECT_DESC))
  t.equal(negotiateFeatures(V1 | features(VIRTIO_F_RING_PACKED), 0n), V1, 'transport bits need the driver too')
})

t.test('probe runs reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, probe, DRIVER_OK', async (t) => {
  const { ops, dev, bus, events } = setup()
  const seen: number[] = []
  bus.on('status', (d, s) => { if (d === dev) seen.push(s) })
  await bus.registerDriver(driver('d', [{ device: 5, vendor: ANY }], ops.log))
  t.equal(await bus.addDevice(dev), 'bound')
  t.same(ops.log, ['reset', `status ${ACK}`, `status ${ACK | DRIVER}`, 'finalize 0x120000001', `status ${ACK | DRIVER | FEATURES_OK}`,
    'probe d', 'findVqs q0', `status ${ACK | DRIVER | FEATURES_OK | DRIVER_OK}`])
  t.equal(dev.features, V1 | features(0, VIRTIO_RING_F_EVENT_IDX))
  t.equal(dev.layout, 'split')
  t.equal(dev.name, 'virtio0')
  t.equal(dev.driver?.name, 'd')
  t.same(events, ['status 0', 'status 1', 'status 3', 'status 11', 'status 15', 'bound virtio0'])
  t.same(seen, [0, 1, 3, 11, 15], 'the bus relays status changes for views')
})

t.test('a device that clears FEATURES_OK is FAILED with the reason; nothing throws', async (t) => {
  const { ops, dev, bus, events } = setup()
  ops.refuse = true
  await bus.registerDriver(driver('d', [{ device: 5, vendor: 7 }], ops.log))
  t.equal(await bus.addDevice(dev), 'failed')
  t.equal(ops.status, ACK | DRIVER | FAILED)
  t.notOk(ops.log.includes('probe d'), 'the driver never probed')
  t.match(dev, { failed: true, driver: undefined, lastError: { code: 'ERR_VIRTIO_FEATURES', message: /refused features 0x120000001/ } })
  t.equal(events.at(-1), 'failed virtio0 ERR_VIRTIO_FEATURES')
})

t.test('a device without VIRTIO_F_VERSION_1 fails before FEATURES_OK', async (t) => {
  const { ops, dev, bus } = setup(features(0, VIRTIO_RING_F_EVENT_IDX))
  await bus.registerDriver(driver('d', [{ device: 5, vendor: 7 }], ops.log))
  t.equal(await bus.addDevice(dev), 'failed')
  t.equal(dev.lastError?.code, 'ERR_VIRTIO_LEGACY')
  t.equal(ops.status, ACK | DRIVER | FAILED)
})

t.test('a probe that throws, or a transport that rejects, leaves FAILED', async (t) => {
  const { ops, dev, bus } = setup()
  const boom = async (d: VirtioDevice): Promise<void> => { await d.findVqs([{ name: 'a', callback: null }]); throw new TypeError('boom') }
  await bus.registerDriver(driver('d', [{ device: 5, vendor: 7 }], ops.log, { probe: boom }))
  t.equal(await bus.addDevice(dev), 'failed')
  t.match(dev.lastError, { code: 'ERR_VIRTIO_DRIVER', message: 'boom' })
  t.equal(ops.status & FAILED, FAILED)
  t.same(ops.log.slice(-2), [`status ${ACK | DRIVER | FEATURES_OK | FAILED}`, 'delVqs'], 'FAILED, then the queues go')
  t.same(dev.vqs, [])

  const s = setup()
  s.ops.setStatus = async () => { throw new Error('link down') }
  await s.bus.registerDriver(driver('d', [{ device: 5, vendor: 7 }], s.ops.log))
  t.equal(await s.bus.addDevice(s.dev), 'failed')
  t.equal(s.dev.lastError?.message, 'link down')
})

t.test('removeDevice: driver.remove, reset, delVqs', async (t) => {
  const { ops, dev, bus, events } = setup()
  await bus.registerDriver(driver('d', [{ device: 5, vendor: 7 }], ops.log))
  await bus.addDevice(dev)
  ops.log.length = 0
  await bus.removeDevice(dev)
  t.same(ops.log, ['remove d', 'reset', 'delVqs'])
  t.same(events.slice(-3), ['status 0', 'unbound virtio0', 'removed virtio0'])
  t.same(bus.devices, [])
  t.equal(dev.driver, undefined)
})

t.test('deviceNeedsReset removes the driver and probes again from reset', async (t) => {
  const { ops, dev, bus, events } = setup()
  await bus.registerDriver(driver('d', [{ device: 5, vendor: 7 }], ops.log))
  await bus.addDevice(dev)
  ops.log.length = 0
  t.equal(await bus.deviceNeedsReset(dev), 'bound')
  t.same(ops.log, ['remove d', 'reset', 'delVqs', 'reset', `status ${ACK}`, `status ${ACK | DRIVER}`, 'finalize 0x120000001',
    `status ${ACK | DRIVER | FEATURES_OK}`, 'probe d', 'findVqs q0', `status ${ACK | DRIVER | FEATURES_OK | DRIVER_OK}`])
  t.equal(dev.lastError?.code, 'ERR_VIRTIO_NEEDS_RESET')
  t.ok(events.includes('needs-reset virtio0'))

  ops.refuse = true
  t.equal(await bus.deviceNeedsReset(dev), 'failed', 'a probe that fails again leaves the device FAILED')
  t.equal(ops.status & FAILED, FAILED)
  t.equal(dev.lastError?.code, 'ERR_VIRTIO_FEATURES')
})

t.test('id tables: device equal or ANY, vendor ANY or equal, read up to device 0', async (t) => {
  const id = { device: 5, vendor: 7 }
  const cases: Array<[DeviceId[], boolean]> = [
    [[{ device: 5, vendor: 7 }], true],
    [[{ device: 5, vendor: ANY }], true],
    [[{ device: ANY, vendor: 7 }], true],
    [[{ device: ANY, vendor: ANY }], true],
    [[{ device: 5, vendor: 8 }], false],
    [[{ device: 6, vendor: ANY }], false],
    [[{ device: 6, vendor: 7 }, { device: 5, vendor: 7 }], true],
    [[{ device: 0, vendor: ANY }, { device: 5, vendor: 7 }], false],
    [[], false]
  ]
  for (const [table, expected] of cases) t.equal(idTableMatch(table, id), expected, JSON.stringify(table))
})

t.test('the bus binds the first matching driver, also to devices added before it', async (t) => {
  const { ops, dev, bus } = setup()
  t.equal(await bus.addDevice(dev), 'unmatched')
  t.equal(ops.status, ACK, 'an unmatched device stays acknowledged')
  await bus.registerDriver(driver('other', [{ device: 5, vendor: 8 }], ops.log))
  t.equal(dev.driver, undefined)
  await bus.registerDriver(driver('any', [{ device: ANY, vendor: ANY }], ops.log))
  await bus.registerDriver(driver('late', [{ device: 5, vendor: 7 }], ops.log))
  t.equal(dev.driver?.name, 'any')
  t.equal(ops.status, ACK | DRIVER | FEATURES_OK | DRIVER_OK)
  t.notOk(ops.log.includes('probe late'))

  await bus.unregisterDriver(bus.drivers[1]!)
  t.same(ops.log.slice(-4), ['remove any', 'reset', 'delVqs', `status ${ACK}`], 'unbound and acknowledged again')
  await t.rejects(bus.registerDriver(driver('late', [], ops.log)), { code: 'ERR_CONFLICT' })
})

t.test('indices are the lowest free; work on a device is serialized', async (t) => {
  const bus = new VirtioBus()
  const log: string[] = []
  let open: () => void = () => {}
  const gate = new Promise<void>((resolve) => { open = resolve })
  await bus.registerDriver(driver('slow', [{ device: 5, vendor: ANY }], log, { probe: async () => { log.push('probe start'); await gate; log.push('probe end') } }))
  const devs = [0, 1, 2].map(() => new VirtioDevice({ device: 9, vendor: 1 }, new Ops(V1)))
  for (const d of devs) await bus.addDevice(d)
  t.same(devs.map((d) => d.name), ['virtio0', 'virtio1', 'virtio2'])
  await bus.removeDevice(devs[1]!)
  const again = new VirtioDevice({ device: 5, vendor: 1 }, new Ops(V1))
  const adding = bus.addDevice(again)
  t.equal(again.name, 'virtio1')
  const removing = bus.removeDevice(again).then(() => log.push('removed'))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(log, ['probe start'], 'remove waits for the probe')
  open()
  t.equal(await adding, 'bound')
  await removing
  t.same(log, ['probe start', 'probe end', 'remove slow', 'removed'])
})

t.test('a queue callback that throws breaks the device instead of reaching the transport', async (t) => {
  const { ops, dev, bus } = setup()
  const probe = async (d: VirtioDevice): Promise<void> => { await d.findVqs([{ name: 'q', callback: () => { throw new RangeError('bad') } }]) }
  await bus.registerDriver(driver('d', [{ device: 5, vendor: 7 }], ops.log, { probe }))
  await bus.addDevice(dev)
  const broken: string[] = []
  dev.on('broken', (e) => broken.push(e.code))
  t.doesNotThrow(() => { ops.specs[0]!.callback!({} as DriverQueue) })
  t.match(dev, { broken: true, lastError: { code: 'ERR_VIRTIO_QUEUE', message: 'bad' } })
  t.same(broken, ['ERR_VIRTIO_QUEUE'])
})
