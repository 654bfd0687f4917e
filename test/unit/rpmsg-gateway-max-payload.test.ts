// An application's max payload follows the bus (proto/rpmsg.proto, "Largest
// payload"): the vhost side learns the buffer size the virtio side chose
// only at DRIVER_OK, and goes back to 512-byte buffers when the virtio side
// resets the device, without its bus going away. The gateway tells each
// endpoint's owner (EndpointMaxPayload); EndpointState ATTACHED carries the
// new bus's size. On the in-memory pair's parts (test/support/rpmsg-pair.ts),
// with both sides configured for 2048-byte buffers.

import t from 'tap'
import type { soclink } from '../../proto/gen/rpmsg.js'
import { rpmsgWire as wire, type GatewaySocket, type RpmsgGatewayConnection } from '../../daemon/src/api/gateway-connection.js'
import { RpmsgGateway } from '../../daemon/src/api/rpmsg-gateway.js'
import { RpmsgDriverTable } from '../../daemon/src/rpmsg/driver.js'
import { VhostBus } from '../../daemon/src/vhost/bus.js'
import { VirtioBus } from '../../daemon/src/virtio/bus.js'
import { VhostRpmsgDriver } from '../../daemon/src/rpmsg/vhost-rpmsg.js'
import { VirtioRpmsgDriver } from '../../daemon/src/rpmsg/virtio-rpmsg.js'
import { RPMSG_ADDR_ANY } from '../../daemon/src/rpmsg/wire.js'
import { RpmsgLoop } from '../support/rpmsg-pair.js'

type ServerMessage = soclink.rpmsg.v1.ServerMessage
const State = wire.EndpointState.State
const SIZE = 2048
const BIG = SIZE - 16
const SMALL = 512 - 16

/** A WebSocket that writes at once; what it wrote is decoded into `written`. */
class Socket implements GatewaySocket {
  readyState = 1
  readonly bufferedAmount = 0
  readonly written: ServerMessage[] = []
  send (data: Uint8Array, _options: { binary: boolean }, cb?: (err?: Error) => void): void {
    this.written.push(wire.ServerMessage.decode(data))
    cb?.()
  }

  close (): void { this.readyState = 3 }

  /** Takes what was written since the last take. */
  take (): ServerMessage[] { return this.written.splice(0) }
}

const request = (conn: RpmsgGatewayConnection, msg: soclink.rpmsg.v1.ClientMessage.$Properties): void => {
  conn.onMessage(Buffer.from(wire.ClientMessage.encode(msg).finish()), true)
}

/** The vhost side of a loop bound with 2048-byte buffers, attached to `table`; no virtio side yet. */
async function vhostSide (table: RpmsgDriverTable): Promise<{ loop: RpmsgLoop, driver: VhostRpmsgDriver }> {
  const loop = new RpmsgLoop()
  const vbus = new VhostBus()
  const driver = new VhostRpmsgDriver({ bufSize: SIZE, drivers: table })
  await vbus.registerDriver(driver)
  if (await vbus.registerDevice(loop.vhost) !== 'bound') throw new Error('the vhost side did not bind')
  return { loop, driver }
}

/** The virtio side comes: it chooses 2048-byte buffers and sets DRIVER_OK. */
async function virtioSide (loop: RpmsgLoop): Promise<{ bus: VirtioBus, driver: VirtioRpmsgDriver }> {
  const bus = new VirtioBus()
  const driver = new VirtioRpmsgDriver({ bufSize: SIZE })
  await bus.registerDriver(driver)
  if (await bus.addDevice(loop.virtio) !== 'bound') throw new Error('the virtio side did not bind')
  return { bus, driver }
}

const sizes = (msgs: ServerMessage[]): Array<[number, number]> =>
  msgs.filter((m) => m.endpointMaxPayload != null).map((m) => [m.endpointMaxPayload!.addr!, m.endpointMaxPayload!.maxPayload!])

async function turns (n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

t.test('an endpoint made before DRIVER_OK learns the negotiated size, and 512 again at a reset', async (t) => {
  const table = new RpmsgDriverTable()
  const gateway = new RpmsgGateway({ table, running: () => [] })
  const sock = new Socket()
  const conn = gateway.connect(sock, 'test:1')
  t.teardown(() => { gateway.disconnect(conn) })
  const { loop, driver } = await vhostSide(table)
  const vhost = driver.bus(loop.vhost)

  request(conn, { createEndpoint: { requestId: 1, name: 'plain', addr: 1500, announce: false } })
  request(conn, { createEndpoint: { requestId: 2, name: 'told', addr: RPMSG_ADDR_ANY, announce: true } })
  const created = sock.take().filter((m) => m.endpointCreated != null).map((m) => m.endpointCreated!)
  t.same(created.map((c) => [c.addr, c.maxPayload]), [[1500, SMALL], [1024, SMALL]], 'before DRIVER_OK the vhost side has 512-byte buffers')

  const virtio = await virtioSide(loop)
  t.equal(vhost.bufSize, SIZE, 'DRIVER_OK: the vhost side took the virtio side\'s 2048')
  t.same(sizes(sock.take()), [[1500, BIG], [1024, BIG]], 'each endpoint is told its new max payload, 2032')

  const guest = virtio.driver.bus(loop.virtio)
  const got: Uint8Array[] = []
  guest.createEndpoint(1600, (payload) => { got.push(payload) })
  request(conn, { send: { requestId: 3, src: 1500, dst: 1600, payload: new Uint8Array(BIG).fill(7) } })
  request(conn, { send: { requestId: 4, src: 1500, dst: 1600, payload: new Uint8Array(BIG + 1) } })
  const answers = sock.take()
  t.ok(answers.some((m) => m.sent?.requestId === 3), 'a 2032-byte message is sent')
  t.equal(answers.find((m) => m.error?.requestId === 4)?.error?.code, 'ERR_RPMSG_SIZE', 'one byte more is refused')
  for (let i = 0; i < 1000 && got.length === 0; i++) await turns(1)
  t.equal(got[0]?.length, BIG, 'and arrives whole')

  // The virtio side goes (it resets the device); the vhost bus stays.
  await virtio.bus.removeDevice(loop.virtio)
  t.equal(gateway.serving(), vhost, 'the vhost bus is still there')
  t.same(sizes(sock.take()), [[1500, SMALL], [1024, SMALL]], 'a reset: 496 again, told')
  request(conn, { send: { requestId: 5, src: 1500, dst: 1600, payload: new Uint8Array(SMALL + 1) } })
  t.equal(sock.take().find((m) => m.error?.requestId === 5)?.error?.code, 'ERR_RPMSG_SIZE', 'what the endpoint was told is what the daemon takes')

  await virtio.bus.addDevice(loop.virtio)
  t.same(sizes(sock.take()), [[1500, BIG], [1024, BIG]], 'the next DRIVER_OK: 2032 again')
  await virtio.bus.removeDevice(loop.virtio)
  sock.take()

  // A new bus: ATTACHED carries its size (512 until its own DRIVER_OK), then the change is told.
  driver.remove(loop.vhost)
  table.detach(vhost)
  t.same(sock.take().filter((m) => m.endpointState != null).map((m) => [m.endpointState!.addr, m.endpointState!.state]),
    [[1024, State.STATE_DETACHED], [1500, State.STATE_DETACHED]], 'the bus went: both detached')
  const next = await vhostSide(table)
  const attached = sock.take().filter((m) => m.endpointState != null).map((m) => [m.endpointState!.addr, m.endpointState!.state, m.endpointState!.maxPayload])
  t.same(attached, [[1500, State.STATE_ATTACHED, SMALL], [1024, State.STATE_ATTACHED, SMALL]], 'ATTACHED with the new bus\'s 496')
  const again = await virtioSide(next.loop)
  t.same(sizes(sock.take()), [[1500, BIG], [1024, BIG]], 'and 2032 at its DRIVER_OK')
  await again.bus.removeDevice(next.loop.virtio)
})

t.test('buses that do not change size tell nothing', async (t) => {
  const table = new RpmsgDriverTable()
  const gateway = new RpmsgGateway({ table, running: () => [] })
  const sock = new Socket()
  const conn = gateway.connect(sock, 'test:2')
  t.teardown(() => { gateway.disconnect(conn) })
  const loop = new RpmsgLoop()
  const vbus = new VhostBus()
  await vbus.registerDriver(new VhostRpmsgDriver({ drivers: table }))
  await vbus.registerDevice(loop.vhost)
  request(conn, { createEndpoint: { requestId: 1, name: 'plain', addr: 1500, announce: false } })
  const bus = new VirtioBus()
  await bus.registerDriver(new VirtioRpmsgDriver({ bufSize: SIZE }))
  await bus.addDevice(loop.virtio)
  await bus.removeDevice(loop.virtio)
  const msgs = sock.take()
  t.equal(msgs[0]?.endpointCreated?.maxPayload, SMALL)
  t.same(sizes(msgs), [], 'a vhost side of 512 stays at 512: no EndpointMaxPayload')
})
