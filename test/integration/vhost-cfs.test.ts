// The vhost configfs tree as REST, on in-process rc and ep daemons linked
// over loopback: the ep's function vhost0 starts with the test client
// (--vhost-driver soclink-test); while its controller is started it is busy;
// stopped, it is unlinked (vhostDriver none) and linked to vhost_rpmsg_bus,
// after which the rc finds device 7; then back to the test device. Unknown
// names are 404s, bad bodies 400s, and an rc has no vhost side at all.

import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApi } from '../../daemon/src/api/server.js'
import { linkUrl, startNode } from '../support/nodes.js'
import { until } from '../support/daemon.js'
import type { Device, PciEpFunction } from '../../proto/api/index.js'

interface ErrorBody { error: { code: string, message: string } }
interface Reply { status: number, body: unknown, code: string | undefined, message: string | undefined }
interface Transport { name: string, kind: string, link: { driver: string, item: string } | null, registered: boolean, vhostDevice: string | null, busy: boolean }

const RPMSG = { driver: 'vhost_rpmsg_bus', item: 'ffffffff:00000007' }
const TEST = { driver: 'soclink-test-vhost', item: 'ffffffff:0000ffe0' }

async function call (api: FastifyInstance, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown): Promise<Reply> {
  const res = await api.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) })
  const body = res.body === '' ? null : res.json<unknown>()
  const error = (body as ErrorBody | null)?.error
  return { status: res.statusCode, body, code: error?.code, message: error?.message }
}

t.test('vhost configfs over REST: clients, transports, busy, unlink, link, and what the rc finds', async (t) => {
  const rc = await startNode('rc', ['--role', 'rc'])
  const ep = await startNode('ep', ['--role', 'ep', '--vhost-driver', 'soclink-test', '--peer', linkUrl(rc)])
  const rcApi = await buildApi(rc)
  const epApi = await buildApi(ep)
  t.teardown(async () => { await rcApi.close(); await epApi.close(); await ep.stop('test'); await rc.stop('test') })

  const rcDevice = async (deviceId: number): Promise<Device | undefined> =>
    ((await call(rcApi, 'GET', '/v1/devices')).body as { devices: Device[] }).devices.find((d) => d.deviceId === deviceId && d.statusBits.includes('DRIVER_OK'))
  const transports = async (): Promise<Transport[]> => ((await call(epApi, 'GET', '/v1/vhost/vhost-transport')).body as { devices: Transport[] }).devices
  const fn = async (name: string): Promise<PciEpFunction> => (await call(epApi, 'GET', `/v1/pci-ep/functions/${name}`)).body as PciEpFunction
  const control = async (what: 'start' | 'stop'): Promise<void> => {
    const r = await call(epApi, 'POST', `/v1/pci-ep/controllers/pcie0/${what}`)
    if (r.status !== 200) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`)
  }
  const link = async (dev: string, body: unknown): Promise<Reply> => await call(epApi, 'POST', `/v1/vhost/vhost-transport/${dev}/link`, body)
  const unlink = async (dev: string): Promise<Reply> => await call(epApi, 'DELETE', `/v1/vhost/vhost-transport/${dev}/link`)

  const first = await until('the rc finds the test device', async () => await rcDevice(0xffe0), 15_000)
  t.match(first, { driver: 'soclink-test' }, 'the test device, bound on the rc')

  t.same((await call(epApi, 'GET', '/v1/vhost/vhost-client')).body, {
    drivers: [
      { name: 'soclink-test-vhost', items: [{ name: 'ffffffff:0000ffe0', vendor: 0xffff_ffff, device: 0xffe0 }] },
      { name: 'vhost_rpmsg_bus', items: [{ name: 'ffffffff:00000007', vendor: 0xffff_ffff, device: 7 }] }
    ]
  }, 'vhost-client: a group per vhost driver, an item per id entry')
  t.same(await transports(), [{ name: 'vhost0', kind: 'pci-epf-vhost', link: TEST, registered: true, vhostDevice: 'vhost0', busy: true }],
    'vhost-transport: the function, linked to the test client, registered and busy')

  t.match(await link('vhost0', RPMSG), { status: 409, code: 'ERR_BUSY', message: /started/ }, 'link while started: busy')
  t.match(await unlink('vhost0'), { status: 409, code: 'ERR_BUSY' }, 'unlink while started: busy')

  await control('stop')
  await until('the rc drops the test device', async () => await rcDevice(0xffe0) === undefined ? true : undefined)
  t.match(await transports(), [{ name: 'vhost0', link: TEST, registered: false, vhostDevice: null, busy: false }], 'stopped: not registered, not busy')
  t.match(await link('vhost0', RPMSG), { status: 409, code: 'ERR_BUSY', message: /unlink it first/ }, 'a link exists: busy')

  t.match(await unlink('vhost0'), { status: 204 }, 'unlink')
  t.match(await fn('vhost0'), { vhostDriver: 'none', subsysId: 0xffe0 }, 'no client; the subsystem ids stay')
  t.match(await unlink('vhost0'), { status: 404, code: 'ERR_NOT_FOUND' }, 'nothing left to unlink')

  t.match(await link('vhost0', RPMSG), {
    status: 201,
    body: { name: 'vhost0', kind: 'pci-epf-vhost', link: RPMSG, registered: false, vhostDevice: null, busy: false }
  }, 'link vhost_rpmsg_bus while stopped')
  t.match(await fn('vhost0'), { vhostDriver: 'rpmsg', subsysId: 7, subsysVendorId: 0xffff }, 'the item\'s ids are in the header')
  await control('start')
  const rpmsgDev = await until('the rc finds device 7', async () => await rcDevice(7), 15_000)
  t.match(rpmsgDev, { deviceId: 7, driver: 'virtio_rpmsg_bus' }, 'the rc binds virtio_rpmsg_bus')
  t.match(await transports(), [{ name: 'vhost0', link: RPMSG, registered: true, vhostDevice: 'vhost0', busy: true }])

  await control('stop')
  t.match(await unlink('vhost0'), { status: 204 })
  t.match(await link('vhost0', TEST), { status: 201, body: { link: TEST } }, 'link the test client')
  t.match(await fn('vhost0'), { vhostDriver: 'soclink-test', subsysId: 0xffe0 })
  await control('start')
  t.match(await until('the rc finds the test device again', async () => await rcDevice(0xffe0), 15_000), { driver: 'soclink-test' })
})

t.test('names, bodies and roles', async (t) => {
  const rc = await startNode('rc', ['--role', 'rc'])
  const ep = await startNode('ep', ['--role', 'ep'])
  const rcApi = await buildApi(rc)
  const epApi = await buildApi(ep)
  t.teardown(async () => { await rcApi.close(); await epApi.close(); await ep.stop('test'); await rc.stop('test') })
  const url = '/v1/vhost/vhost-transport/vhost0/link'

  t.match(await call(epApi, 'POST', '/v1/vhost/vhost-transport/vhost9/link', RPMSG), { status: 404, code: 'ERR_NOT_FOUND', message: /no such device/ }, 'unknown device')
  t.match(await call(epApi, 'DELETE', '/v1/vhost/vhost-transport/vhost9/link'), { status: 404, code: 'ERR_NOT_FOUND', message: /no such device/ })
  t.match(await call(epApi, 'POST', url, { driver: 'vhost_net', item: 'ffffffff:00000001' }), { status: 404, code: 'ERR_NOT_FOUND' }, 'unknown driver')
  t.match(await call(epApi, 'POST', url, { driver: 'vhost_rpmsg_bus', item: 'ffffffff:00000008' }), { status: 404, code: 'ERR_NOT_FOUND' }, 'unknown item')

  const bad: unknown[] = [
    {},
    { driver: 'vhost_rpmsg_bus' },
    { driver: 'vhost_rpmsg_bus', item: 'ffffffff:7' },
    { driver: 'vhost_rpmsg_bus', item: 'FFFFFFFF:00000007' },
    { driver: 'vhost_rpmsg_bus', item: 7 },
    { driver: '../x', item: 'ffffffff:00000007' },
    { ...RPMSG, to: 'vhost0' },
    [RPMSG]
  ]
  for (const body of bad) t.match(await call(epApi, 'POST', url, body), { status: 400, code: 'ERR_VALIDATION' }, `400: ${JSON.stringify(body)}`)
  t.match(await call(epApi, 'GET', '/v1/vhost/vhost-client?x=1'), { status: 400, code: 'ERR_VALIDATION' }, 'no query fields')
  t.match(await call(epApi, 'POST', '/v1/vhost/vhost-transport/bad%20name/link', RPMSG), { status: 400, code: 'ERR_VALIDATION' }, 'a bad device name')

  t.match(await call(epApi, 'POST', '/v1/pci-ep/functions', { name: 'f1', vhostDriver: 'none' }), { status: 201, body: { vhostDriver: 'none' } }, 'pci-ep takes vhostDriver none')
  t.match(await call(epApi, 'POST', '/v1/pci-ep/functions', { name: 'f2', vhostDriver: 'virtio-net' }), { status: 400, code: 'ERR_VALIDATION' }, 'and no driver it does not have')
  t.match((await call(epApi, 'GET', '/v1/vhost/vhost-transport')).body, {
    devices: [{ name: 'vhost0', link: RPMSG, busy: false }, { name: 'f1', kind: 'pci-epf-vhost', link: null, registered: false, busy: false }]
  }, 'every function is a transport device; an ep with no rc linked starts nothing')
  t.match(await call(epApi, 'POST', '/v1/vhost/vhost-transport/f1/link', TEST), { status: 201, body: { name: 'f1', link: TEST } })

  for (const [method, path] of [['GET', '/v1/vhost/vhost-client'], ['GET', '/v1/vhost/vhost-transport'], ['POST', url], ['DELETE', url]] as const) {
    t.match(await call(rcApi, method, path, method === 'POST' ? RPMSG : undefined), { status: 404, code: 'ERR_NOT_FOUND', message: /no vhost side/ }, `rc: ${method} ${path}`)
  }
})
