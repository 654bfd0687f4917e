// Applications outlive the rpmsg bus: real rc and ep daemon processes, one
// of which is stopped (SIGTERM) and started again as a new process while an
// application stays connected to the other through the client library.
//
// - The ep restarts: the rc removes its virtio device and probes a new one.
//   The rc application's plain endpoint is detached, then made again at
//   the same address; it sends to the new ep application's channel and is
//   answered, without creating anything again.
// - The rc restarts (the rc dials the ep, so the new rc process finds the
//   ep where it was): the ep unregisters its vhost device and registers a
//   new one. The ep application's announced endpoint is unbound and
//   detached, made again at the same address, announced again under its
//   name, bound to the new rc's channel (whenBound() follows), and traffic
//   resumes.

import t, { type Test } from 'tap'
import { RpmsgClient, type RpmsgEndpoint, type RpmsgMessage } from '../../client/src/index.js'
import { startDaemon, until, within, type Daemon } from '../support/daemon.js'
import { channelEvent, getJson, nextEvent, rpmsgBus, startRpmsgEp, type ConnectionsBody, type EndpointsBody } from '../support/rpmsg-procs.js'

async function take (ept: RpmsgEndpoint, what: string): Promise<RpmsgMessage> {
  const next = (async () => {
    for await (const m of ept) return m
    throw new Error(`${what}: the endpoint ended`)
  })()
  return await within(next, what, 30_000)
}

const text = (m: RpmsgMessage): string => Buffer.from(m.payload).toString()

function harness (t: Test): { daemons: Daemon[], connect: (api: string) => Promise<RpmsgClient> } {
  const daemons: Daemon[] = []
  const clients: RpmsgClient[] = []
  t.teardown(async () => {
    for (const c of clients) await c.close()
    for (const d of daemons.reverse()) await d.stop()
  })
  return {
    daemons,
    connect: async (api) => { const c = await RpmsgClient.connect(api); clients.push(c); return c }
  }
}

t.test('the ep daemon restarts: the rc application keeps its endpoint and its address', async (t) => {
  const { daemons, connect } = harness(t)
  const rc = await startDaemon('rc', ['--role', 'rc'])
  daemons.push(rc)
  const rcApp = await connect(rc.api)
  await t.rejects(rcApp.createEndpoint({ name: 'plain' }), { code: 'ERR_NOT_FOUND' }, 'before any bus: ERR_NOT_FOUND')

  const ep1 = await startRpmsgEp(rc)
  daemons.push(ep1)
  const rcEpt = await rcApp.createEndpoint({ name: 'plain' })
  t.ok(rcEpt.addr >= 1024, 'the same connection creates an endpoint once the bus is there')

  const epApp1 = await connect(ep1.api)
  const up1 = channelEvent(rcApp, 'churn', true)
  const epEpt1 = await epApp1.createEndpoint({ name: 'churn', announce: true })
  const ch1 = await up1
  await rcEpt.send(ch1.dst, Buffer.from('before'))
  const m1 = await take(epEpt1, 'the first message')
  t.same([text(m1), m1.src], ['before', rcEpt.addr], 'the ep application hears the rc application')
  await epEpt1.send(m1.src, Buffer.from('reply before'))
  t.equal(text(await take(rcEpt, 'the first reply')), 'reply before')

  const detached = nextEvent(rcEpt, 'detached')
  const gone = channelEvent(rcApp, 'churn', false)
  await ep1.stop()
  await detached
  await gone
  t.pass('the rc application is told: the channel is destroyed, its endpoint detached')
  t.equal(rcEpt.attached, false)
  await t.rejects(rcEpt.send(ch1.dst, Buffer.from('lost')), { code: 'ERR_RPMSG_DETACHED' }, 'a detached endpoint does not send')
  const during = await getJson<ConnectionsBody>(rc.api, '/v1/rpmsg/connections')
  t.same(during.body.connections.flatMap((c) => c.endpoints.map((e) => [e.addr, e.state])), [[rcEpt.addr, 'detached']], 'the gateway keeps it, detached')

  const attached = nextEvent(rcEpt, 'attached')
  const up2 = channelEvent(rcApp, 'churn', true)
  const ep2 = await startRpmsgEp(rc)
  daemons.push(ep2)
  await attached
  t.equal(rcEpt.attached, true, 'attached again on the new bus')
  const eps = (await rpmsgBus(rc)).endpoints
  const row = eps.find((e) => e.addr === rcEpt.addr)
  t.equal(row?.owner, 'gateway', 'at the same address, owned by the same connection')
  t.equal(row?.connection, during.body.connections[0]!.id)

  const epApp2 = await connect(ep2.api)
  const epEpt2 = await epApp2.createEndpoint({ name: 'churn', announce: true })
  const ch2 = await up2
  t.equal(ch2.dst, epEpt2.addr, 'the new ep application\'s channel')
  await rcEpt.send(ch2.dst, Buffer.from('after'))
  const m2 = await take(epEpt2, 'the message after the restart')
  t.same([text(m2), m2.src], ['after', rcEpt.addr], 'traffic resumes from the same endpoint, created once')
  await epEpt2.send(m2.src, Buffer.from('reply after'))
  t.equal(text(await take(rcEpt, 'the reply after the restart')), 'reply after', 'and the answer reaches it')
})

t.test('the rc daemon restarts: the ep application keeps its announced endpoint, rebound by the address service', async (t) => {
  const { daemons, connect } = harness(t)
  const ep = await startRpmsgEp(null)
  daemons.push(ep)
  const rc1 = await startDaemon('rc', ['--role', 'rc', '--peer', ep.link, '--rpmsg-bind-channel', 'churn-b'])
  daemons.push(rc1)
  await rpmsgBus(ep)
  await rpmsgBus(rc1)

  const epApp = await connect(ep.api)
  const epEpt = await epApp.createEndpoint({ name: 'churn-b', announce: true })
  const remote1 = await within(epEpt.whenBound(), 'bound to the first rc', 30_000)
  const rcApp1 = await connect(rc1.api)
  const rcEpt1 = await rcApp1.createEndpoint()
  await rcEpt1.send(epEpt.addr, Buffer.from('one'))
  const m1 = await take(epEpt, 'from the first rc')
  t.same([text(m1), m1.src], ['one', rcEpt1.addr])
  await epEpt.send(m1.src, Buffer.from('back one'))
  t.equal(text(await take(rcEpt1, 'answer to the first rc')), 'back one')

  const unbound = nextEvent(epEpt, 'unbound')
  const detached = nextEvent(epEpt, 'detached')
  await rc1.stop()
  await unbound
  await detached
  t.equal(epEpt.remote, null, 'unbound: no remote address')
  t.equal(epEpt.attached, false, 'detached')
  const rebound = epEpt.whenBound()
  const boundEvent = nextEvent<[number]>(epEpt, 'bound')
  const attached = nextEvent(epEpt, 'attached')

  const rc2 = await startDaemon('rc', ['--role', 'rc', '--peer', ep.link, '--rpmsg-bind-channel', 'churn-b'])
  daemons.push(rc2)
  await attached
  const remote2 = await within(rebound, 'bound to the new rc', 30_000)
  t.equal((await boundEvent)[0], remote2, 'the endpoint emits bound with the new remote address')
  t.equal(epEpt.remote, remote2, 'remote follows')
  t.ok(remote2 >= 1024 && remote1 >= 1024, 'both remote addresses are real')

  const channels = await until('the new rc sees the channel', async () => {
    const r = await getJson<{ channels: Array<{ name: string, src: number, dst: number | null }> }>(rc2.api, '/v1/rpmsg/channels')
    return r.status === 200 ? r.body.channels.find((c) => c.name === 'churn-b') : undefined
  }, 30_000)
  t.equal(channels.dst, epEpt.addr, 'announced again at the same address')
  t.equal(channels.src, remote2, 'the address service named the new rc\'s endpoint')

  const rcApp2 = await connect(rc2.api)
  const rcEpt2 = await rcApp2.createEndpoint()
  await rcEpt2.send(epEpt.addr, Buffer.from('two'))
  const m2 = await take(epEpt, 'from the new rc')
  t.same([text(m2), m2.src], ['two', rcEpt2.addr], 'the same endpoint object receives again')
  await epEpt.send(m2.src, Buffer.from('back two'))
  t.equal(text(await take(rcEpt2, 'answer to the new rc')), 'back two')

  for (let i = 0; i < 3; i++) await epEpt.send(remote2, Buffer.from(`to the channel ${i}`))
  const row = await until('the channel endpoint counted them', async () => {
    const r = await getJson<EndpointsBody>(rc2.api, '/v1/rpmsg/endpoints')
    const e = r.body.endpoints.find((x) => x.addr === remote2)
    return e !== undefined && e.counters.received >= 3 ? e : undefined
  })
  t.same([row.owner, row.channel, row.counters.received], ['bus', 'churn-b', 3], 'per-endpoint counters: the rc bus\'s channel endpoint received 3')
  const ours = (await getJson<EndpointsBody>(ep.api, '/v1/rpmsg/endpoints')).body.endpoints.find((e) => e.addr === epEpt.addr)
  t.same([ours?.owner, ours?.counters.sent], ['gateway', 5], 'on this bus the ep application\'s endpoint sent 4, and the NS CREATE that announced it')
})
