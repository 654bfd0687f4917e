// The PCIe and virtio routes against in-process rc and ep daemons linked
// over loopback: the ep's configfs tree, the rc's bus, devices and
// virtqueues on both sides, a test device run, and a controller stopped and
// started again through the API. Requests go through app.inject.

import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildApi } from '../../daemon/src/api/server.js'
import { linkUrl, startNode } from '../support/nodes.js'
import { until } from '../support/daemon.js'
import type { Device, PciEpController, PciEpFunction, PciEpTree, PciRootComplex, TestRunResult, Virtqueue } from '../../proto/api/index.js'

interface ErrorBody { error: { code: string, message: string } }

const errorOf = (res: LightMyRequestResponse): ErrorBody['error'] => res.json<ErrorBody>().error

async function get<T> (api: FastifyInstance, url: string): Promise<T> {
  const res = await api.inject({ url })
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${res.body}`)
  return res.json<T>()
}

const devices = async (api: FastifyInstance): Promise<Device[]> => (await get<{ devices: Device[] }>(api, '/v1/devices')).devices
const queues = async (api: FastifyInstance): Promise<Virtqueue[]> => (await get<{ virtqueues: Virtqueue[] }>(api, '/v1/virtqueues')).virtqueues
const driverOk = async (api: FastifyInstance): Promise<Device | undefined> => (await devices(api)).find((d) => d.statusBits.includes('DRIVER_OK'))

const rc = await startNode('rc', ['--role', 'rc'])
const ep = await startNode('ep', ['--role', 'ep', '--vhost-driver', 'soclink-test', '--peer', linkUrl(rc)])
const rcApi = await buildApi(rc)
const epApi = await buildApi(ep)
t.teardown(async () => {
  await rcApi.close()
  await epApi.close()
  await ep.stop('test')
  await rc.stop('test')
})
const dev = await until('the rc\'s virtio device at DRIVER_OK', async () => await driverOk(rcApi), 15_000)

t.test('the ep tree: vhost0 linked to pcie0 and started', async (t) => {
  const tree = await get<PciEpTree>(epApi, '/v1/pci-ep')
  t.match(tree.functions, [{ name: 'vhost0', type: 'vhost', vendorId: 0x104c, deviceId: 0xb500, subsysId: 0xffe0, numVrings: 2, vringSize: 0 }])
  t.equal(tree.controllers.length, 1)
  const c = tree.controllers[0]!
  t.match(c, { name: 'pcie0', function: 'vhost0', started: true, lastError: '' })
  t.match(c.endpoint, { name: 'pcie0', rcPeer: 'rc', started: true, header: { vendorId: 0x104c, deviceId: 0xb500 } })
  t.ok(c.endpoint!.bars.some((b) => b.index === 0 && b.region === 'pcie.bar0'), 'BAR0 holds the register block')
  t.ok(c.endpoint!.outbound.length >= 1, 'an outbound window onto the rc\'s memory')
})

t.test('ep configfs: create, validate, patch while busy, link rules, delete', async (t) => {
  const busy = await epApi.inject({ method: 'PATCH', url: '/v1/pci-ep/functions/vhost0', payload: { deviceId: 0xb501 } })
  t.equal(busy.statusCode, 409, 'a function whose controller is started is busy')
  t.equal(errorOf(busy).code, 'ERR_CONFLICT')

  for (const payload of [
    { name: 'f1', vendorId: 0x10000 },
    { name: 'f1', classCode: -1 },
    { name: 'f1', interruptPin: 5 },
    { name: 'f1', numVrings: 9 },
    { name: 'f1', vringSize: -1 },
    { name: 'f1', type: 'test' },
    { name: 'f1', vendorId: '0x104c' },
    { name: 'bad name' },
    { name: 'f1', colour: 'red' }
  ]) {
    const res = await epApi.inject({ method: 'POST', url: '/v1/pci-ep/functions', payload })
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.equal(errorOf(res).code, 'ERR_VALIDATION')
  }
  t.equal((await epApi.inject({ method: 'PATCH', url: '/v1/pci-ep/functions/vhost0', payload: {} })).statusCode, 400, 'a PATCH changes something')

  const created = await epApi.inject({ method: 'POST', url: '/v1/pci-ep/functions', payload: { name: 'f1', deviceId: 0xb501, numVrings: 4 } })
  t.equal(created.statusCode, 201)
  t.match(created.json<PciEpFunction>(), { name: 'f1', vendorId: 0x104c, deviceId: 0xb501, numVrings: 4, vringSize: 0 })
  t.equal((await epApi.inject({ method: 'POST', url: '/v1/pci-ep/functions', payload: { name: 'f1' } })).statusCode, 409, 'a name in use')
  const patched = await epApi.inject({ method: 'PATCH', url: '/v1/pci-ep/functions/f1', payload: { vringSize: 128, interruptPin: 2 } })
  t.equal(patched.statusCode, 200)
  t.match(patched.json<PciEpFunction>(), { name: 'f1', deviceId: 0xb501, vringSize: 128, interruptPin: 2 })
  t.equal((await epApi.inject({ method: 'PATCH', url: '/v1/pci-ep/functions/nope', payload: { vringSize: 2 } })).statusCode, 404)

  const link = await epApi.inject({ method: 'PUT', url: '/v1/pci-ep/controllers/pcie0/functions/f1' })
  t.equal(link.statusCode, 409, 'pcie0 has vhost0 linked')
  t.equal(errorOf(link).code, 'ERR_CONFLICT')
  t.equal((await epApi.inject({ method: 'PUT', url: '/v1/pci-ep/controllers/pcie9/functions/f1' })).statusCode, 404, 'no such controller')
  t.equal((await epApi.inject({ method: 'PUT', url: '/v1/pci-ep/controllers/pcie0/functions/f1', payload: { x: 1 } })).statusCode, 400, 'a link takes no body')
  t.equal((await epApi.inject({ method: 'DELETE', url: '/v1/pci-ep/controllers/pcie0/functions/f1' })).statusCode, 404, 'f1 is not linked')
  t.equal((await epApi.inject({ method: 'DELETE', url: '/v1/pci-ep/controllers/pcie0/functions/vhost0' })).statusCode, 409, 'started: stop first')
  t.equal((await epApi.inject({ method: 'DELETE', url: '/v1/pci-ep/functions/vhost0' })).statusCode, 409, 'linked: unlink first')

  t.equal((await epApi.inject({ method: 'DELETE', url: '/v1/pci-ep/functions/f1' })).statusCode, 204)
  t.equal((await epApi.inject({ url: '/v1/pci-ep/functions/f1' })).statusCode, 404)
})

t.test('PCIe routes of the other role are 404s that say why', async (t) => {
  for (const [api, url, what] of [[rcApi, '/v1/pci-ep', 'endpoint'], [epApi, '/v1/pci', 'root complex']] as const) {
    const res = await api.inject({ url })
    t.equal(res.statusCode, 404, url)
    t.match(errorOf(res), { code: 'ERR_NOT_FOUND', message: `not a PCIe ${what}` })
  }
  t.equal((await rcApi.inject({ method: 'POST', url: '/v1/pci-ep/controllers/pcie0/start' })).statusCode, 404)
})

t.test('the rc\'s bus lists the function with the TI ids', async (t) => {
  const pci = await get<PciRootComplex>(rcApi, '/v1/pci')
  t.match(pci, { region: 'pcie.sysmem', memorySize: rc.settings.memorySize })
  t.match(pci.functions, [{ peer: 'ep', state: 'ready', vendorId: 0x104c, deviceId: 0xb500, subsystemId: 0xffe0, lastError: '' }])
  t.ok(pci.functions[0]!.bars.some((b) => b.index === 0), 'BAR0 assigned')
})

t.test('devices on both sides', async (t) => {
  t.match(dev, { side: 'virtio', peer: 'ep', transport: 'virtio-pci-epf', deviceId: 0xffe0, driver: 'soclink-test', lastError: '' })
  t.same(dev.statusBits, ['ACKNOWLEDGE', 'DRIVER', 'DRIVER_OK', 'FEATURES_OK'])
  t.equal(dev.status, 0x0f)
  t.match(dev.deviceFeatures, /^0x[0-9a-f]+$/)
  t.same(await get<Device>(rcApi, `/v1/devices/${dev.name}`), dev, 'by name')
  const [vhost] = await devices(epApi)
  t.match(vhost, { side: 'vhost', peer: 'rc', transport: 'pci-epf-vhost', deviceId: 0xffe0, driver: 'soclink-test-vhost', needsReset: '' })
  t.equal(vhost!.driverFeatures, dev.driverFeatures, 'both sides agree on the negotiated features')
  t.equal((await rcApi.inject({ url: '/v1/devices/virtio9' })).statusCode, 404)
})

t.test('virtqueues on both sides, a test run, and the indices it moved', async (t) => {
  const before = await queues(rcApi)
  const epBefore = await queues(epApi)
  t.equal(before.length, 2)
  t.equal(epBefore.length, 2)
  for (const q of before) {
    t.match(q, { device: dev.name, side: 'virtio', layout: 'split', size: 256, region: 'pcie.sysmem', lastSeenAvail: null, ready: true })
    const twin = epBefore.find((e) => e.index === q.index)!
    t.match(twin, { side: 'vhost', name: q.name, layout: 'split', size: 256, region: 'rc:pcie.sysmem', ready: true })
    t.equal(twin.desc, q.desc, `queue ${q.index}: both sides see the ring at the same address`)
    t.equal(twin.driverArea, q.driverArea)
    t.equal(twin.deviceArea, q.deviceArea)
  }

  const bad = await rcApi.inject({ method: 'POST', url: `/v1/devices/${dev.name}/test`, payload: { tx: -1, rx: 1 } })
  t.equal(bad.statusCode, 400)
  t.equal((await epApi.inject({ method: 'POST', url: '/v1/devices/vhost0/test', payload: { tx: 1, rx: 1 } })).statusCode, 404, 'runs are on the driver side')

  const res = await rcApi.inject({ method: 'POST', url: `/v1/devices/${dev.name}/test`, payload: { tx: 500, rx: 500 } })
  t.equal(res.statusCode, 200, res.body)
  const run = res.json<TestRunResult>()
  t.match(run, { sent: 500, received: 500, verified: 500, errors: 0 })
  t.ok(run.bytes > 0 && run.seconds >= 0)

  const moved = (q: Virtqueue | undefined, field: 'availIdx' | 'usedIdx', by: number): number => ((q?.[field] ?? 0) + by) % 65536
  const after = await queues(rcApi)
  for (const q of after) {
    const b = before.find((x) => x.index === q.index)!
    t.equal(q.availIdx, moved(b, 'availIdx', 500), `${q.name}: avail idx moved by 500`)
    t.equal(q.usedIdx, moved(b, 'usedIdx', 500), `${q.name}: used idx moved by 500`)
    t.equal(q.counters.buffers - b.counters.buffers, 500, `${q.name}: 500 used buffers taken back`)
    t.equal(q.counters.errors, 0)
  }
  // The ep reads the rings through its replica of the rc's memory: it catches up.
  const epAfter = await until('the ep\'s view of the rings', async () => {
    const qs = await queues(epApi)
    return qs.every((q) => q.availIdx === after[q.index]!.availIdx && q.usedIdx === after[q.index]!.usedIdx) ? qs : undefined
  })
  for (const q of epAfter) {
    const b = epBefore.find((x) => x.index === q.index)!
    t.equal(q.lastSeenAvail, q.availIdx, `${q.name}: the device consumed every avail entry`)
    t.equal(q.counters.buffers - b.counters.buffers, 500, `${q.name}: 500 buffers completed`)
    t.equal(q.counters.errors, 0)
  }
})

t.test('stopping the controller removes the rc\'s device; starting it brings it back', async (t) => {
  const stopped = await epApi.inject({ method: 'POST', url: '/v1/pci-ep/controllers/pcie0/stop' })
  t.equal(stopped.statusCode, 200)
  t.match(stopped.json<PciEpController>(), { name: 'pcie0', function: 'vhost0', started: false, endpoint: null })
  await until('the rc\'s device gone', async () => (await devices(rcApi)).length === 0)
  t.same(await devices(epApi), [], 'no vhost device while stopped')
  t.same(await queues(epApi), [])

  const patched = await epApi.inject({ method: 'PATCH', url: '/v1/pci-ep/functions/vhost0', payload: { revisionId: 2, vringSize: 128 } })
  t.equal(patched.statusCode, 200, 'idle: attributes may change')

  const started = await epApi.inject({ method: 'POST', url: '/v1/pci-ep/controllers/pcie0/start' })
  t.equal(started.statusCode, 200, started.body)
  t.match(started.json<PciEpController>(), { name: 'pcie0', started: true, endpoint: { started: true, header: { revisionId: 2 } } })
  const back = await until('the rc\'s device back at DRIVER_OK', async () => await driverOk(rcApi), 15_000)
  t.match(back, { peer: 'ep', deviceId: 0xffe0 })
  t.match((await get<PciRootComplex>(rcApi, '/v1/pci')).functions, [{ peer: 'ep', revisionId: 2 }])
  t.same((await queues(rcApi)).map((q) => q.size), [128, 128], 'the function\'s vringSize sets the ring size')
  const again = await rcApi.inject({ method: 'POST', url: `/v1/devices/${back.name}/test`, payload: { tx: 10, rx: 10 } })
  t.match(again.json<TestRunResult>(), { sent: 10, received: 10, verified: 10, errors: 0 })
})

t.test('an endpoint with no root complex linked cannot start: 503', async (t) => {
  const lone = await startNode('lone', ['--role', 'ep'])
  const api = await buildApi(lone)
  t.teardown(async () => { await api.close(); await lone.stop('test') })
  const res = await api.inject({ method: 'POST', url: '/v1/pci-ep/controllers/pcie0/start' })
  t.equal(res.statusCode, 503)
  t.equal(errorOf(res).code, 'ERR_UNAVAILABLE')
  const [c] = (await get<PciEpTree>(api, '/v1/pci-ep')).controllers
  t.match(c, { name: 'pcie0', function: 'vhost0', started: false, endpoint: null, lastError: /no root complex/ })
  t.same(await devices(api), [])
  t.same(await queues(api), [])
})

t.test('OpenAPI lists each PCIe role\'s own routes, and the schemas', async (t) => {
  type Doc = { paths: Record<string, unknown>, components: { schemas: Record<string, unknown> } }
  const [rcDoc, epDoc] = await Promise.all([rcApi, epApi].map(async (api) => (await api.inject({ url: '/docs/json' })).json<Doc>()))
  for (const p of ['/v1/pci', '/v1/devices/{name}/test', '/v1/virtqueues']) t.ok(rcDoc.paths[p], `rc: ${p}`)
  for (const p of ['/v1/pci-ep', '/v1/pci-ep/functions/{name}', '/v1/pci-ep/controllers/{ctrl}/functions/{name}', '/v1/virtqueues', '/v1/vhost/vhost-client']) t.ok(epDoc.paths[p], `ep: ${p}`)
  for (const p of ['/v1/pci-ep', '/v1/pci-ep/functions/{name}', '/v1/vhost/vhost-client']) t.notOk(rcDoc.paths[p], `rc: no ${p}`)
  t.notOk(epDoc.paths['/v1/pci'], 'ep: no /v1/pci')
  for (const s of ['PciEpFunction', 'PciEpController', 'PciEndpointState', 'PciFunction', 'Device', 'Virtqueue']) t.ok(rcDoc.components.schemas[s], s)
})
