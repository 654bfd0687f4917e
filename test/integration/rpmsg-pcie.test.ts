// rpmsg over PCIe, rc and ep in one process over real loopback links: the
// ep's function names vhostDriver 'rpmsg' in its config file, so it starts
// with subsystem id VIRTIO_ID_RPMSG; the rc's virtio_rpmsg_bus binds it and
// reaches DRIVER_OK. A channel created on the ep through the API reaches
// the rc by name service, the ep's channel learns its remote address by
// address service, and 1,000 messages each way arrive in order, intact.

import t from 'tap'
import { buildApi } from '../../daemon/src/api/server.js'
import { VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_ID_RPMSG } from '../../daemon/src/uapi/virtio-config.js'
import { RPMSG_ADDR_ANY } from '../../daemon/src/rpmsg/wire.js'
import type { RpmsgChannel } from '../../daemon/src/rpmsg/core.js'
import { claimAnnounced, TEST_CLAIMER } from '../support/rpmsg-pair.js'
import { linkUrl, startNode } from '../support/nodes.js'
import { until, within } from '../support/daemon.js'
import { seqPayload } from '../support/rpmsg-payloads.js'

interface ChannelBody { name: string, src: number, dst: number | null, side: string, device: string }
interface EndpointsBody { endpoints: Array<{ addr: number, side: string, device: string, channel: string | null, service: string | null }>, buses: Array<{ side: string, counters: Record<string, number> }> }

/** Sends count messages on `from` and resolves with what `to` received, once it has them all. */
async function exchange (from: RpmsgChannel, to: RpmsgChannel, dir: string, count: number): Promise<Uint8Array[]> {
  const got: Uint8Array[] = []
  const all = new Promise<void>((resolve) => {
    const on = (p: Uint8Array, src: number): void => {
      if (src !== from.src) return
      got.push(p)
      if (got.length === count) { to.off('message', on); resolve() }
    }
    to.on('message', on)
  })
  await Promise.all(Array.from({ length: count }, async (_x, i) => { await from.send(seqPayload(dir, i)) }))
  await within(all, `${count} messages ${dir}`, 30_000)
  return got
}

t.test('rpmsg over PCIe: a vhost channel by API, NS and AS, 1000 messages each way', async (t) => {
  const rc = await startNode('rc', ['--role', 'rc'])
  const ep = await startNode('ep', ['--role', 'ep', '--peer', linkUrl(rc)])
  const rcApi = await buildApi(rc)
  const epApi = await buildApi(ep)
  t.teardown(async () => { await rcApi.close(); await epApi.close(); await ep.stop('test'); await rc.stop('test') })

  const dev = await until('rpmsg device at DRIVER_OK', () => {
    const tr = rc.pcieRc!.transports.get('ep')
    return tr !== undefined && (tr.device.status & VIRTIO_CONFIG_S_DRIVER_OK) !== 0 ? tr.device : undefined
  }, 15_000)
  t.equal(dev.id.device, VIRTIO_ID_RPMSG, 'the function\'s subsystem id is VIRTIO_ID_RPMSG, from its vhost driver')
  t.equal(dev.driver, rc.pcieRc!.rpmsgDriver, 'virtio_rpmsg_bus bound it')
  t.equal(ep.pcieEp!.functions.fn('vhost0').subsysId, VIRTIO_ID_RPMSG, 'copied into the function header')
  const vhostBus = await until('vhost rpmsg bus running', () => {
    const b = ep.pcieEp!.rpmsgDriver.allBuses()[0]
    return b?.running === true ? b : undefined
  })
  // DRIVER_OK is set inside probe, a turn before the driver records the bus.
  const virtioBus = await until('virtio rpmsg bus probed', () => rc.pcieRc!.rpmsgDriver.allBuses().find((b) => b.dev === dev))

  const before = await rcApi.inject({ url: '/v1/rpmsg/channels' })
  t.equal(before.statusCode, 200)
  t.same(before.json(), { channels: [] }, 'no channel yet')

  const refused = await rcApi.inject({ method: 'POST', url: '/v1/rpmsg/channels', payload: { name: 'rpmsg-client-sample' } })
  t.equal(refused.statusCode, 409, 'channels are not created on the virtio side')
  t.equal(refused.json<{ error: { code: string } }>().error.code, 'ERR_RPMSG_UNSUPPORTED', 'the code the gateway answers an announcement on the virtio side')
  const bad = await epApi.inject({ method: 'POST', url: '/v1/rpmsg/channels', payload: { name: 'x', extra: 1 } })
  t.equal(bad.statusCode, 400, 'strict body')
  const long = await epApi.inject({ method: 'POST', url: '/v1/rpmsg/channels', payload: { name: 'é'.repeat(20) } })
  t.equal(long.statusCode, 400, 'a name over 31 bytes of UTF-8')

  const created = await epApi.inject({ method: 'POST', url: '/v1/rpmsg/channels', payload: { name: 'rpmsg-client-sample' } })
  t.equal(created.statusCode, 201, created.body)
  const view = created.json<ChannelBody>()
  t.match(view, { name: 'rpmsg-client-sample', side: 'vhost' })
  t.ok(view.src >= 1024, 'a local address from 1024 up')
  const dup = await epApi.inject({ method: 'POST', url: '/v1/rpmsg/channels', payload: { name: 'rpmsg-client-sample' } })
  t.equal(dup.statusCode, 409, 'a name in use')

  // No rpmsg driver on the rc here: a test driver claims the channel (rpmsgBind kernel binds it, AS ASSIGN, only then).
  const rcCh = await until('the rc sees the channel by name service', () => claimAnnounced(virtioBus, 'rpmsg-client-sample'))
  t.equal(rcCh.dst, view.src, 'the rc\'s channel sends to the ep\'s endpoint')
  const epCh = vhostBus.channel('rpmsg-client-sample')!
  await until('the ep learns its remote address by address service', () => epCh.dst !== RPMSG_ADDR_ANY ? true : undefined)
  t.equal(epCh.dst, rcCh.src, 'the ep\'s channel sends to the rc\'s endpoint')

  const rcList = (await rcApi.inject({ url: '/v1/rpmsg/channels' })).json<{ channels: ChannelBody[] }>().channels
  t.same(rcList, [{ name: 'rpmsg-client-sample', src: rcCh.src, dst: view.src, side: 'virtio', device: dev.name, driver: TEST_CLAIMER }])
  const epList = (await epApi.inject({ url: '/v1/rpmsg/channels' })).json<{ channels: ChannelBody[] }>().channels
  t.same(epList, [{ name: 'rpmsg-client-sample', src: view.src, dst: rcCh.src, side: 'vhost', device: view.device, driver: null }])

  const N = 1000
  const [toRc, toEp] = await Promise.all([exchange(epCh, rcCh, 'ep->rc', N), exchange(rcCh, epCh, 'rc->ep', N)])
  t.equal(toRc.length, N)
  t.equal(toEp.length, N)
  let bad1 = 0
  let bad2 = 0
  for (let i = 0; i < N; i++) {
    if (Buffer.compare(Buffer.from(toRc[i]!), Buffer.from(seqPayload('ep->rc', i))) !== 0) bad1++
    if (Buffer.compare(Buffer.from(toEp[i]!), Buffer.from(seqPayload('rc->ep', i))) !== 0) bad2++
  }
  t.equal(bad1, 0, 'ep -> rc: in order, contents intact')
  t.equal(bad2, 0, 'rc -> ep: in order, contents intact')

  const eps = (await epApi.inject({ url: '/v1/rpmsg/endpoints' })).json<EndpointsBody>()
  t.ok(eps.endpoints.some((e) => e.addr === 54 && e.service === 'as'), 'the ep has the address service endpoint')
  t.ok(eps.endpoints.some((e) => e.addr === view.src && e.channel === 'rpmsg-client-sample'))
  t.ok(eps.buses[0]!.counters.received! >= N, 'the vhost bus counted what it received')
  const rcEps = (await rcApi.inject({ url: '/v1/rpmsg/endpoints' })).json<EndpointsBody>()
  t.ok(rcEps.endpoints.some((e) => e.addr === 53 && e.service === 'ns' && e.side === 'virtio'), 'the rc has the name service endpoint')
  t.equal(rcEps.buses[0]!.counters.malformed, 0)

  t.equal((await rcApi.inject({ method: 'DELETE', url: '/v1/rpmsg/channels/rpmsg-client-sample' })).statusCode, 409, 'not destroyed on the virtio side')
  const gone = await epApi.inject({ method: 'DELETE', url: '/v1/rpmsg/channels/rpmsg-client-sample' })
  t.equal(gone.statusCode, 204)
  await until('the rc drops the channel on NS DESTROY', () => virtioBus.channel('rpmsg-client-sample') === undefined ? true : undefined)
  t.equal((await epApi.inject({ method: 'DELETE', url: '/v1/rpmsg/channels/rpmsg-client-sample' })).statusCode, 404)
})

t.test('rpmsg routes on a daemon with no rpmsg bus: 404', async (t) => {
  const node = await startNode('plain')
  const api = await buildApi(node)
  t.teardown(async () => { await api.close(); await node.stop('test') })
  for (const url of ['/v1/rpmsg/channels', '/v1/rpmsg/endpoints']) {
    const res = await api.inject({ url })
    t.equal(res.statusCode, 404, url)
    t.equal(res.json<{ error: { code: string } }>().error.code, 'ERR_NOT_FOUND')
  }
})
