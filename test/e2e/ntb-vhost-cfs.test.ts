// The vhost configfs tree on an ntb-vhost host (the RFC's ntb_vhost adds
// vhost-transport/<dev_name(parent)>/ and registers the vhost device when a
// vhost-client item is linked into it), with three real daemons: a board,
// HOST1 (ntb-vhost) and HOST2 (ntb-virtio).
// - HOST1 starts linked as vhostDriver says (rpmsg); an echo application's
//   announced channel reaches HOST2's application.
// - Unlink: HOST1's vhost device unregisters; HOST2's virtio device goes
//   away and its application hears the channel destroyed.
// - Link the test client: HOST2 finds the test device; link rpmsg again:
//   virtio_rpmsg_bus binds, the echo application's endpoint (kept by
//   HOST1's gateway) is announced again and answers.
// - vhostDriver none: nothing is linked, HOST2 has no device until a link.

import t from 'tap'
import { RpmsgClient, type RpmsgMessage } from '../../client/src/index.js'
import type { Device } from '../../proto/api/index.js'
import { until, within, type Daemon } from '../support/daemon.js'
import { channelEvent, nextEvent } from '../support/rpmsg-procs.js'
import { hostState, hostUp, startNtbTopology } from '../support/ntb-daemons.js'

interface Transport { name: string, kind: string, link: { driver: string, item: string } | null, registered: boolean, vhostDevice: string | null, busy: boolean }
interface Reply { status: number, body: unknown }

const RPMSG = { driver: 'vhost_rpmsg_bus', item: 'ffffffff:00000007' }
const TEST = { driver: 'soclink-test-vhost', item: 'ffffffff:0000ffe0' }
const DEV = 'ntb_hw_epf:board'

const daemons: Daemon[] = []
const clients: RpmsgClient[] = []
t.teardown(async () => {
  for (const c of clients) await c.close()
  for (const d of [...daemons].reverse()) await d.stop()
})

async function call (api: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<Reply> {
  const res = await fetch(api + path, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) })
  return { status: res.status, body: res.status === 204 ? null : await res.json() }
}

const transports = async (d: Daemon): Promise<Transport[]> => ((await call(d.api, 'GET', '/v1/vhost/vhost-transport')).body as { devices: Transport[] }).devices
const devices = async (d: Daemon): Promise<Device[]> => ((await call(d.api, 'GET', '/v1/devices')).body as { devices: Device[] }).devices
const link = async (d: Daemon, item: { driver: string, item: string }): Promise<Reply> => await call(d.api, 'POST', `/v1/vhost/vhost-transport/${DEV}/link`, item)
const unlink = async (d: Daemon): Promise<Reply> => await call(d.api, 'DELETE', `/v1/vhost/vhost-transport/${DEV}/link`)

/** HOST2's device once it is DRIVER_OK with `driver`. */
async function virtioDevice (host2: Daemon, driver: string): Promise<Device> {
  return await until(`HOST2's device bound to ${driver}`, async () => (await devices(host2)).find((d) => d.driver === driver && d.statusBits.includes('DRIVER_OK')), 30_000)
}

async function take (it: AsyncIterator<RpmsgMessage>, what: string): Promise<RpmsgMessage> {
  const r = await within(it.next(), what, 30_000)
  if (r.done === true) throw new Error(`${what}: the endpoint ended`)
  return r.value
}

t.test('unlink takes HOST2\'s device away; linking brings a device with the item\'s id back', async (t) => {
  const { host1, host2 } = await startNtbTopology(daemons)
  await hostUp(host1)
  await hostUp(host2)

  t.match((await call(host1.api, 'GET', '/v1/vhost/vhost-client')).body, { drivers: [{ name: 'soclink-test-vhost', items: [{ name: TEST.item }] }, { name: 'vhost_rpmsg_bus', items: [{ name: RPMSG.item }] }] },
    'vhost-client: HOST1\'s vhost drivers')
  t.same(await transports(host1), [{ name: DEV, kind: 'ntb-vhost', link: RPMSG, registered: true, vhostDevice: 'vhost0', busy: false }],
    'vhost-transport: the NTB device, named dev_name(parent), linked to vhost_rpmsg_bus as vhostDriver says, registered')
  t.match(await call(host2.api, 'GET', '/v1/vhost/vhost-transport'), { status: 404, body: { error: { code: 'ERR_NOT_FOUND', message: /no vhost side/ } } }, 'HOST2 has no vhost side')
  t.match(await link(host1, TEST), { status: 409, body: { error: { code: 'ERR_BUSY', message: /unlink it first/ } } }, 'a second link is refused')
  t.match(await call(host1.api, 'POST', '/v1/vhost/vhost-transport/ntb_hw_epf:nope/link', RPMSG), { status: 404, body: { error: { message: /no such device/ } } }, 'an unknown device')

  const app1 = await RpmsgClient.connect(host1.api)
  const app2 = await RpmsgClient.connect(host2.api)
  clients.push(app1, app2)
  const up1 = channelEvent(app2, 'cfs-echo', true)
  const echo = await app1.createEndpoint({ name: 'cfs-echo', announce: true })
  void (async () => { for await (const m of echo) await echo.send(m.src, m.payload) })().catch(() => {})
  const ch1 = await up1
  const mine = await app2.createEndpoint()
  const it = mine[Symbol.asyncIterator]()
  await mine.send(ch1.dst, Buffer.from('before'))
  t.equal(Buffer.from((await take(it, 'the echo before')).payload).toString(), 'before', 'rpmsg before the unlink')
  const before = (await hostState(host2)).transport!.counters.sessions!

  const gone = channelEvent(app2, 'cfs-echo', false)
  const detached = nextEvent(echo, 'detached')
  t.match(await unlink(host1), { status: 204 }, 'unlink')
  await gone
  t.pass('HOST2\'s application hears the channel destroyed')
  await detached
  t.pass('HOST1\'s echo endpoint is detached: its rpmsg bus went with the vhost device')
  t.same(await transports(host1), [{ name: DEV, kind: 'ntb-vhost', link: null, registered: false, vhostDevice: null, busy: false }], 'unlinked, unregistered')
  await until('HOST2\'s virtio device to go away', async () => (await devices(host2)).length === 0 ? true : undefined)
  t.same(await devices(host1), [], 'HOST1 lists no vhost device')
  t.not((await hostState(host2)).transport!.state, 'up', 'HOST2\'s transport waits for a vhost side again')
  t.match(await unlink(host1), { status: 404 }, 'nothing left to unlink')

  t.match(await link(host1, TEST), { status: 201, body: { name: DEV, link: TEST, registered: true, vhostDevice: 'vhost0' } }, 'link the test client')
  const test = await virtioDevice(host2, 'soclink-test')
  t.match(test, { transport: 'ntb-virtio', deviceId: 0xffe0, peer: 'board' }, 'HOST2 finds the test device')
  t.match(await devices(host1), [{ name: 'vhost0', transport: 'ntb-vhost', deviceId: 0xffe0, driver: 'soclink-test-vhost' }], 'HOST1\'s vhost device has the item\'s id')
  t.equal((await hostState(host2)).transport!.counters.sessions, before + 1, 'a new session on HOST2: its device was removed and a new one presented')

  t.match(await unlink(host1), { status: 204 })
  await until('the test device to go away', async () => (await devices(host2)).length === 0 ? true : undefined)
  const attached = nextEvent(echo, 'attached')
  const up2 = channelEvent(app2, 'cfs-echo', true)
  t.match(await link(host1, RPMSG), { status: 201, body: { link: RPMSG, registered: true } }, 'link vhost_rpmsg_bus again')
  t.match(await virtioDevice(host2, 'virtio_rpmsg_bus'), { deviceId: 7 }, 'HOST2 binds virtio_rpmsg_bus again')
  await attached
  const ch2 = await up2
  t.equal(ch2.dst, echo.addr, 'the echo endpoint, kept by HOST1\'s gateway, is announced again at its address')
  const again = await app2.createEndpoint()
  const it2 = again[Symbol.asyncIterator]()
  await again.send(ch2.dst, Buffer.from('after'))
  t.equal(Buffer.from((await take(it2, 'the echo after')).payload).toString(), 'after', 'and answers')
})

t.test('vhostDriver none: nothing linked, no device on HOST2 until a link', async (t) => {
  const { host1, host2 } = await startNtbTopology(daemons, { host1: ['--vhost-driver', 'none'] })
  const waiting = await until('HOST1\'s NTB device', async () => {
    const ts = await transports(host1)
    return ts.length === 1 ? ts : undefined
  })
  t.same(waiting, [{ name: DEV, kind: 'ntb-vhost', link: null, registered: false, vhostDevice: null, busy: false }], 'the NTB device is there, nothing linked')
  const s2 = await until('HOST2\'s link up', async () => {
    const s = await hostState(host2)
    return s.device?.link === true ? s : undefined
  })
  t.equal(s2.transport!.device, null, 'HOST2 has no virtio device: HOST1 announced none')
  t.same(await devices(host2), [])
  t.match(await link(host1, RPMSG), { status: 201, body: { registered: true } })
  t.match(await virtioDevice(host2, 'virtio_rpmsg_bus'), { transport: 'ntb-virtio', deviceId: 7 }, 'linked: HOST2 binds virtio_rpmsg_bus')
})
