// What the rpmsg gateway owns and holds, against real rc and ep daemon
// processes:
// - an application that goes away, politely (close) or not (its TCP
//   connection cut), leaves no endpoint behind: GET /v1/rpmsg/endpoints
//   before and after, and the far side sees the NS DESTROY of its announced
//   channel; while it is connected, its endpoints show it as owner, and its
//   announced channel cannot be deleted from under it through REST;
// - a reader that stops reading (its socket paused) loses the newest
//   messages once its endpoint has 1 MiB waiting, counted per endpoint in
//   the API and reported once with ERR_RPMSG_OVERFLOW; what was kept
//   arrives whole and in order when it reads again.

import t from 'tap'
import { WebSocket } from 'ws'
import { RpmsgClient } from '../../client/src/index.js'
import { rpmsgWire as wire, ENDPOINT_QUEUE_BYTES } from '../../daemon/src/api/rpmsg-gateway.js'
import type { soclink } from '../../proto/gen/rpmsg.js'
import { startDaemon, until, within, type Daemon } from '../support/daemon.js'
import { channelEvent, getJson, startRpmsgEp, type ConnectionsBody, type EndpointsBody } from '../support/rpmsg-procs.js'

type ServerMessage = soclink.rpmsg.v1.ServerMessage

/** A gateway client on a bare WebSocket, to pause its reading or cut its connection. */
class RawClient {
  readonly messages: ServerMessage[] = []
  private constructor (readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => { this.messages.push(wire.ServerMessage.decode(data)) })
  }

  static async open (api: string): Promise<RawClient> {
    const ws = new WebSocket(api.replace(/^http/, 'ws') + '/v1/rpmsg', { perMessageDeflate: false })
    await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve() }); ws.once('error', reject) })
    return new RawClient(ws)
  }

  async createEndpoint (requestId: number, name: string, announce: boolean): Promise<number> {
    this.ws.send(wire.ClientMessage.encode({ createEndpoint: { requestId, name, addr: 0xffffffff, announce } }).finish())
    const m = await until(`answer ${requestId}`, () => this.messages.find((x) => x.endpointCreated?.requestId === requestId || x.error?.requestId === requestId))
    if (m.endpointCreated == null) throw new Error(`CreateEndpoint: ${m.error?.code ?? '?'}`)
    return m.endpointCreated.addr!
  }
}

const daemons: Daemon[] = []
const clients: RpmsgClient[] = []
const raws: RawClient[] = []
let rc: Daemon
let ep: Daemon
t.before(async () => {
  rc = await startDaemon('rc', ['--role', 'rc'])
  daemons.push(rc)
  ep = await startRpmsgEp(rc)
  daemons.push(ep)
})
t.teardown(async () => {
  for (const r of raws) r.ws.terminate()
  for (const c of clients) await c.close()
  for (const d of daemons.reverse()) await d.stop()
})

const endpoints = async (d: Daemon): Promise<EndpointsBody['endpoints']> => (await getJson<EndpointsBody>(d.api, '/v1/rpmsg/endpoints')).body.endpoints
const connections = async (d: Daemon): Promise<ConnectionsBody['connections']> => (await getJson<ConnectionsBody>(d.api, '/v1/rpmsg/connections')).body.connections
const rcChannels = async (): Promise<string[]> =>
  (await getJson<{ channels: Array<{ name: string }> }>(rc.api, '/v1/rpmsg/channels')).body.channels.map((c) => c.name)

t.test('an application that goes away leaves no endpoint behind', async (t) => {
  const rcApp = await RpmsgClient.connect(rc.api)
  clients.push(rcApp)
  const baseline = (await endpoints(ep)).map((e) => e.addr)

  for (const how of ['close', 'cut'] as const) {
    const name = `owned-${how}`
    const up = channelEvent(rcApp, name, true)
    const app = await RawClient.open(ep.api)
    raws.push(app)
    const announced = await app.createEndpoint(1, name, true)
    const plain = await app.createEndpoint(2, 'plain', false)
    await up

    const rows = (await endpoints(ep)).filter((e) => e.addr === announced || e.addr === plain)
    t.equal(rows.length, 2, `${how}: both endpoints are on the bus`)
    t.ok(rows.every((r) => r.owner === 'gateway' && r.connection !== null && r.client !== null), `${how}: owned by the application's connection`)
    const conn = (await connections(ep)).find((c) => c.id === rows[0]!.connection)
    t.same(conn?.endpoints.map((e) => e.addr).sort(), [announced, plain].sort(), `${how}: GET /v1/rpmsg/connections lists them`)
    const del = await fetch(`${ep.api}/v1/rpmsg/channels/${name}`, { method: 'DELETE' })
    t.equal(del.status, 409, `${how}: its channel cannot be deleted through REST from under it`)

    const gone = channelEvent(rcApp, name, false)
    if (how === 'close') app.ws.close()
    else app.ws.terminate()
    await gone
    t.pass(`${how}: the rc hears NS DESTROY`)
    t.notOk((await rcChannels()).includes(name), `${how}: the rc no longer lists the channel`)
    await until(`${how}: endpoints gone`, async () => (await endpoints(ep)).some((e) => e.addr === announced || e.addr === plain) ? undefined : true)
    t.same((await endpoints(ep)).map((e) => e.addr), baseline, `${how}: the ep has the endpoints it had before, no more`)
    t.notOk((await connections(ep)).some((c) => c.id === conn?.id), `${how}: and the connection is gone`)
  }
})

t.test('a reader that stops reading loses the newest messages, counted per endpoint and reported once', async (t) => {
  const reader = await RawClient.open(rc.api)
  raws.push(reader)
  const addr = await reader.createEndpoint(1, 'slow', false)
  const epApp = await RpmsgClient.connect(ep.api)
  clients.push(epApp)
  const sender = await epApp.createEndpoint({ name: 'fast', announce: true })
  const payload = (seq: number): Uint8Array => { const p = new Uint8Array(sender.maxPayload).fill(seq & 0xff); new DataView(p.buffer).setUint32(0, seq, true); return p }
  const row = async (): Promise<EndpointsBody['endpoints'][number]> => (await endpoints(rc)).find((e) => e.addr === addr)!

  reader.ws.pause()
  let sent = 0
  while (sent < 300_000) {
    for (let k = 0; k < 500; k++) await sender.send(addr, payload(sent++))
    if ((await row()).counters.dropped > 0) break
  }
  await until('every message delivered to the endpoint', async () => (await row()).counters.received === sent ? true : undefined)
  const stalled = await row()
  t.ok(stalled.counters.dropped > 0, `dropped once the reader fell behind (${sent} sent, ${stalled.counters.dropped} dropped)`)
  const view = (await connections(rc)).flatMap((c) => c.endpoints).find((e) => e.addr === addr)!
  t.ok(view.buffered > 0 && view.buffered <= ENDPOINT_QUEUE_BYTES, `at most 1 MiB waits for it (${view.buffered} bytes)`)
  t.equal(view.dropped, stalled.counters.dropped, 'the connection view counts the same drops')

  reader.ws.resume()
  const kept = sent - stalled.counters.dropped
  await within(until('the kept messages', () => reader.messages.filter((m) => m.received != null).length >= kept ? true : undefined, 60_000), 'reading', 70_000)
  const seqs = reader.messages.filter((m) => m.received != null).map((m) => new DataView(m.received!.payload!.buffer, m.received!.payload!.byteOffset).getUint32(0, true))
  t.same(seqs, Array.from({ length: kept }, (_, i) => i), 'the oldest were kept, whole and in order: the newest were dropped')
  // The report went out behind the last message kept, and may come in a later read than it.
  await until('the overflow report', () => reader.messages.some((m) => m.error?.code === 'ERR_RPMSG_OVERFLOW') ? true : undefined)
  const overflows = reader.messages.filter((m) => m.error?.code === 'ERR_RPMSG_OVERFLOW')
  t.equal(overflows.length, 1, 'one ERR_RPMSG_OVERFLOW for the episode')
  t.equal(overflows[0]?.error?.addr, addr, 'naming the endpoint')

  for (let k = 0; k < 10; k++) await sender.send(addr, payload(sent++))
  await until('the reader gets new messages again', () => reader.messages.filter((m) => m.received != null).length >= kept + 10 ? true : undefined)
  t.equal(reader.messages.filter((m) => m.error != null).length, 1, 'no new report')
  t.equal((await row()).counters.dropped, stalled.counters.dropped, 'nothing more dropped once it reads')
})
