// The rpmsg gateway (GET /v1/rpmsg, proto/rpmsg.proto), rc and ep in one
// process as in rpmsg-pcie.test.ts, each with its API listening on
// loopback and one WebSocket client.
//
// What the rpmsg core supports decides the shape: only the vhost bus (ep)
// announces endpoints (createChannel: NS CREATE | AS_ANNOUNCE), so the ep's
// client creates an announced endpoint 'soclink-demo'; the rc's client
// creates a plain endpoint, learns the ep's address from the ChannelEvent
// the name service causes, and sends to it (it also claims the
// channel, ClaimChannel, which binds the ep's endpoint: rpmsgBind kernel); the ep's client answers to the
// source address of what it received. 1,000 messages each way, in order and
// intact; Send retries on ERR_RPMSG_NO_BUFFER as applications must.

import t from 'tap'
import { WebSocket } from 'ws'
import { buildApi } from '../../daemon/src/api/server.js'
import type { soclink } from '../../proto/gen/rpmsg.js'
import { rpmsgWire as wire } from '../../daemon/src/api/rpmsg-gateway.js'
import { RPMSG_ADDR_ANY } from '../../daemon/src/rpmsg/wire.js'
import { linkUrl, rpmsgReady, startNode } from '../support/nodes.js'
import { until, within } from '../support/daemon.js'
import { seqPayload } from '../support/rpmsg-payloads.js'

type ServerMessage = soclink.rpmsg.v1.ServerMessage
interface EndpointsBody { endpoints: Array<{ addr: number }> }

/** A gateway client: Received messages collected in order, everything else queued for next(). */
class Client {
  readonly received: Array<{ dst: number, src: number, payload: Uint8Array }> = []
  private readonly queue: ServerMessage[] = []
  private waiters: Array<{ match: (m: ServerMessage) => boolean, resolve: (m: ServerMessage) => void }> = []
  private nextId = 1
  onReceived: (() => void) | undefined

  private constructor (readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const m = wire.ServerMessage.decode(data)
      if (m.received != null) {
        this.received.push({ dst: m.received.dst ?? 0, src: m.received.src ?? 0, payload: m.received.payload ?? new Uint8Array(0) })
        this.onReceived?.()
        return
      }
      const at = this.waiters.findIndex((w) => w.match(m))
      if (at >= 0) this.waiters.splice(at, 1)[0]!.resolve(m)
      else this.queue.push(m)
    })
  }

  static async open (url: string): Promise<Client> {
    const ws = new WebSocket(url)
    await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve() }); ws.once('error', reject) })
    return new Client(ws)
  }

  async next (what: string, match: (m: ServerMessage) => boolean): Promise<ServerMessage> {
    const at = this.queue.findIndex(match)
    if (at >= 0) return this.queue.splice(at, 1)[0]!
    return await within(new Promise<ServerMessage>((resolve) => { this.waiters.push({ match, resolve }) }), what)
  }

  /** The answer (Sent, EndpointCreated or Error) to the request with this id. */
  async answer (requestId: number): Promise<ServerMessage> {
    return await this.next(`answer to ${requestId}`, (m) =>
      m.sent?.requestId === requestId || m.endpointCreated?.requestId === requestId || m.channelClaimed?.requestId === requestId || m.error?.requestId === requestId)
  }

  async claimChannel (name: string): Promise<ServerMessage> {
    const requestId = this.nextId++
    this.write({ claimChannel: { requestId, name } })
    return await this.answer(requestId)
  }

  write (msg: soclink.rpmsg.v1.ClientMessage.$Properties): void {
    this.ws.send(wire.ClientMessage.encode(msg).finish())
  }

  async createEndpoint (name: string, announce: boolean): Promise<ServerMessage> {
    const requestId = this.nextId++
    this.write({ createEndpoint: { requestId, name, addr: RPMSG_ADDR_ANY, announce } })
    return await this.answer(requestId)
  }

  /** One Send, retried while the ring is full. */
  async send (src: number, dst: number, payload: Uint8Array): Promise<ServerMessage> {
    for (;;) {
      const requestId = this.nextId++
      this.write({ send: { requestId, src, dst, payload } })
      const a = await this.answer(requestId)
      if (a.error?.code !== 'ERR_RPMSG_NO_BUFFER') return a
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  }

  async close (): Promise<void> {
    if (this.ws.readyState === this.ws.CLOSED) return
    await new Promise<void>((resolve) => { this.ws.once('close', () => { resolve() }); this.ws.close() })
  }
}

async function allReceived (c: Client, count: number, what: string): Promise<void> {
  await within(new Promise<void>((resolve) => {
    const check = (): void => { if (c.received.length >= count) { c.onReceived = undefined; resolve() } }
    c.onReceived = check
    check()
  }), what, 30_000)
}

t.test('rpmsg gateway: announced endpoint on the ep, 1000 messages each way over two WebSockets', async (t) => {
  const rc = await startNode('rc', ['--role', 'rc'])
  const ep = await startNode('ep', ['--role', 'ep', '--peer', linkUrl(rc)])
  const rcApi = await buildApi(rc)
  const epApi = await buildApi(ep)
  const clients: Client[] = []
  t.teardown(async () => {
    for (const c of clients) await c.close()
    await rcApi.close(); await epApi.close(); await ep.stop('test'); await rc.stop('test')
  })
  const rcUrl = (await rcApi.listen({ host: '127.0.0.1', port: 0 })).replace(/^http/, 'ws') + '/v1/rpmsg'
  const epUrl = (await epApi.listen({ host: '127.0.0.1', port: 0 })).replace(/^http/, 'ws') + '/v1/rpmsg'

  await rpmsgReady(rc, ep)

  const plain = await rcApi.inject({ url: '/v1/rpmsg' })
  t.equal(plain.statusCode, 426, 'a plain GET is answered 426')

  const rcApp = await Client.open(rcUrl)
  const epApp = await Client.open(epUrl)
  clients.push(rcApp, epApp)

  const refused = await rcApp.createEndpoint('soclink-demo', true)
  t.equal(refused.error?.code, 'ERR_RPMSG_UNSUPPORTED', 'the virtio side does not announce')

  const epCreated = (await epApp.createEndpoint('soclink-demo', true)).endpointCreated
  t.ok(epCreated != null, 'the ep creates an announced endpoint')
  const epAddr = epCreated?.addr ?? 0
  t.ok(epAddr >= 1024, 'from 1024 up')
  t.equal(epCreated!.maxPayload, 496, 'max payload of a 512-byte buffer')

  const rcCreated = (await rcApp.createEndpoint('', false)).endpointCreated
  t.ok(rcCreated != null, 'the rc creates a plain endpoint')
  const rcAddr = rcCreated?.addr ?? 0

  const ev = await rcApp.next('channel event on the rc', (m) => m.channelEvent?.name === 'soclink-demo' && m.channelEvent.created === true)
  t.equal(ev.channelEvent!.dst, epAddr, 'the name service names the ep\'s endpoint')
  t.equal(ev.channelEvent!.src, RPMSG_ADDR_ANY, 'unbound on the rc until claimed (rpmsgBind kernel)')
  const claimed = (await rcApp.claimChannel('soclink-demo')).channelClaimed
  t.match(claimed, { name: 'soclink-demo', remote: epAddr, maxPayload: 496 }, 'ClaimChannel answered ChannelClaimed')
  const bound = await epApp.next('endpoint bound on the ep', (m) => m.endpointBound != null)
  t.equal(bound.endpointBound!.addr, epAddr, 'the address service binds the announced endpoint')
  t.equal(bound.endpointBound!.remote, claimed!.addr, 'to the claimed channel\'s endpoint')

  const oversized = await rcApp.send(rcAddr, epAddr, new Uint8Array(497))
  t.equal(oversized.error?.code, 'ERR_RPMSG_SIZE', 'a payload over max_payload')
  // The rc's and the ep's buses number endpoints alike, so rcAddr may well be epAddr: the
  // foreign source is one next to the ep connection's only endpoint.
  const notOwned = await epApp.send(epAddr + 1, epAddr, new Uint8Array(1))
  t.equal(notOwned.error?.code, 'ERR_RPMSG_ADDR', 'a source the connection does not own')

  const N = 1000
  const failed: string[] = []
  const sendAll = async (c: Client, src: number, dst: number, dir: string): Promise<void> => {
    for (let i = 0; i < N; i++) {
      const a = await c.send(src, dst, seqPayload(dir, i))
      if (a.sent == null) failed.push(`${dir} ${i}: ${a.error?.code ?? '?'}`)
    }
  }
  await Promise.all([sendAll(rcApp, rcAddr, epAddr, 'up'), sendAll(epApp, epAddr, rcAddr, 'down'),
    allReceived(epApp, N, 'messages up'), allReceived(rcApp, N, 'messages down')])
  t.same(failed, [], 'every Send answered Sent (after retries on ERR_RPMSG_NO_BUFFER)')
  const same = (got: Client['received'], dir: string, dst: number, src: number): boolean =>
    got.length === N && got.every((m, i) => m.dst === dst && m.src === src && Buffer.from(m.payload).equals(seqPayload(dir, i)))
  t.ok(same(epApp.received, 'up', epAddr, rcAddr), '1000 messages rc -> ep in order, intact')
  t.ok(same(rcApp.received, 'down', rcAddr, epAddr), '1000 messages ep -> rc in order, intact')

  const addrs = async (api: typeof rcApi): Promise<number[]> =>
    (await api.inject({ url: '/v1/rpmsg/endpoints' })).json<EndpointsBody>().endpoints.map((e) => e.addr)
  t.ok((await addrs(epApi)).includes(epAddr), 'the ep endpoint exists while connected')
  await epApp.close()
  await until('the ep endpoint is gone', async () => (await addrs(epApi)).includes(epAddr) ? undefined : true)
  const gone = await rcApp.next('channel destroyed on the rc', (m) => m.channelEvent?.name === 'soclink-demo' && m.channelEvent.created !== true)
  t.ok(gone.channelEvent != null, 'the rc hears the channel go (NS DESTROY)')
  t.ok((await addrs(rcApi)).includes(rcAddr), 'the rc endpoint exists while connected')
  await rcApp.close()
  await until('the rc endpoint is gone', async () => (await addrs(rcApi)).includes(rcAddr) ? undefined : true)
})

t.test('rpmsg gateway: a malformed frame answers ERR_RPMSG_FORMAT and closes with 1008', async (t) => {
  const rc = await startNode('rc', ['--role', 'rc'])
  const ep = await startNode('ep', ['--role', 'ep', '--peer', linkUrl(rc)])
  const epApi = await buildApi(ep)
  t.teardown(async () => { await epApi.close(); await ep.stop('test'); await rc.stop('test') })
  const url = (await epApi.listen({ host: '127.0.0.1', port: 0 })).replace(/^http/, 'ws') + '/v1/rpmsg'
  await until('vhost rpmsg bus', () => ep.pcieEp!.rpmsgDriver.allBuses()[0], 15_000)
  const c = await Client.open(url)
  const closed = new Promise<number>((resolve) => { c.ws.once('close', (code: number) => { resolve(code) }) })
  c.ws.send(Buffer.from([0xff, 0xff, 0xff]))
  const err = await c.next('format error', (m) => m.error != null)
  t.equal(err.error!.code, 'ERR_RPMSG_FORMAT')
  t.equal(await within(closed, 'close'), 1008)
})
