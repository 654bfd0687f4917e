// RpmsgEndpoint.maxPayload follows what the gateway says (proto/rpmsg.proto,
// "Largest payload"), against a scripted gateway on loopback:
// EndpointMaxPayload changes it and the endpoint emits 'max-payload', even
// one sent right behind EndpointCreated; EndpointState ATTACHED carries the
// new bus's size.

import t from 'tap'
import { once } from 'node:events'
import { WebSocketServer, type WebSocket } from 'ws'
import { rpmsgWire as wire } from '../../daemon/src/api/rpmsg-gateway.js'
import type { soclink } from '../../proto/gen/rpmsg.js'
import { RpmsgClient } from '../../client/src/index.js'
import { within } from '../support/daemon.js'

const State = wire.EndpointState.State

t.test('maxPayload follows EndpointMaxPayload and EndpointState ATTACHED', async (t) => {
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
    if (req.createEndpoint == null) return
    const requestId = req.createEndpoint.requestId
    if (req.createEndpoint.name === 'early') {
      // The bus changes size right after: both go out in one turn, and the client reads them in one.
      tell({ endpointCreated: { requestId, addr: 1024, maxPayload: 496 } })
      tell({ endpointMaxPayload: { addr: 1024, maxPayload: 2032 } })
    } else {
      tell({ endpointCreated: { requestId, addr: 1025, maxPayload: 496 } })
    }
  })

  const early = await client.createEndpoint({ name: 'early' })
  for (let i = 0; i < 100 && early.maxPayload !== 2032; i++) await new Promise((resolve) => setImmediate(resolve))
  t.equal(early.maxPayload, 2032, 'an EndpointMaxPayload right behind EndpointCreated is not lost')

  const b = await client.createEndpoint({ name: 'b' })
  t.equal(b.maxPayload, 496)
  const seen: number[] = []
  b.on('max-payload', (n) => { seen.push(n) })
  tell({ endpointMaxPayload: { addr: 1025, maxPayload: 2032 } })
  t.same(await within(once(b, 'max-payload'), 'max-payload'), [2032], 'DRIVER_OK on the vhost side: 2032')
  t.equal(b.maxPayload, 2032)
  tell({ endpointMaxPayload: { addr: 1025, maxPayload: 496 } })
  await within(once(b, 'max-payload'), 'max-payload again')
  t.equal(b.maxPayload, 496, 'a reset: 496 again')

  tell({ endpointState: { addr: 1025, state: State.STATE_DETACHED, reason: 'the rpmsg bus went away' } })
  await within(once(b, 'detached'), 'detached')
  t.equal(b.maxPayload, 496, 'detached: unchanged')
  tell({ endpointState: { addr: 1025, state: State.STATE_ATTACHED, reason: 'on a new rpmsg bus', maxPayload: 1008 } })
  await within(once(b, 'attached'), 'attached')
  t.equal(b.maxPayload, 1008, 'ATTACHED carries the new bus\'s size')
  t.same(seen, [2032, 496, 1008], 'one max-payload event per change, before attached')
  t.equal(early.maxPayload, 2032, 'the other endpoint is untouched')
})
