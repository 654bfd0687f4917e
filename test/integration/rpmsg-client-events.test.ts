// RpmsgEndpoint's state as the gateway reports it (proto/rpmsg.proto),
// against a scripted gateway on loopback that sends exactly the messages a
// daemon sends when its bus goes and comes, when an endpoint cannot come
// back, and when a reader falls behind: remote, attached and whenBound()
// follow, and the endpoint emits an event for each.

import t from 'tap'
import { once } from 'node:events'
import { WebSocketServer, type WebSocket } from 'ws'
import { rpmsgWire as wire } from '../../daemon/src/api/rpmsg-gateway.js'
import type { soclink } from '../../proto/gen/rpmsg.js'
import { ApiError, RpmsgClient } from '../../client/src/index.js'
import { within } from '../support/daemon.js'

const State = wire.EndpointState.State
const ANY = 0xffffffff

t.test('endpoint events: bound, unbound, detached, attached, overflow, destroyed', async (t) => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1/rpmsg' })
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  const peer = once(server, 'connection') as Promise<[WebSocket]>
  const client = await RpmsgClient.connect(`http://127.0.0.1:${port}`)
  t.teardown(async () => { await client.close(); await new Promise((resolve) => { server.close(resolve) }) })
  const [ws] = await peer
  const tell = (m: soclink.rpmsg.v1.ServerMessage.$Properties): void => { ws.send(wire.ServerMessage.encode(m).finish()) }
  ws.on('message', (data: Buffer) => {
    const req = wire.ClientMessage.decode(data)
    if (req.createEndpoint != null) {
      const addr = req.createEndpoint.name === 'a' ? 1024 : 1025
      tell({ endpointCreated: { requestId: req.createEndpoint.requestId, addr, maxPayload: 496 } })
    }
  })

  const a = await client.createEndpoint({ name: 'a', announce: true })
  const b = await client.createEndpoint({ name: 'b' })
  const seen: string[] = []
  a.on('bound', (r) => { seen.push(`bound ${r}`) })
  a.on('unbound', () => { seen.push('unbound') })
  a.on('detached', () => { seen.push('detached') })
  a.on('attached', () => { seen.push('attached') })

  const first = a.whenBound()
  tell({ endpointBound: { addr: 1024, remote: 1030 } })
  t.equal(await within(first, 'bound'), 1030)
  t.equal(a.remote, 1030)

  tell({ endpointBound: { addr: 1024, remote: ANY } })
  tell({ endpointState: { addr: 1024, state: State.STATE_DETACHED, reason: 'the rpmsg bus went away' } })
  await within(once(a, 'detached'), 'detached')
  t.equal(a.remote, null, 'unbound: remote is null')
  t.equal(a.attached, false)
  const next = a.whenBound()
  tell({ endpointState: { addr: 1024, state: State.STATE_ATTACHED, reason: 'on a new rpmsg bus' } })
  tell({ endpointBound: { addr: 1024, remote: 1040 } })
  t.equal(await within(next, 'bound again'), 1040, 'whenBound() waits for the next binding after an unbinding')
  t.equal(a.attached, true)
  t.same(seen, ['bound 1030', 'unbound', 'detached', 'attached', 'bound 1040'], 'one event for each change, in order')

  const overflow = once(b, 'overflow') as Promise<[ApiError]>
  const gatewayError = once(client, 'gateway-error') as Promise<[ApiError]>
  tell({ error: { requestId: 0, code: 'ERR_RPMSG_OVERFLOW', addr: 1025, message: 'rpmsg endpoint 1025: too slow' } })
  t.equal((await within(overflow, 'overflow'))[0].code, 'ERR_RPMSG_OVERFLOW', 'the endpoint named in Error.addr emits overflow')
  t.equal((await within(gatewayError, 'gateway-error'))[0].code, 'ERR_RPMSG_OVERFLOW', 'and the client its gateway-error, as before')

  const destroyed = once(b, 'destroyed') as Promise<[string]>
  tell({ endpointState: { addr: 1025, state: State.STATE_DESTROYED, reason: 'its address is taken on the new bus' } })
  t.match((await within(destroyed, 'destroyed'))[0], /address is taken/)
  const rest: unknown[] = []
  for await (const m of b) rest.push(m)
  t.same(rest, [], 'its message iterator ends')
  await t.rejects(b.trySend(1, Uint8Array.of(1)), { code: 'ERR_RPMSG_DESTROYED' }, 'and it sends no more')
  t.equal(a.attached, true, 'the other endpoint is untouched')
})
