// rpmsgNumBufs sizes rpmsg rings on PCIe (issue 15, item 4). The endpoint
// function's vringSize used to win silently (its default, 256, did), so
// --rpmsg-num-bufs 64 still gave rings of 256. Now a function's vringSize
// is 0 by default (as the vhost driver asks), and a function running the
// rpmsg driver whose vringSize disagrees with rpmsgNumBufs is refused: at
// start (pcieFunctions) and through the API (400 ERR_CONFIG).

import t from 'tap'
import pino from 'pino'
import type { FastifyInstance } from 'fastify'
import { buildApi } from '../../daemon/src/api/server.js'
import { loadSettings } from '../../daemon/src/config/settings.js'
import { createNode } from '../../daemon/src/daemon.js'
import { linkUrl, rpmsgReady, startNode } from '../support/nodes.js'
import type { Virtqueue } from '../../proto/api/index.js'

async function queues (api: FastifyInstance): Promise<Virtqueue[]> {
  const res = await api.inject({ url: '/v1/virtqueues' })
  return res.json<{ virtqueues: Virtqueue[] }>().virtqueues
}

t.test('--rpmsg-num-bufs 64 gives rings of 64 on both sides of PCIe', async (t) => {
  const rc = await startNode('rc', ['--role', 'rc', '--rpmsg-num-bufs', '64'])
  const ep = await startNode('ep', ['--role', 'ep', '--rpmsg-num-bufs', '64', '--peer', linkUrl(rc)])
  const rcApi = await buildApi(rc)
  const epApi = await buildApi(ep)
  t.teardown(async () => { await rcApi.close(); await epApi.close(); await ep.stop('test'); await rc.stop('test') })
  const { virtioBus, vhostBus } = await rpmsgReady(rc, ep)
  t.same((await queues(rcApi)).map((q) => q.size), [64, 64], 'the rc\'s rings hold 64')
  t.same((await queues(epApi)).map((q) => q.size), [64, 64], 'the ep\'s vhost queues too')
  t.same([virtioBus.rvq.num, virtioBus.svq.num, vhostBus.svq!.num, vhostBus.rvq!.num], [64, 64, 64, 64])
  const fn = (await epApi.inject({ url: '/v1/pci-ep/functions/vhost0' })).json<{ vringSize: number }>()
  t.equal(fn.vringSize, 0, 'the function leaves the size to the driver')
})

t.test('a vringSize that disagrees with rpmsgNumBufs is refused on an rpmsg function, kept on others', async (t) => {
  const ep = await startNode('lone', ['--role', 'ep', '--rpmsg-num-bufs', '64'])
  const api = await buildApi(ep)
  t.teardown(async () => { await api.close(); await ep.stop('test') })
  const refused = await api.inject({ method: 'PATCH', url: '/v1/pci-ep/functions/vhost0', payload: { vringSize: 128 } })
  t.equal(refused.statusCode, 400, refused.body)
  t.match(refused.json(), { error: { code: 'ERR_CONFIG', message: /vringSize 128 disagrees with rpmsgNumBufs 64/ } })
  t.equal((await api.inject({ url: '/v1/pci-ep/functions/vhost0' })).json<{ vringSize: number }>().vringSize, 0, 'nothing changed')
  t.equal((await api.inject({ method: 'PATCH', url: '/v1/pci-ep/functions/vhost0', payload: { vringSize: 64 } })).statusCode, 200, 'the same size is fine')
  t.equal((await api.inject({ method: 'POST', url: '/v1/pci-ep/functions', payload: { name: 'f1', vhostDriver: 'rpmsg', vringSize: 32 } })).statusCode, 400, 'a new rpmsg function too')
  t.equal((await api.inject({ method: 'POST', url: '/v1/pci-ep/functions', payload: { name: 'f2', vhostDriver: 'soclink-test', vringSize: 32 } })).statusCode, 201, 'the test device takes any size')
  t.equal((await api.inject({ method: 'PATCH', url: '/v1/pci-ep/functions/f2', payload: { vhostDriver: 'rpmsg' } })).statusCode, 400, 'nor may a function become rpmsg with another size')
})

t.test('pcieFunctions: an rpmsg function whose vringSize disagrees stops the daemon at start', async (t) => {
  const loaded = loadSettings({ argv: ['--name', 'ep', '--role', 'ep', '--listen', '127.0.0.1:0', '--api', '127.0.0.1:0', '--rpmsg-num-bufs', '64', '--config', 'c.json'], env: {}, readFile: () => JSON.stringify({ pcieFunctions: [{ name: 'vhost0', controller: 'pcie0', vringSize: 256 }] }) })
  if (loaded.kind !== 'run') throw new Error('unexpected help')
  const node = createNode(loaded.settings, pino({ level: 'silent' }))
  await t.rejects(node.start(), { code: 'ERR_CONFIG', message: /vhost0: vringSize 256 disagrees with rpmsgNumBufs 64/ })
  await node.stop('test').catch(() => {})
})
