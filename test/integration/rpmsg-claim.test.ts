// Kernel binding semantics through the gateway (proto/rpmsg.proto,
// "Claiming channels"), rc and ep in one process with their APIs on
// loopback. With rpmsgBind kernel (the default) a channel the ep announces
// stays unbound on the rc (src 0xffffffff, no endpoint, no AS ASSIGN) and
// on the ep (dst 0xffffffff, the announcer not bound) until an rc
// application claims it (ClaimChannel: rpmsg_dev_probe()); releasing it
// sends AS FREE and unbinds both sides again. With rpmsgBind eager the
// channel is bound at once, and a claim takes its endpoint as it is.

import t, { type Test } from 'tap'
import { buildApi } from '../../daemon/src/api/server.js'
import { ControlClient, RpmsgClient, RPMSG_ADDR_ANY, type RpmsgChannelBinding, type RpmsgChannelEvent, type RpmsgEndpoint } from '../../client/src/index.js'
import type { VhostRpmsgBus } from '../../daemon/src/rpmsg/vhost-rpmsg.js'
import { linkUrl, startNode } from '../support/nodes.js'
import { servedPcie } from '../support/served-nodes.js'
import { until, within } from '../support/daemon.js'

interface ChannelsBody { channels: Array<{ name: string, src: number | null, dst: number | null, side: string, driver: string | null }> }

async function channels (base: string): Promise<ChannelsBody['channels']> {
  const r = await fetch(base + '/v1/rpmsg/channels')
  return ((await r.json()) as ChannelsBody).channels
}

/** The virtio side's API and application (named rc here, HOST2 on NTB) and the vhost side's (ep, HOST1). */
interface Sides { rcBase: string, epBase: string, rcApp: RpmsgClient, epApp: RpmsgClient }

/** An NTB board and two hosts in this process; HOST1 runs the vhost side. */
async function ntb (t: Test): Promise<Sides> {
  const board = await startNode('board', ['--role', 'ntb'])
  const host1 = await startNode('host1', ['--role', 'ntb-vhost', '--peer', linkUrl(board)])
  const host2 = await startNode('host2', ['--role', 'ntb-virtio', '--peer', linkUrl(board)])
  const apis = [await buildApi(host1), await buildApi(host2)]
  const clients: RpmsgClient[] = []
  t.teardown(async () => {
    for (const c of clients) await c.close()
    for (const a of apis) await a.close()
    await host2.stop('test'); await host1.stop('test'); await board.stop('test')
  })
  const [epBase, rcBase] = [await apis[0]!.listen({ host: '127.0.0.1', port: 0 }), await apis[1]!.listen({ host: '127.0.0.1', port: 0 })]
  // Both rpmsg buses there: HOST1's vhost bus running (it announces at once), HOST2's virtio bus at DRIVER_OK.
  await until('HOST1\'s vhost rpmsg bus running', () => host1.rpmsg?.attachedBuses().some((b) => (b.bus as VhostRpmsgBus).running) === true ? true : undefined, 30_000)
  await until('HOST2\'s virtio rpmsg bus', async () => (await fetch(rcBase + '/v1/rpmsg/endpoints')).ok ? true : undefined, 30_000)
  const rcApp = await RpmsgClient.connect(rcBase)
  const epApp = await RpmsgClient.connect(epBase)
  clients.push(rcApp, epApp)
  return { rcBase, epBase, rcApp, epApp }
}

const pcie = servedPcie

function channelEvent (app: RpmsgClient, name: string): Promise<RpmsgChannelEvent> {
  return within(new Promise((resolve) => {
    const on = (ev: RpmsgChannelEvent): void => { if (ev.name === name && ev.created) { app.off('channel', on); resolve(ev) } }
    app.on('channel', on)
  }), `channel ${name} announced`)
}

function binding (app: RpmsgClient, name: string, bound: boolean): Promise<RpmsgChannelBinding> {
  return within(new Promise((resolve) => {
    const on = (b: RpmsgChannelBinding): void => { if (b.name === name && (b.src !== RPMSG_ADDR_ANY) === bound) { app.off('channel-binding', on); resolve(b) } }
    app.on('channel-binding', on)
  }), `channel ${name} ${bound ? 'bound' : 'released'}`)
}

async function echoOnce (ept: RpmsgEndpoint): Promise<void> {
  for await (const m of ept) { await ept.send(m.src, m.payload); return }
}

/** The kernel-binding story on one topology: the virtio side's daemon (rc, HOST2) and the vhost side's (ep, HOST1). */
async function kernelBinding (t: Test, { rcBase, epBase, rcApp, epApp }: Sides): Promise<void> {
  const announced = channelEvent(rcApp, 'svc')
  const svc = await epApp.createEndpoint({ name: 'svc', announce: true })
  const ev = await announced
  t.equal(ev.src, RPMSG_ADDR_ANY, 'the rc channel has no local address (virtio0.svc.-1.DST)')
  t.equal(ev.dst, svc.addr, 'its remote is the announced endpoint')

  // Unbound, seen through the gateway and the API on both sides; a later, unrelated round trip shows nothing was on its way.
  const [listed] = (await rcApp.listChannels()).filter((c) => c.name === 'svc')
  t.match(listed, { name: 'svc', src: RPMSG_ADDR_ANY, dst: svc.addr, driver: null, device: /^virtio\d+$/ }, 'ListChannels: unbound, no driver, on its virtio device')
  const probe = await rcApp.createEndpoint()
  const echoed = echoOnce(svc)
  await probe.send(svc.addr, Buffer.from('ping'))
  const [back] = await (async () => { for await (const m of probe) return [m]; return [] })()
  await echoed
  t.equal(Buffer.from(back!.payload).toString(), 'ping', 'a plain rc endpoint reaches the announced one (no binding needed to send)')
  t.equal(svc.remote, null, 'ep: the announcer is not bound (no AS ASSIGN came)')
  t.match((await channels(rcBase)).find((c) => c.name === 'svc'), { src: null, dst: svc.addr, side: 'virtio', driver: null }, 'virtio side API: src null, no driver')
  t.match((await channels(epBase)).find((c) => c.name === 'svc'), { src: svc.addr, dst: null, side: 'vhost' }, 'vhost side API: dst null')

  // Claiming binds it: the rc endpoint is made, AS ASSIGN reaches the ep.
  const bound = binding(rcApp, 'svc', true)
  const boundOnEp = svc.whenBound()
  const mine = await rcApp.claimChannel('svc')
  t.not(mine.addr, RPMSG_ADDR_ANY)
  t.equal(mine.remote, svc.addr, 'ChannelClaimed names the remote')
  t.equal(await within(boundOnEp, 'AS ASSIGN on the ep'), mine.addr, 'ep: bound to the claimed endpoint')
  t.match(await bound, { name: 'svc', src: mine.addr, dst: svc.addr, driver: 'soclink_gateway', device: listed!.device }, 'ChannelBinding to every connection')
  t.match((await channels(epBase)).find((c) => c.name === 'svc'), { dst: mine.addr }, 'ep API: dst bound')
  t.match((await channels(rcBase)).find((c) => c.name === 'svc'), { src: mine.addr, driver: 'soclink_gateway' }, 'rc API: src bound, the claimer named')

  // Messages both ways on the channel: the ep sends to its bound remote, the rc to the channel's remote.
  const it = mine[Symbol.asyncIterator]()
  await svc.send(svc.remote!, Buffer.from('from ep'))
  const got = await within(it.next(), 'the ep message on the claimed endpoint')
  t.equal(Buffer.from(got.value!.payload).toString(), 'from ep')
  const echoed2 = echoOnce(svc)
  await mine.send(mine.remote!, Buffer.from('from rc'))
  await echoed2
  t.equal(Buffer.from((await within(it.next(), 'the echo')).value!.payload).toString(), 'from rc')

  // A second claim is refused while held (-EBUSY).
  const other = await RpmsgClient.connect(rcBase)
  t.teardown(async () => { await other.close() })
  await t.rejects(other.claimChannel('svc'), { code: 'ERR_BUSY' }, 'ERR_BUSY while claimed')
  await t.rejects(other.claimChannel('nope'), { code: 'ERR_NOT_FOUND' }, 'ERR_NOT_FOUND for no such channel')
  await t.rejects(epApp.claimChannel('svc'), { code: 'ERR_RPMSG_UNSUPPORTED' }, 'the vhost side does not claim')

  // Releasing: AS FREE unbinds the ep, the rc channel is unbound again, and may be claimed anew.
  const released = binding(rcApp, 'svc', false)
  const unbound = within(new Promise<void>((resolve) => { svc.once('unbound', () => { resolve() }) }), 'AS FREE on the ep')
  mine.destroy()
  await unbound
  t.match(await released, { name: 'svc', src: RPMSG_ADDR_ANY, dst: svc.addr, driver: null }, 'released: unbound')
  t.equal(svc.remote, null)
  const again = await other.claimChannel('svc', { dst: svc.addr, driver: 'rpmsg_chrdev' })
  t.equal(await within(svc.whenBound(), 'bound again'), again.addr, 'claimed again by another application')
  t.match((await other.listChannels()).find((c) => c.name === 'svc'), { name: 'svc', src: again.addr, dst: svc.addr, driver: 'rpmsg_chrdev' }, 'its driver name shows')
}

t.test('rpmsgBind kernel, PCIe: an announced channel stays unbound on both sides until an rc application claims it', async (t) => {
  await kernelBinding(t, await pcie(t))
})

t.test('rpmsgBind kernel, NTB: the same between HOST2 (virtio side) and HOST1 (vhost side)', async (t) => {
  await kernelBinding(t, await ntb(t))
})

t.test('rpmsgBind eager: bound at once; a claim takes the endpoint and leaves it bound', async (t) => {
  const { rcApp, epApp } = await pcie(t, ['--rpmsg-bind', 'eager'])
  const announced = channelEvent(rcApp, 'svc')
  const svc = await epApp.createEndpoint({ name: 'svc', announce: true })
  const ev = await announced
  const remote = await within(svc.whenBound(), 'AS ASSIGN at once')
  t.equal(remote, ev.src, 'bound to the rc channel\'s endpoint without a claim')
  const mine = await rcApp.claimChannel('svc')
  t.equal(mine.addr, ev.src, 'the claim takes the existing endpoint')
  const it = mine[Symbol.asyncIterator]()
  await svc.send(remote, Buffer.from('x'))
  t.equal(Buffer.from((await within(it.next(), 'delivered to the claimer')).value!.payload).toString(), 'x')
  mine.destroy()
  await until('released to the keeper', async () => (await rcApp.listChannels()).find((c) => c.name === 'svc' && c.driver === 'soclink_eager'))
  t.equal(svc.remote, remote, 'still bound after the release')
})

t.test('rpmsgBindChannels: a configured name is bound as announced; others are not', async (t) => {
  const { rcApp, epApp } = await pcie(t, ['--rpmsg-bind-channel', 'kept'])
  const kept = await epApp.createEndpoint({ name: 'kept', announce: true })
  const free = await epApp.createEndpoint({ name: 'free', announce: true })
  await within(kept.whenBound(), 'the configured channel bound')
  const list = await until('both channels', async () => { const l = await rcApp.listChannels(); return l.length === 2 ? l : undefined })
  t.match(list.find((c) => c.name === 'kept'), { driver: 'soclink_config', dst: kept.addr })
  t.match(list.find((c) => c.name === 'free'), { driver: null, src: RPMSG_ADDR_ANY })
  t.equal(free.remote, null, 'the other stays unbound')
})

t.test('REST claim: POST /v1/rpmsg/channels/:name/claim binds with no reader, DELETE releases', async (t) => {
  const { rcBase, epBase, rcApp, epApp } = await pcie(t)
  const api = new ControlClient(rcBase)
  const svc = await epApp.createEndpoint({ name: 'rest', announce: true })
  await until('announced on the rc', async () => (await rcApp.listChannels()).find((c) => c.name === 'rest'))
  const boundOnEp = svc.whenBound()
  const ch = await api.rpmsgClaim('rest')
  t.match(ch, { name: 'rest', dst: svc.addr, side: 'virtio', driver: 'soclink_rest' })
  t.equal(await within(boundOnEp, 'AS ASSIGN'), ch.src, 'the ep is bound to the claimed endpoint')
  await t.rejects(api.rpmsgClaim('rest'), { code: 'ERR_BUSY' }, 'one REST claim at a time')
  await t.rejects(api.rpmsgClaim('nope'), { code: 'ERR_NOT_FOUND' })
  await t.rejects(new ControlClient(epBase).rpmsgClaim('rest'), { code: 'ERR_RPMSG_UNSUPPORTED' }, 'not on the vhost side: the code the gateway answers')

  // An application claims over it, and lets go: still bound (the REST claim holds).
  const app = await rcApp.claimChannel('rest')
  t.equal(app.addr, ch.src, 'the application gets the endpoint that exists')
  app.destroy()
  await until('the application let go', async () => (await rcApp.listChannels()).find((c) => c.name === 'rest' && c.driver === 'soclink_rest'))
  t.equal(svc.remote, ch.src, 'still bound')

  const unbound = within(new Promise<void>((resolve) => { svc.once('unbound', () => { resolve() }) }), 'AS FREE on the ep')
  await api.rpmsgRelease('rest')
  await unbound
  t.match((await api.rpmsgChannels()).find((c) => c.name === 'rest'), { src: null, driver: null }, 'released: unbound')
  await t.rejects(api.rpmsgRelease('rest'), { code: 'ERR_NOT_FOUND' }, 'nothing left to release')
})
