// RpmsgClient (client/src/rpmsg-client.ts) against the rpmsg gateway, rc and
// ep in one process as in rpmsg-gateway.test.ts, each with its API listening
// on loopback. The ep's app creates an announced endpoint; the rc's app a
// plain one, and learns the ep's address from the channel event. The ep's
// whenBound() resolves, once an rc application claims the channel (rpmsgBind
// kernel), with the remote address the address service names:
// the rc bus's local address for the channel (the claimed endpoint's).

import t from 'tap'
import { buildApi } from '../../daemon/src/api/server.js'
import { ApiError, RpmsgClient, type RpmsgChannelEvent, type RpmsgEndpoint, type RpmsgMessage } from '../../client/src/index.js'
import { linkUrl, rpmsgReady, startNode } from '../support/nodes.js'
import { until, within } from '../support/daemon.js'
import { seqPayload } from '../support/rpmsg-payloads.js'

interface EndpointsBody { endpoints: Array<{ addr: number }> }

/** Takes count messages from the endpoint's iterator. */
async function take (ept: RpmsgEndpoint, count: number): Promise<RpmsgMessage[]> {
  const got: RpmsgMessage[] = []
  if (count === 0) return got
  for await (const m of ept) {
    got.push(m)
    if (got.length >= count) break
  }
  return got
}

t.test('RpmsgClient: announced endpoint on the ep, 2000 messages each way', async (t) => {
  const rc = await startNode('rc', ['--role', 'rc'])
  const ep = await startNode('ep', ['--role', 'ep', '--peer', linkUrl(rc)])
  const rcApi = await buildApi(rc)
  const epApi = await buildApi(ep)
  const clients: RpmsgClient[] = []
  t.teardown(async () => {
    for (const c of clients) await c.close()
    await rcApi.close(); await epApi.close(); await ep.stop('test'); await rc.stop('test')
  })
  const rcBase = await rcApi.listen({ host: '127.0.0.1', port: 0 })
  const epBase = await epApi.listen({ host: '127.0.0.1', port: 0 })

  await rpmsgReady(rc, ep)

  const rcApp = await RpmsgClient.connect(rcBase)
  const epApp = await RpmsgClient.connect(epBase)
  clients.push(rcApp, epApp)
  const channelUp = within(new Promise<RpmsgChannelEvent>((resolve) => {
    const on = (ev: RpmsgChannelEvent): void => {
      if (ev.name === 'soclink-demo' && ev.created) { rcApp.off('channel', on); resolve(ev) }
    }
    rcApp.on('channel', on)
  }), 'channel event on the rc')

  await t.rejects(rcApp.createEndpoint({ name: 'soclink-demo', announce: true }), { code: 'ERR_RPMSG_UNSUPPORTED' }, 'the virtio side does not announce')

  const epEpt = await epApp.createEndpoint({ name: 'soclink-demo', announce: true })
  t.ok(epEpt.addr >= 1024, 'the announced endpoint takes an address from 1024 up')
  t.equal(epEpt.maxPayload, 496, 'max payload of a 512-byte buffer')
  const rcEpt = await rcApp.createEndpoint()
  t.equal(rcEpt.remote, null, 'a plain endpoint has no bound remote')

  const ev = await channelUp
  t.equal(ev.dst, epEpt.addr, 'the channel event names the ep endpoint')
  t.same(rcApp.channels.get('soclink-demo'), ev, 'the client keeps the live channel')
  // rpmsgBind kernel: bound once a driver claims it on the rc (here a second rc application).
  const claimer = await RpmsgClient.connect(rcBase)
  clients.push(claimer)
  const claimed = await claimer.claimChannel('soclink-demo')
  const remote = await within(epEpt.whenBound(), 'endpoint bound on the ep')
  t.equal(remote, claimed.addr, 'EndpointBound: the rc bus\'s address for the channel')
  t.equal(epEpt.remote, remote, 'remote is set')

  await t.rejects(rcEpt.send(epEpt.addr, new Uint8Array(rcEpt.maxPayload + 1)), { code: 'ERR_RPMSG_SIZE' }, 'maxPayload + 1 bytes')
  await t.rejects(epEpt.trySend(rcEpt.addr, new Uint8Array(epEpt.maxPayload + 1)), { code: 'ERR_RPMSG_SIZE' }, 'trySend too')
  await rcEpt.send(epEpt.addr, new Uint8Array(rcEpt.maxPayload))
  t.same((await within(take(epEpt, 1), 'maxPayload message'))[0]?.payload.length, 496, 'exactly maxPayload bytes pass')

  const N = 2000
  const sendAll = async (ept: RpmsgEndpoint, dst: number, dir: string): Promise<void> => {
    for (let i = 0; i < N; i++) await ept.send(dst, seqPayload(dir, i))
  }
  const [, , up, down] = await within(Promise.all([
    sendAll(rcEpt, epEpt.addr, 'up'), sendAll(epEpt, rcEpt.addr, 'down'), take(epEpt, N), take(rcEpt, N)
  ]), '2000 messages each way', 60_000)
  const same = (got: RpmsgMessage[], dir: string, src: number): boolean =>
    got.length === N && got.every((m, i) => m.src === src && Buffer.from(m.payload).equals(seqPayload(dir, i)))
  t.ok(same(up, 'up', rcEpt.addr), '2000 messages rc -> ep: none lost, duplicated or reordered')
  t.ok(same(down, 'down', epEpt.addr), '2000 messages ep -> rc: none lost, duplicated or reordered')

  // Nothing more arrives: no duplicates behind the last one.
  await rcEpt.send(epEpt.addr, Buffer.from('end'))
  t.equal(Buffer.from((await within(take(epEpt, 1), 'end marker'))[0]!.payload).toString(), 'end', 'the next message is the marker')

  const addrs = async (api: typeof rcApi): Promise<number[]> =>
    (await api.inject({ url: '/v1/rpmsg/endpoints' })).json<EndpointsBody>().endpoints.map((e) => e.addr)
  t.ok((await addrs(epApi)).includes(epEpt.addr), 'the ep endpoint exists while connected')
  t.ok((await addrs(rcApi)).includes(rcEpt.addr), 'the rc endpoint exists while connected')
  const channelGone = within(new Promise<RpmsgChannelEvent>((resolve) => {
    rcApp.on('channel', (e: RpmsgChannelEvent) => { if (e.name === 'soclink-demo' && !e.created) resolve(e) })
  }), 'channel destroyed on the rc')
  await epApp.close()
  await until('the ep endpoint is gone', async () => (await addrs(epApi)).includes(epEpt.addr) ? undefined : true)
  t.ok((await channelGone).name === 'soclink-demo', 'the rc hears the channel go')
  t.notOk(rcApp.channels.has('soclink-demo'), 'and forgets it')
  await t.rejects(epEpt.send(rcEpt.addr, new Uint8Array(1)), ApiError, 'a closed client\'s endpoint does not send')
  await rcApp.close()
  await until('the rc endpoint is gone', async () => (await addrs(rcApi)).includes(rcEpt.addr) ? undefined : true)
  t.same(await take(rcEpt, 10), [], 'the message iterator ends on close')
})

t.test('RpmsgClient: destroy() ends an endpoint; request errors reject with their code', async (t) => {
  const rc = await startNode('rc', ['--role', 'rc'])
  const ep = await startNode('ep', ['--role', 'ep', '--peer', linkUrl(rc)])
  const epApi = await buildApi(ep)
  const clients: RpmsgClient[] = []
  t.teardown(async () => { for (const c of clients) await c.close(); await epApi.close(); await ep.stop('test'); await rc.stop('test') })
  const base = await epApi.listen({ host: '127.0.0.1', port: 0 })
  await until('vhost rpmsg bus running', () => ep.pcieEp!.rpmsgDriver.allBuses()[0]?.running === true ? true : undefined, 15_000)
  const client = await RpmsgClient.connect(base)
  clients.push(client)
  const a = await client.createEndpoint({ name: 'plain' })
  const addrs = async (): Promise<number[]> =>
    (await epApi.inject({ url: '/v1/rpmsg/endpoints' })).json<EndpointsBody>().endpoints.map((e) => e.addr)
  t.ok((await addrs()).includes(a.addr), 'created')
  a.destroy()
  await until('destroyed', async () => (await addrs()).includes(a.addr) ? undefined : true)
  await t.rejects(a.whenBound(), { code: 'ERR_RPMSG_DESTROYED' }, 'a destroyed endpoint is never bound')
  await t.rejects(a.trySend(1024, new Uint8Array(1)), { code: 'ERR_RPMSG_DESTROYED' })
  const b = await client.createEndpoint()
  await t.rejects(b.trySend(b.addr, new Uint8Array(b.maxPayload + 1)), { code: 'ERR_RPMSG_SIZE' })
})
