// The vhost core: the bus's id matching, indices, probe and remove; the
// notifier events a transport raises; and the hostile-ring policy of
// VhostVirtqueue over real rings in one Region (split, and packed through
// packedDeviceRing), with the driver side played by Split/PackedVirtqueue.

import t from 'tap'
import { Region } from '../../daemon/src/mem/region.js'
import { VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, features } from '../../daemon/src/uapi/virtio-config.js'
import { VIRTIO_DEV_ANY_ID as ANY, type DeviceId } from '../../daemon/src/uapi/soclink-ids.js'
import { splitLayout } from '../../daemon/src/uapi/virtio-ring.js'
import { packedLayout } from '../../daemon/src/uapi/virtio-packed.js'
import { SplitVirtqueue } from '../../daemon/src/virtio/split-virtqueue.js'
import { PackedVirtqueue } from '../../daemon/src/virtio/packed-virtqueue.js'
import { VhostBus } from '../../daemon/src/vhost/bus.js'
import { VhostDevice, type VhostConfigOps, type VhostDriver } from '../../daemon/src/vhost/vhost.js'
import { VhostVirtqueue, createDeviceRing, type VhostQueue } from '../../daemon/src/vhost/virtqueue.js'
import type { SoclinkError } from '../../daemon/src/errors.js'

function ops (log: string[] = []): VhostConfigOps & { status: number } {
  return {
    status: 0,
    createVqs: (n, num, callbacks, names) => Array.from({ length: n }, (_, index) => new VhostVirtqueue({ index, name: names[index]!, num, callback: callbacks[index] ?? null, notify: () => {} })),
    delVqs: () => { log.push('delVqs') },
    read: (_addr, length) => new Uint8Array(length),
    write: () => {},
    setFeatures: (f) => { log.push(`features 0x${f.toString(16)}`) },
    setStatus (s) { this.status = s },
    getStatus () { return this.status }
  }
}

function driver (name: string, idTable: DeviceId[], log: string[], extra: Partial<VhostDriver> = {}): VhostDriver {
  return {
    name,
    idTable,
    probe: (dev) => { log.push(`probe ${name} ${dev.name}`); dev.setFeatures(features(VIRTIO_F_VERSION_1)); dev.createVqs(2, 8, [null, null], ['a', 'b']) },
    remove: (dev) => { log.push(`remove ${name} ${dev.name}`); dev.delVqs() },
    ...extra
  }
}

t.test('vhost bus: match over the id table up to device 0, index from the lowest free', async (t) => {
  const log: string[] = []
  const bus = new VhostBus()
  await bus.registerDriver(driver('rpmsg', [{ device: 7, vendor: ANY }], log))
  await bus.registerDriver(driver('pair', [{ device: 0, vendor: 0 }, { device: 9, vendor: 3 }], log))
  await bus.registerDriver(driver('vendor', [{ device: ANY, vendor: 3 }], log))
  const mk = (device: number, vendor: number): VhostDevice => new VhostDevice({ device, vendor }, ops(log))
  const [a, b, c, d] = [mk(7, 1), mk(9, 3), mk(9, 4), mk(11, 3)]
  t.equal(await bus.registerDevice(a!), 'bound')
  t.equal(await bus.registerDevice(b!), 'bound')
  t.equal(await bus.registerDevice(c!), 'unmatched')
  t.equal(await bus.registerDevice(d!), 'bound')
  t.same([a, b, c, d].map((x) => [x!.name, x!.driver?.name]), [['vhost0', 'rpmsg'], ['vhost1', 'vendor'], ['vhost2', undefined], ['vhost3', 'vendor']])
  t.equal(a!.vqs.length, 2)
  await bus.unregisterDevice(b!)
  t.same(log.slice(-2), ['remove vendor vhost1', 'delVqs'])
  const e = mk(7, 2)
  await bus.registerDevice(e)
  t.equal(e.name, 'vhost1', 'the freed index is used again')
  await bus.registerDriver(driver('late', [{ device: 9, vendor: ANY }], log))
  t.equal(c!.driver?.name, 'late', 'a new driver probes unbound devices')
  await bus.unregisterDriver(bus.drivers[0]!)
  t.same([a!.driver, e.driver], [undefined, undefined])
  await t.rejects(bus.registerDriver(driver('late', [], log)), { code: 'ERR_CONFLICT' })
})

t.test('vhost bus: a probe that throws is reported, not thrown, and its queues go', async (t) => {
  const log: string[] = []
  const bus = new VhostBus()
  const failed: string[] = []
  bus.on('failed', (dev, err) => failed.push(`${dev.name} ${err.code} ${err.message}`))
  const probe = (dev: VhostDevice): void => { dev.createVqs(1, 8, [null], ['q']); throw new Error('no memory') }
  await bus.registerDriver(driver('bad', [{ device: 1, vendor: ANY }], log, { probe }))
  const dev = new VhostDevice({ device: 1, vendor: 1 }, ops(log))
  t.equal(await bus.registerDevice(dev), 'failed')
  t.same(failed, ['vhost0 ERR_VHOST_DRIVER no memory'])
  t.same([dev.driver, dev.vqs, log], [undefined, [], ['delVqs']])
})

t.test('notifier: FINALIZE_FEATURES within the offer, SET_STATUS, RESET; a throwing listener asks for reset', async (t) => {
  const dev = new VhostDevice({ device: 1, vendor: 1 }, ops())
  const heard: string[] = []
  dev.notifier.on('finalize-features', (f) => heard.push(`features 0x${f.toString(16)}`))
  dev.notifier.on('set-status', (s) => heard.push(`status ${s}`))
  dev.notifier.on('reset', () => heard.push('reset'))
  dev.setFeatures(features(VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX))
  t.equal(dev.notifyFinalizeFeatures(features(VIRTIO_F_VERSION_1, 3)), false, 'a feature never offered')
  t.equal(dev.lastError?.code, 'ERR_VHOST_FEATURES')
  t.equal(dev.notifyFinalizeFeatures(features(VIRTIO_F_VERSION_1)), true)
  t.equal(dev.features, features(VIRTIO_F_VERSION_1))
  dev.notifySetStatus(15)
  dev.notifyReset()
  t.same(heard, ['features 0x100000000', 'status 15', 'reset'])
  t.equal(dev.features, 0n)

  const asked: string[] = []
  dev.on('needs-reset', (vq, err) => asked.push(`${vq?.name ?? 'device'} ${err.code}`))
  dev.notifier.on('set-status', () => { throw new Error('listener bug') })
  t.doesNotThrow(() => { dev.notifySetStatus(1) })
  t.same(asked, ['device ERR_VHOST_NOTIFIER'])
  t.equal(dev.needsReset?.message, 'listener bug')
})

/** A device with queues "a" and "b" on split rings of 8 in one Region, their drivers, and the needs-reset reports. */
function rings (callbacks: Array<((vq: VhostQueue) => void | Promise<void>) | null> = [null, null]): {
  mem: Region, dev: VhostDevice, vqs: VhostVirtqueue[], drivers: Array<SplitVirtqueue<number>>, asked: Array<[string, SoclinkError]>
} {
  const mem = new Region(1, 'mem', 0x20000)
  const dev = new VhostDevice({ device: 1, vendor: 1 }, ops())
  const vqs = dev.createVqs(2, 8, callbacks, ['a', 'b']) as VhostVirtqueue[]
  const drivers = [0, 1].map((i) => {
    const l = splitLayout(0x1000 * i, 8, 16)
    const drv = new SplitVirtqueue<number>(mem, l)
    vqs[i]!.activate(() => createDeviceRing(mem, { layout: 'split', num: 8, desc: l.desc, driver: l.avail, device: l.used }, 0n))
    return drv
  })
  const asked: Array<[string, SoclinkError]> = []
  dev.on('needs-reset', (vq, err) => asked.push([vq!.name, err]))
  return { mem, dev, vqs, drivers, asked }
}

t.test('hostile ring: the queue stops, the device asks for reset once, the other queue keeps working', async (t) => {
  const { mem, dev, vqs: [a, b], drivers: [da, db], asked } = rings()
  da!.add([{ addr: 0x8000, len: 4 }], [], 1)
  mem.write16(da!.ring.availRing, 99)
  t.equal(a!.getDesc(), null)
  t.match(a, { ready: false, lastError: { code: 'ERR_RING_INDEX' }, counters: { errors: 1 } })
  t.same(asked.map(([n, e]) => `${n} ${e.code}`), ['a ERR_RING_INDEX'])
  t.equal(dev.needsReset?.code, 'ERR_RING_INDEX')
  a!.complete(0, 0)
  t.same([a!.needNotify(), a!.notifyEnable(), a!.counters.buffers], [false, true, 0], 'a stopped queue does nothing')
  t.equal(asked.length, 1)

  db!.add([], [{ addr: 0x9000, len: 16 }], 7)
  const d = b!.getDesc()!
  t.same(d.writable, [{ addr: 0x9000, len: 16 }])
  b!.complete(d.head, 16)
  b!.kick()
  t.same(db!.getBuf(), { token: 7, len: 16 })
  t.match(b, { ready: true, lastError: null, counters: { buffers: 1, interrupts: 1, errors: 0 } })

  t.equal(a!.activate(() => createDeviceRing(mem, { layout: 'split', num: 8, desc: 0, driver: 128, device: 0x100000 }, 0n)), false, 'a ring outside memory')
  t.match(a, { ready: false, lastError: { code: 'ERR_RING_ADDRESS' } })
  t.equal(asked.length, 2)
})

t.test('a callback that throws or rejects stops its queue; nothing reaches the caller', async (t) => {
  const { vqs: [a, b], asked } = rings([() => { throw new TypeError('driver bug') }, async () => { throw new Error('later') }])
  t.doesNotThrow(() => { a!.trigger() })
  t.match(a, { ready: false, lastError: { code: 'ERR_VHOST_QUEUE', message: 'driver bug' }, counters: { kicks: 1, errors: 1 } })
  b!.trigger()
  await new Promise((resolve) => setImmediate(resolve))
  t.match(b, { ready: false, lastError: { message: 'later' } })
  t.same(asked.map(([n]) => n), ['a', 'b'])
})

t.test('packed rings through packedDeviceRing: complete() takes the buffer id', async (t) => {
  const mem = new Region(1, 'mem', 0x10000)
  const l = packedLayout(0, 4)
  const drv = new PackedVirtqueue<string>(mem, l)
  const vq = new VhostVirtqueue({ index: 0, name: 'p', num: 4, callback: null, notify: () => {} })
  t.ok(vq.activate(() => createDeviceRing(mem, { layout: 'packed', num: 4, desc: l.desc, driver: l.driver, device: l.device }, 0n)))
  drv.add([{ addr: 0x1000, len: 8 }], [], 'x')
  drv.add([{ addr: 0x2000, len: 8 }], [{ addr: 0x3000, len: 8 }], 'y')
  const [x, y] = [vq.getDesc()!, vq.getDesc()!]
  vq.complete(y.head, 5)
  vq.complete(x.head, 0)
  t.same([drv.getBuf(), drv.getBuf()], [{ token: 'y', len: 5 }, { token: 'x', len: 0 }])
  vq.complete(x.head, 0)
  t.match(vq, { ready: false, lastError: { code: 'ERR_RING_ID' } }, 'completing a buffer twice is a ring error too')
})
