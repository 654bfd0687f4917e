// The rpmsg gateway's policies without sockets: a connection
// (daemon/src/api/gateway-connection.ts) over a WebSocket stand-in that
// writes only when told to (a client that stopped reading), on the
// in-memory rpmsg pair (test/support/rpmsg-pair.ts); and the gateway
// (rpmsg-gateway.ts) following buses that a driver table attaches and
// detaches, as the roles' rpmsg drivers do when the other side restarts.

import t from 'tap'
import { once } from 'node:events'
import { rpmsgPair, type RpmsgPair, TEST_CLAIMER } from '../support/rpmsg-pair.js'
import type { soclink } from '../../proto/gen/rpmsg.js'
import { CONNECTION_QUEUE_BYTES, ENDPOINT_QUEUE_BYTES, RpmsgGatewayConnection, rpmsgWire as wire, type GatewaySocket } from '../../daemon/src/api/gateway-connection.js'
import { RpmsgGateway } from '../../daemon/src/api/rpmsg-gateway.js'
import { RpmsgDriverTable } from '../../daemon/src/rpmsg/driver.js'
import type { RpmsgBusCore, RpmsgChannel } from '../../daemon/src/rpmsg/core.js'
import { RPMSG_ADDR_ANY, RPMSG_MAX_PAYLOAD } from '../../daemon/src/rpmsg/wire.js'

type ServerMessage = soclink.rpmsg.v1.ServerMessage
const State = wire.EndpointState.State

/** A WebSocket whose bytes stay "not yet written" until flush(); `held` adds bytes as if other messages waited. */
class HeldSocket implements GatewaySocket {
  readyState = 1
  held = 0
  readonly written: ServerMessage[] = []
  private pending: Array<{ data: Uint8Array, cb?: (err?: Error) => void }> = []

  get bufferedAmount (): number { return this.held + this.pending.reduce((n, p) => n + p.data.length, 0) }

  send (data: Uint8Array, _options: { binary: boolean }, cb?: (err?: Error) => void): void {
    this.pending.push({ data: Uint8Array.from(data), cb })
  }

  close (): void { this.readyState = 3 }

  /** The client reads: everything waiting is written, in order. */
  flush (): ServerMessage[] {
    const out = this.pending.map((p) => wire.ServerMessage.decode(p.data))
    const cbs = this.pending.map((p) => p.cb)
    this.pending = []
    this.written.push(...out)
    for (const cb of cbs) cb?.()
    return out
  }
}

const request = (conn: RpmsgGatewayConnection, msg: soclink.rpmsg.v1.ClientMessage.$Properties): void => {
  conn.onMessage(Buffer.from(wire.ClientMessage.encode(msg).finish()), true)
}

const seqPayload = (seq: number): Uint8Array => {
  const p = new Uint8Array(RPMSG_MAX_PAYLOAD).fill(seq & 0xff)
  new DataView(p.buffer).setUint32(0, seq, true)
  return p
}
const seqOf = (p: Uint8Array): number => new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(0, true)

/** Sends `seqs` from the virtio side, then waits until the gateway endpoint has had all of them delivered. */
async function sendAll (guest: RpmsgChannel, conn: RpmsgGatewayConnection, seqs: number[]): Promise<void> {
  const target = conn.view().endpoints[0]!.received + seqs.length
  for (const s of seqs) await guest.send(seqPayload(s))
  while (conn.view().endpoints[0]!.received < target) await new Promise((resolve) => setImmediate(resolve))
}
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i)

/** A connection on the vhost side of a pair with one announced endpoint, bound, and the virtio side's channel for it. */
async function announced (name: string): Promise<{ pair: RpmsgPair, sock: HeldSocket, conn: RpmsgGatewayConnection, addr: number, guest: RpmsgChannel }> {
  const pair = await rpmsgPair()
  const sock = new HeldSocket()
  const conn = new RpmsgGatewayConnection(1, 'test:1', sock, () => pair.vhost)
  const created = once(pair.virtio, 'channel-created') as Promise<[RpmsgChannel]>
  const bound = once(pair.vhost, 'channel-bound')
  request(conn, { createEndpoint: { requestId: 1, name, addr: RPMSG_ADDR_ANY, announce: true } })
  const [guest] = await created
  // rpmsgBind kernel: bound once a driver claims it (rpmsg_dev_probe()).
  pair.virtio.claimChannel(guest, TEST_CLAIMER)
  await bound
  const addr = sock.flush().find((m) => m.endpointCreated != null)!.endpointCreated!.addr!
  return { pair, sock, conn, addr, guest }
}

t.test('a slow reader: at most ENDPOINT_QUEUE_BYTES per endpoint, the newest dropped, counted, reported once per episode', async (t) => {
  const { sock, conn, addr, guest } = await announced('slow')
  const frame = wire.ServerMessage.encode({ received: { dst: addr, src: guest.src, payload: seqPayload(0) } }).finish().length
  const fits = Math.floor(ENDPOINT_QUEUE_BYTES / frame)
  const N = fits + 300
  await sendAll(guest, conn, range(0, N))
  const view = conn.view().endpoints[0]!
  t.equal(view.received, N, 'the bus delivered every message to the endpoint')
  t.equal(view.dropped, N - fits, 'what did not fit is dropped and counted')
  t.ok(view.buffered <= ENDPOINT_QUEUE_BYTES && view.buffered === fits * frame, 'never more than the bound waits')
  t.equal(conn.view().dropped, N - fits, 'the connection counts them too')

  const out = sock.flush()
  const got = out.filter((m) => m.received != null).map((m) => seqOf(m.received!.payload!))
  t.same(got, Array.from({ length: fits }, (_, i) => i), 'the oldest are kept, whole and in order (drop-newest)')
  const overflows = out.filter((m) => m.error?.code === 'ERR_RPMSG_OVERFLOW')
  t.equal(overflows.length, 1, 'one ERR_RPMSG_OVERFLOW for the episode')
  t.equal(overflows[0]!.error!.addr, addr, 'naming the endpoint')
  t.equal(conn.view().endpoints[0]!.buffered, 0, 'written: nothing waits')

  await sendAll(guest, conn, range(N, 10))
  const after = sock.flush()
  t.same(after.filter((m) => m.received != null).map((m) => seqOf(m.received!.payload!)), Array.from({ length: 10 }, (_, i) => N + i), 'a reader that caught up gets everything again')
  t.equal(after.filter((m) => m.error != null).length, 0, 'no new report while nothing is dropped')

  await sendAll(guest, conn, range(0, fits + 5))
  const second = sock.flush().filter((m) => m.error?.code === 'ERR_RPMSG_OVERFLOW')
  t.equal(second.length, 1, 'a second episode is reported once more')
  t.equal(conn.view().endpoints[0]!.dropped, N - fits + 5, 'the counter keeps counting')
  conn.close()
})

t.test('the connection backstop: over CONNECTION_QUEUE_BYTES waiting in all, Received messages are dropped', async (t) => {
  const { sock, conn, addr, guest } = await announced('backstop')
  sock.held = CONNECTION_QUEUE_BYTES
  await sendAll(guest, conn, [1])
  t.equal(conn.view().endpoints[0]!.dropped, 1, 'dropped though the endpoint itself holds nothing')
  const err = sock.flush().find((m) => m.error != null)?.error
  t.equal(err?.code, 'ERR_RPMSG_OVERFLOW')
  t.equal(err?.addr, addr)
  t.match(err?.message, /connection/, 'the report says which bound')
  sock.held = 0
  await sendAll(guest, conn, [2])
  t.same(sock.flush().filter((m) => m.received != null).map((m) => seqOf(m.received!.payload!)), [2])
  conn.close()
})

t.test('closing a connection destroys its endpoints: NS DESTROY reaches the other side', async (t) => {
  const { pair, conn, addr } = await announced('owned')
  request(conn, { createEndpoint: { requestId: 2, name: 'plain', addr: 1500, announce: false } })
  t.ok(pair.vhost.endpoints.has(addr) && pair.vhost.endpoints.has(1500), 'both endpoints exist')
  const gone = once(pair.virtio, 'channel-destroyed') as Promise<[RpmsgChannel]>
  conn.close()
  const [ch] = await gone
  t.equal(ch.name, 'owned', 'the other side hears the announced one go')
  t.notOk(pair.vhost.endpoints.has(addr) || pair.vhost.endpoints.has(1500), 'nothing is left behind')
})

/** The gateway over a driver table, as a role's; bus `n` is attached as vhost`n`. */
function gatewayOver (table: RpmsgDriverTable): { gateway: RpmsgGateway, sock: HeldSocket, conn: RpmsgGatewayConnection } {
  const gateway = new RpmsgGateway({ table, running: () => [] })
  const sock = new HeldSocket()
  const conn = gateway.connect(sock, 'test:2')
  return { gateway, sock, conn }
}

/** The vhost driver's remove() then the table's detach(), in the order the roles' drivers run them. */
async function removeBus (table: RpmsgDriverTable, pair: RpmsgPair): Promise<void> {
  pair.vhostDriver.remove(pair.loop.vhost)
  table.detach(pair.vhost)
}

async function answer (sock: HeldSocket, what: string, match: (m: ServerMessage) => boolean): Promise<ServerMessage> {
  for (let i = 0; i < 1000; i++) {
    sock.flush()
    const at = sock.written.findIndex(match)
    if (at >= 0) return sock.written.splice(at, 1)[0]!
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error(`no ${what}`)
}

t.test('the gateway follows the bus: endpoints are detached when it goes and made again at the same address when one comes', async (t) => {
  const table = new RpmsgDriverTable()
  const { gateway, sock, conn } = gatewayOver(table)
  request(conn, { createEndpoint: { requestId: 1, name: 'early', addr: RPMSG_ADDR_ANY, announce: false } })
  t.equal((await answer(sock, 'answer 1', (m) => m.error?.requestId === 1)).error!.code, 'ERR_NOT_FOUND', 'no bus yet: ERR_NOT_FOUND')
  t.equal(sock.readyState, 1, 'and the connection stays open')

  const first = await rpmsgPair()
  table.attach(first.vhost, { side: 'vhost', device: 'vhost0' }, first.vhost)
  t.equal(gateway.serving(), first.vhost as RpmsgBusCore, 'the gateway serves on the attached bus')
  // rpmsgBind kernel: the virtio side binds the announced channel once a driver claims it.
  void (once(first.virtio, 'channel-created') as Promise<[RpmsgChannel]>).then(([ch]) => { first.virtio.claimChannel(ch, TEST_CLAIMER) })
  request(conn, { createEndpoint: { requestId: 2, name: 'churn', addr: RPMSG_ADDR_ANY, announce: true } })
  request(conn, { createEndpoint: { requestId: 3, name: 'plain', addr: 1500, announce: false } })
  const addr = (await answer(sock, 'answer 2', (m) => m.endpointCreated?.requestId === 2)).endpointCreated!.addr!
  await answer(sock, 'answer 3', (m) => m.endpointCreated?.requestId === 3)
  const remote1 = (await answer(sock, 'bound', (m) => m.endpointBound?.addr === addr)).endpointBound!.remote!
  t.not(remote1, RPMSG_ADDR_ANY, 'the announced endpoint is bound')

  await removeBus(table, first)
  t.equal(gateway.serving(), null, 'no bus')
  t.ok(await answer(sock, 'channel destroyed', (m) => m.channelEvent?.name === 'churn' && m.channelEvent.created === false), 'the channel is reported destroyed')
  t.equal((await answer(sock, 'unbound', (m) => m.endpointBound?.addr === addr)).endpointBound!.remote, RPMSG_ADDR_ANY, 'EndpointBound 0xffffffff: unbound')
  for (const a of [addr, 1500]) {
    t.equal((await answer(sock, `detached ${a}`, (m) => m.endpointState?.addr === a)).endpointState!.state, State.STATE_DETACHED, `${a} detached`)
  }
  t.same(conn.view().endpoints.map((e) => [e.addr, e.state]), [[addr, 'detached'], [1500, 'detached']], 'still owned while detached')
  request(conn, { send: { requestId: 4, src: 1500, dst: 1024, payload: Uint8Array.of(1) } })
  t.equal((await answer(sock, 'answer 4', (m) => m.error?.requestId === 4)).error!.code, 'ERR_RPMSG_DETACHED', 'Send answers ERR_RPMSG_DETACHED')

  const second = await rpmsgPair()
  const guestMade = once(second.virtio, 'channel-created') as Promise<[RpmsgChannel]>
  table.attach(second.vhost, { side: 'vhost', device: 'vhost1' }, second.vhost)
  for (const a of [addr, 1500]) {
    t.equal((await answer(sock, `attached ${a}`, (m) => m.endpointState?.addr === a)).endpointState!.state, State.STATE_ATTACHED, `${a} attached again`)
  }
  t.ok(second.vhost.endpoints.has(addr) && second.vhost.endpoints.has(1500), 'at the same addresses on the new bus')
  const [guest] = await guestMade
  second.virtio.claimChannel(guest, TEST_CLAIMER)
  t.equal(guest.name, 'churn', 'announced again under its name')
  t.equal(guest.dst, addr)
  const remote2 = (await answer(sock, 'bound again', (m) => m.endpointBound?.addr === addr)).endpointBound!.remote!
  t.equal(remote2, guest.src, 'bound again to the new bus\'s channel')
  await guest.send(Uint8Array.of(42))
  const got = await answer(sock, 'received', (m) => m.received != null)
  t.same([got.received!.dst, got.received!.src, [...got.received!.payload!]], [addr, guest.src, [42]], 'traffic resumes on the same endpoint')

  // A third bus where someone else holds the announced endpoint's address: it cannot come back.
  await removeBus(table, second)
  const third = await rpmsgPair()
  third.vhost.createChannel('squatter', addr)
  table.attach(third.vhost, { side: 'vhost', device: 'vhost2' }, third.vhost)
  t.equal((await answer(sock, 'destroyed', (m) => m.endpointState?.addr === addr && m.endpointState.state !== State.STATE_DETACHED)).endpointState!.state,
    State.STATE_DESTROYED, 'an endpoint whose address is taken is destroyed')
  t.same(conn.view().endpoints.map((e) => [e.addr, e.state]), [[1500, 'attached']], 'and no longer owned; the other came back')
  gateway.disconnect(conn)
  t.notOk(third.vhost.endpoints.has(1500), 'disconnecting destroys what is left')
  t.equal(third.vhost.channels.get('squatter')?.src, addr, 'and not what others own')
})
