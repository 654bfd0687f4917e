// The rpmsg gateway's bounds: an application that sends and never reads
// is no longer answered into the daemon's memory (reading it stops past
// maxGatewayBufferedBytes; past gatewayStallMs it is disconnected with
// ERR_RPMSG_SLOW_READER), and endpoints are bounded per connection and per
// daemon (ERR_RPMSG_LIMIT). Real daemons in process, real WebSocket clients.

import t from 'tap'
import { WebSocket } from 'ws'
import { buildApi } from '../../daemon/src/api/server.js'
import { rpmsgGateway, rpmsgWire as wire } from '../../daemon/src/api/rpmsg-gateway.js'
import type { soclink } from '../../proto/gen/rpmsg.js'
import { RPMSG_ADDR_ANY } from '../../daemon/src/rpmsg/wire.js'
import { linkUrl, rpmsgReady, startNode } from '../support/nodes.js'
import { until, within } from '../support/daemon.js'

type ServerMessage = soclink.rpmsg.v1.ServerMessage

async function open (url: string): Promise<WebSocket> {
  const ws = new WebSocket(url)
  await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve() }); ws.once('error', reject) })
  return ws
}

t.test('a client that sends and never reads: reading stops at the bound, and it is disconnected', async (t) => {
  // No peer: every CreateEndpoint is answered with an Error (no rpmsg bus), about 120 bytes for 8.
  const rc = await startNode('rc', ['--role', 'rc', '--max-gateway-buffered-bytes', '64K', '--gateway-stall-ms', '500'])
  const api = await buildApi(rc)
  t.teardown(async () => { await api.close(); await rc.stop('test') })
  const url = (await api.listen({ host: '127.0.0.1', port: 0 })).replace(/^http/, 'ws') + '/v1/rpmsg'
  const ws = await open(url)
  const closed = new Promise<void>((resolve) => { ws.once('close', () => { resolve() }) })
  ws.on('error', () => {})
  ws.pause()
  const gw = rpmsgGateway(rc)!
  let most = 0
  const sample = setInterval(() => { for (const c of gw.connectionViews()) most = Math.max(most, c.buffered) }, 5)
  t.teardown(() => { clearInterval(sample) })
  const request = wire.ClientMessage.encode({ createEndpoint: { requestId: 1, addr: RPMSG_ADDR_ANY } }).finish()
  // 200,000 requests: some 24 MB of answers if every one were answered.
  for (let i = 0; i < 200_000; i++) ws.send(request)
  await until('the daemon disconnected the client', () => gw.connectionViews().length === 0, 30_000, () => `buffered ${most}`)
  clearInterval(sample)
  t.ok(most < 4 * 1024 * 1024, `at most ${most} bytes waited for the client (64K bound; one read of requests past it)`)
  ws.resume()
  await within(closed, 'the client sees the close')
})

t.test('endpoints: maxEndpointsPerConnection and maxEndpoints (ERR_RPMSG_LIMIT); destroying frees room', async (t) => {
  const rc = await startNode('rc', ['--role', 'rc', '--max-endpoints-per-connection', '3', '--max-endpoints', '5'])
  const ep = await startNode('ep', ['--role', 'ep', '--peer', linkUrl(rc)])
  const api = await buildApi(rc)
  t.teardown(async () => { await api.close(); await ep.stop('test'); await rc.stop('test') })
  const url = (await api.listen({ host: '127.0.0.1', port: 0 })).replace(/^http/, 'ws') + '/v1/rpmsg'
  await rpmsgReady(rc, ep)
  const answers = new Map<WebSocket, ServerMessage[]>()
  const client = async (): Promise<WebSocket> => {
    const ws = await open(url)
    answers.set(ws, [])
    ws.on('message', (d: Buffer) => { answers.get(ws)!.push(wire.ServerMessage.decode(d)) })
    return ws
  }
  let id = 0
  const create = async (ws: WebSocket): Promise<string> => {
    const requestId = ++id
    ws.send(wire.ClientMessage.encode({ createEndpoint: { requestId, addr: RPMSG_ADDR_ANY } }).finish())
    const m = await until(`answer ${requestId}`, () => answers.get(ws)!.find((a) => a.endpointCreated?.requestId === requestId || a.error?.requestId === requestId))
    return m.error != null ? m.error.code ?? '' : `created ${m.endpointCreated!.addr ?? 0}`
  }
  const one = await client()
  const two = await client()
  const made: string[] = []
  for (let i = 0; i < 3; i++) made.push(await create(one))
  t.ok(made.every((m) => m.startsWith('created')), made.join(', '))
  t.equal(await create(one), 'ERR_RPMSG_LIMIT', 'a fourth on one connection')
  t.match(await create(two), /^created/)
  t.match(await create(two), /^created/)
  t.equal(await create(two), 'ERR_RPMSG_LIMIT', 'a sixth on the daemon')
  const first = Number(made[0]!.split(' ')[1])
  one.send(wire.ClientMessage.encode({ destroyEndpoint: { addr: first } }).finish())
  await until('room again', async () => (await create(two)).startsWith('created'))
  const closed = new Promise((resolve) => { one.once('close', resolve) })
  one.close()
  await closed
  await until('the daemon saw the connection go', () => rpmsgGateway(rc)!.connectionViews().length === 1)
  const three = await client()
  t.match(await create(three), /^created/, 'its room is there for a new connection')
  three.close()
  two.close()
})
