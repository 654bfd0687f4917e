// The NTB hosts' devices in the API and the CLI, with three real daemons (a
// board, HOST1 ntb-vhost, HOST2 ntb-virtio): GET /v1/devices and GET
// /v1/virtqueues list HOST2's virtio device (transport ntb-virtio) and
// HOST1's vhost device (ntb-vhost), the peer being the board; both sides
// see the same rings at the same addresses (HOST2's MW0); `soclink devices`
// and `soclink virtqueues` print them. Then, after rpmsg traffic, an idle
// pair sends nothing but heartbeats: over many fallback polls of both
// transports (counted, not timed) no frame leaves either host.

import t from 'tap'
import { RpmsgClient } from '../../client/src/index.js'
import type { Device, Peer, Virtqueue } from '../../proto/api/index.js'
import { cli, until, type Daemon } from '../support/daemon.js'
import { channelEvent, getJson } from '../support/rpmsg-procs.js'
import { echo, exchange, hostState, hostUp, startNtbTopology } from '../support/ntb-daemons.js'

const daemons: Daemon[] = []
const clients: RpmsgClient[] = []
t.teardown(async () => {
  for (const c of clients) await c.close()
  for (const d of [...daemons].reverse()) await d.stop()
})
const { board, host1, host2 } = await startNtbTopology(daemons)

const devices = async (d: Daemon): Promise<Device[]> => (await getJson<{ devices: Device[] }>(d.api, '/v1/devices')).body.devices
const virtqueues = async (d: Daemon): Promise<Virtqueue[]> => (await getJson<{ virtqueues: Virtqueue[] }>(d.api, '/v1/virtqueues')).body.virtqueues

t.test('GET /v1/devices and /v1/virtqueues on the NTB hosts, and the CLI', async (t) => {
  await hostUp(host1)
  await hostUp(host2)
  const [v] = await devices(host2)
  t.match(v, { name: 'virtio0', side: 'virtio', peer: 'board', transport: 'ntb-virtio', deviceId: 7, status: 15, driver: 'virtio_rpmsg_bus', needsReset: '', test: null },
    'HOST2: the virtio device its transport presents, bound to virtio_rpmsg_bus')
  const [h] = await devices(host1)
  t.match(h, { name: 'vhost0', side: 'vhost', peer: 'board', transport: 'ntb-vhost', deviceId: 7, status: 15, driver: 'vhost_rpmsg_bus' },
    'HOST1: its vhost device, bound to vhost_rpmsg_bus')
  t.equal(v!.driverFeatures, h!.driverFeatures, 'both sides negotiated the same features')
  t.equal(v!.deviceFeatures, h!.deviceFeatures, 'HOST2 reads what HOST1 offers')
  t.same(await devices(board), [], 'the board has no virtio or vhost device')
  t.match((await getJson(host2.api, '/v1/devices/virtio0')).body, { name: 'virtio0', transport: 'ntb-virtio' }, 'one device by name')
  t.equal((await getJson(host1.api, '/v1/devices/virtio0')).status, 404, 'HOST1 has no virtio0')

  const q2 = await virtqueues(host2)
  const q1 = await virtqueues(host1)
  const st = await hostState(host2)
  t.same(q2.map((q) => [q.device, q.side, q.index, q.name, q.layout, q.size]), [['virtio0', 'virtio', 0, 'input', 'split', 256], ['virtio0', 'virtio', 1, 'output', 'split', 256]], 'HOST2: virtio_rpmsg\'s rx and tx rings')
  t.same(q1.map((q) => [q.device, q.side, q.index, q.name, q.layout, q.size]), [['vhost0', 'vhost', 0, 'output', 'split', 256], ['vhost0', 'vhost', 1, 'input', 'split', 256]], 'HOST1: the vhost side of the same rings')
  t.same(q1.map((q) => [q.desc, q.driverArea, q.deviceArea]), q2.map((q) => [q.desc, q.driverArea, q.deviceArea]), 'at the same addresses')
  t.ok(q2.every((q) => q.desc! >= st.transport!.virtioAddr! && q.deviceArea! < st.transport!.virtioAddr! + st.transport!.mwSize!), 'inside HOST2\'s MW0')
  t.ok(q2.every((q) => q.region === 'pcie.sysmem' && q.ready), 'HOST2 reads them in its own memory')
  t.ok(q1.every((q) => q.region === 'board:pcie.bar2' && q.ready && q.lastSeenAvail !== null), 'HOST1 through the board\'s memory window (BAR2)')
  t.equal(q2[0]!.availIdx, 256, 'HOST2 made 256 rx buffers available')
  t.equal(q1[0]!.availIdx, 256, 'and HOST1 reads the same index')

  const d2 = await cli(host2.api, 'devices')
  t.equal(d2.code, 0)
  t.match(d2.stdout, /^virtio0 +virtio +board +ntb-virtio +0xffffffff:0x0007 +0x0f \S+ +0x[0-9a-f]+ +virtio_rpmsg_bus/m, 'soclink devices on HOST2')
  const d1 = await cli(host1.api, 'devices')
  t.match(d1.stdout, /^vhost0 +vhost +board +ntb-vhost +0xffffffff:0x0007 +0x0f \S+ +0x[0-9a-f]+ +vhost_rpmsg_bus/m, 'soclink devices on HOST1')
  const v1 = await cli(host1.api, 'virtqueues')
  t.equal(v1.code, 0)
  t.match(v1.stdout, /^vhost0 +0 +output +split +256 +0x100000 /m, 'soclink virtqueues on HOST1')
  t.match((await cli(host2.api, 'virtqueues')).stdout, /^virtio0 +1 +output +split +256 +0x103000 /m, 'soclink virtqueues on HOST2')
})

/** Frames each host has sent to the board, and the fallback polls each transport has made. */
async function idleCounters (): Promise<{ frames: number[], polls: number[] }> {
  const frames: number[] = []
  const polls: number[] = []
  for (const d of [host1, host2]) {
    const peers = (await getJson<{ peers: Peer[] }>(d.api, '/v1/peers')).body.peers
    frames.push(peers.find((p) => p.name === 'board')!.counters.framesOut)
    polls.push((await hostState(d)).transport!.counters.polls!)
  }
  return { frames, polls }
}

t.test('after rpmsg traffic an idle pair sends no frames over many polls', async (t) => {
  const app1 = await RpmsgClient.connect(host1.api)
  const app2 = await RpmsgClient.connect(host2.api)
  clients.push(app1, app2)
  const up = channelEvent(app2, 'idle-echo', true)
  const e = await app1.createEndpoint({ name: 'idle-echo', announce: true })
  echo(e)
  const ch = await up
  t.same(await exchange(await app2.createEndpoint(), ch.dst, 7, 200), [], '200 messages echoed')

  // Each host's last frames (acks of the traffic, the last completions) go out within a few polls.
  const settled = await idleCounters()
  await until('5 polls on each host', async () => (await idleCounters()).polls.every((p, i) => p >= settled.polls[i]! + 5) ? true : undefined)
  const before = await idleCounters()
  const after = await until('30 more polls on each host', async () => {
    const c = await idleCounters()
    return c.polls.every((p, i) => p >= before.polls[i]! + 30) ? c : undefined
  }, 20_000)
  t.same(after.frames, before.frames, `no frame from HOST1 or HOST2 over ${after.polls[0]! - before.polls[0]!} and ${after.polls[1]! - before.polls[1]!} polls`)
})
