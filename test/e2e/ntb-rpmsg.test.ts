// The RFC's second topology with three real daemon processes, each started
// with nothing but its role: a board (--role ntb), HOST1 (--role ntb-vhost)
// and HOST2 (--role ntb-virtio) dialing it. rpmsg runs between the hosts
// through the board's NTB function with the same virtio, vhost and rpmsg
// code as the PCIe roles:
// - an ep-style echo application on HOST1 (an announced channel) and a
//   sender on HOST2 exchange 10,000 messages, every one checked both ways;
// - HOST1's daemon stops and starts again: HOST2 sees the NTB link go down
//   and come up, its virtio device removed and probed again, the channel
//   destroyed and, from the new HOST1's application, created again, and
//   rpmsg resumes.

import t from 'tap'
import { RpmsgClient, RPMSG_ADDR_ANY } from '../../client/src/index.js'
import { until, within, type Daemon } from '../support/daemon.js'
import { channelEvent } from '../support/rpmsg-procs.js'
import { boardState, echo, exchange, hostState, hostUp, inOrder, startHost, startNtbTopology } from '../support/ntb-daemons.js'

const N = 10_000
const TAG = 0x4e5442

const daemons: Daemon[] = []
const clients: RpmsgClient[] = []
t.teardown(async () => {
  for (const c of clients) await c.close()
  for (const d of [...daemons].reverse()) await d.stop()
})
const topology = await startNtbTopology(daemons)
const { board, host2 } = topology
let host1 = topology.host1

async function connect (api: string): Promise<RpmsgClient> {
  const c = await RpmsgClient.connect(api)
  clients.push(c)
  return c
}

t.test('the three daemons come up on their roles alone: paired, translated, a virtio rpmsg device bound', async (t) => {
  const s1 = await hostUp(host1)
  const s2 = await hostUp(host2)
  t.match(s2, { role: 'ntb-virtio', board: 'board', device: { link: true, ready: true }, transport: { peerType: 'vhost', device: { driver: 'virtio_rpmsg_bus' } } },
    'HOST2: ntb_hw_epf bound, link up, the vhost side found, virtio_rpmsg_bus bound')
  t.match(s1, { role: 'ntb-vhost', board: 'board', device: { link: true, ready: true }, transport: { peerType: 'virtio', device: { driver: 'vhost_rpmsg_bus' } } },
    'HOST1: ntb_hw_epf bound, link up, the virtio side found, vhost_rpmsg_bus bound')
  t.same(s2.device!.translations, [{ widx: 0, addr: s2.transport!.virtioAddr, size: s2.transport!.mwSize }, { widx: 1, addr: 5 << 20, size: 4 << 20 }],
    'HOST2 translated MW 0 onto its memory at the address it announced, and MW 1 onto its ntb_perf buffer')
  t.equal(s1.transport!.virtioAddr, s2.transport!.virtioAddr, 'HOST1 read that address from the scratchpads')
  t.equal(s1.transport!.mwSize, s1.device!.peerMws[0]!.size, 'HOST1 offered its peer MW 0 whole')
  const b = await boardState(board)
  t.match(b, { role: 'ntb', autoPairing: true, unpaired: [] }, 'the board pairs hosts in link order')
  t.equal(b.pairs.length, 1, 'one pair')
  const pair = b.pairs[0]!
  t.same([pair.a, pair.b].sort(), ['host1', 'host2'], 'paired in link order')
  const h1 = pair.interfaces.find((i) => i.host === 'host1')!
  t.match(h1, { peer: 'host2', started: true, linkStatus: true }, 'HOST1\'s interface is started and its link up')
  t.match(h1.memoryWindows[0], { idx: 0, bar: 2, translation: { addr: s2.transport!.virtioAddr, size: s2.transport!.mwSize, attached: true } }, 'HOST1\'s MW1 reaches HOST2\'s memory')
  t.match(h1.memoryWindows[1]!.translation, { addr: 5 << 20, size: 4 << 20, attached: true }, 'HOST1\'s MW2 reaches HOST2\'s ntb_perf buffer')
  t.equal(h1.memoryWindows[0]!.offset, pair.layout.mw1Offset, 'MW1 starts at MW1_OFFSET in BAR2')
  t.same(pair.layout.mwBars, [8 << 20, 4 << 20], 'BAR2 holds the doorbell slots and a 4M MW1 (rounded to 8M), BAR3 a 4M MW2: the defaults')
})

t.test(`an echo application on HOST1 and a sender on HOST2: ${N} messages each way, none lost, duplicated or reordered`, async (t) => {
  const app2 = await connect(host2.api)
  const app1 = await connect(host1.api)
  const announced = channelEvent(app2, 'ntb-echo', true)
  const ept1 = await app1.createEndpoint({ name: 'ntb-echo', announce: true })
  const e = echo(ept1)
  const ch = await announced
  t.equal(ch.dst, ept1.addr, 'HOST2 finds HOST1\'s endpoint by name service')
  t.equal(ch.src, RPMSG_ADDR_ANY, 'unbound on HOST2 until claimed (rpmsgBind kernel)')
  const ept2 = await app2.claimChannel('ntb-echo')
  t.equal(await within(ept1.whenBound(), 'the address service binds the echo endpoint'), ept2.addr, 'bound to HOST2\'s channel address once claimed')
  t.equal(ept2.maxPayload, 496, 'a 512-byte buffer carries 496 bytes')
  const problems = await within(exchange(ept2, ch.dst, TAG, N), `${N} round trips`, 240_000)
  t.same(problems, [], `HOST2 got ${N} echoes in order, each once, bytes intact`)
  t.same(inOrder(e.seen, TAG, N), [], `HOST1's application got ${N} messages in order, each once, bytes intact`)
  const s2 = await hostState(host2)
  t.ok(s2.transport!.counters.doorbells! > 0, 'HOST2 was told of used buffers by doorbell')
  ept1.destroy()
})

t.test('HOST1 restarts: HOST2 sees the link go down and up, its device reset, and rpmsg resumes with the new application\'s endpoint', async (t) => {
  const app2 = await connect(host2.api)
  const app1 = await connect(host1.api)
  const up1 = channelEvent(app2, 'ntb-restart', true)
  const ept1 = await app1.createEndpoint({ name: 'ntb-restart', announce: true })
  echo(ept1)
  const ch1 = await up1
  const ept2 = await app2.createEndpoint()
  t.same(await exchange(ept2, ch1.dst, TAG, 10), [], 'rpmsg before the restart')
  const before = (await hostState(host2)).transport!

  const gone = channelEvent(app2, 'ntb-restart', false)
  await host1.stop()
  t.match(await gone, { name: 'ntb-restart', created: false }, 'HOST2\'s application hears the channel destroyed')
  const down = await until('HOST2 sees the NTB link down', async () => {
    const s = await hostState(host2)
    return s.device?.link === false ? s : undefined
  })
  t.match(down, { board: 'board', device: { ready: true }, transport: { device: null } }, 'HOST2 keeps its NTB device; its virtio device is removed')
  t.not(down.transport!.state, 'up', 'the transport waits for the link')
  const during = await boardState(board)
  t.match(during.pairs[0]!.interfaces.find((i) => i.host === 'host1'), { started: false }, 'the board stopped HOST1\'s interface')
  t.match(during.pairs[0]!.interfaces.find((i) => i.host === 'host2'), { started: true, linkStatus: false }, 'HOST2\'s stays, its link down')

  host1 = await startHost('host1', 'vhost', board)
  daemons.push(host1)
  const after = await hostUp(host2)
  t.equal(after.device!.link, true, 'HOST2 sees the NTB link up again')
  t.equal(after.transport!.counters.sessions, before.counters.sessions! + 1, 'a new session: the device was reset and probed again')
  t.equal(after.transport!.device!.driver, 'virtio_rpmsg_bus', 'virtio_rpmsg_bus bound to the new device')
  await hostUp(host1)

  const app1b = await connect(host1.api)
  const up2 = channelEvent(app2, 'ntb-restart', true)
  const ept1b = await app1b.createEndpoint({ name: 'ntb-restart', announce: true })
  const e = echo(ept1b)
  const ch2 = await up2
  t.equal(ch2.dst, ept1b.addr, 'the new HOST1 application\'s endpoint is announced')
  const ept2b = await app2.createEndpoint()
  t.same(await within(exchange(ept2b, ch2.dst, TAG, 500), '500 round trips after the restart'), [], 'rpmsg resumes: 500 echoes in order')
  t.same(inOrder(e.seen, TAG, 500), [], 'and the new application got them all')
})
