// GET /metrics on real daemons of every role: an rc and an ep (PCIe), and
// the NTB topology's board and two hosts. Traffic goes through each (rpmsg
// messages between applications, a doorbell, a window write, scratchpad
// writes) and the metrics move by what that traffic implies; every scrape
// passes `promtool check metrics` (format and lint) after it.

import t, { type Test } from 'tap'
import { ControlClient, RpmsgClient, type RpmsgEndpoint } from '../../client/src/index.js'
import { until, within, type Daemon } from '../support/daemon.js'
import { startRpmsgPair } from '../support/rpmsg-daemons.js'
import { channelEvent } from '../support/rpmsg-procs.js'
import { echo, exchange, hostUp, startNtbTopology } from '../support/ntb-daemons.js'
import { hasSeries, metric, promtoolCheckMetrics, scrape, type Sample } from '../support/prom-text.js'

const N = 200

const daemons: Daemon[] = []
const clients: RpmsgClient[] = []
t.teardown(async () => {
  for (const c of clients) await c.close()
  for (const d of [...daemons].reverse()) await d.stop()
})

async function connect (api: string): Promise<RpmsgClient> {
  const c = await RpmsgClient.connect(api)
  clients.push(c)
  return c
}

async function samples (d: Daemon): Promise<Sample[]> {
  const s = await scrape(d.api)
  if (s.status !== 200) throw new Error(`${d.name}: GET /metrics answered ${s.status}: ${s.text}`)
  return s.samples
}

/** Polls `d`'s metrics until the sum of `name`'s series with `labels` is `value`; the samples then (on failure: the series it saw). */
async function metricsUntil (d: Daemon, what: string, name: string, labels: Record<string, string | number>, value: number): Promise<Sample[]> {
  let last: Sample[] = []
  return await until(`${d.name}: ${what}`, async () => {
    last = await samples(d)
    return metric(last, name, labels) === value ? last : undefined
  }, 10_000, () => `${name} now: ${JSON.stringify(last.filter((s) => s.name === name))}`)
}

/**
 * An announced echo endpoint on the vhost side's daemon and a sender on the
 * virtio side's, found by name service; then `count` tagged messages and
 * their echoes. The two endpoints' addresses.
 */
async function rpmsgTraffic (virtio: Daemon, vhost: Daemon, name: string, count: number): Promise<{ sender: RpmsgEndpoint, echoer: RpmsgEndpoint, problems: string[] }> {
  const virtioApp = await connect(virtio.api)
  const vhostApp = await connect(vhost.api)
  const announced = channelEvent(virtioApp, name, true)
  const echoer = await vhostApp.createEndpoint({ name, announce: true })
  echo(echoer)
  const sender = await virtioApp.createEndpoint({ name: `${name}-sender` })
  const dst = (await announced).dst
  const problems = await within(exchange(sender, dst, 0x6d6574, count), `${count} messages and echoes`, 60_000)
  return { sender, echoer, problems }
}

/** The sum of a bus counter over the daemon's buses. */
const bus = (s: Sample[], name: string): number => metric(s, name)

async function checkFormat (t: Test, d: Daemon): Promise<void> {
  const s = await scrape(d.api)
  t.equal(s.status, 200, `${d.name}: GET /metrics answers 200`)
  t.match(s.contentType, /^text\/plain; version=0\.0\.4/, `${d.name}: in the text exposition format`)
  const check = await promtoolCheckMetrics(s.text)
  t.same({ code: check.code, out: check.stdout + check.stderr }, { code: 0, out: '' }, `${d.name}: promtool check metrics passes with no lint complaint`)
}

t.test('PCIe: rc and ep', async (t) => {
  const pair = await startRpmsgPair()
  const { rc, ep } = pair
  daemons.push(rc, ep)
  const rcApi = new ControlClient(rc.api)
  const epApi = new ControlClient(ep.api)

  const first = await metricsUntil(rc, 'peer ep up', 'soclink_peer_up', { peer: 'ep' }, 1)
  t.equal(metric(first, 'soclink_info', { name: 'rc', role: 'rc' }), 1, 'soclink_info names the daemon and its role')
  t.equal(metric(first, 'soclink_peer_state', { peer: 'ep', state: 'up' }), 1, 'the peer\'s state is up')
  t.equal(metric(first, 'soclink_peer_info', { peer: 'ep', role: 'ep' }), 1, 'the peer\'s role')
  const driverOk = await metricsUntil(rc, 'the virtio device at DRIVER_OK', 'soclink_device_status', { device: 'virtio0', side: 'virtio' }, 15)
  t.equal(metric(driverOk, 'soclink_virtqueue_ready', { device: 'virtio0' }), 2, 'both its virtqueues are ready')
  const epFirst = await samples(ep)

  const { sender, echoer, problems } = await rpmsgTraffic(rc, ep, 'metrics', N)
  t.same(problems, [], `${N} messages and echoes between an rc and an ep application`)
  const rcAfter = await metricsUntil(rc, `the gateway endpoint received ${N}`, 'soclink_rpmsg_gateway_endpoint_received_total', { addr: sender.addr }, N)
  const epAfter = await metricsUntil(ep, `the echo application sent ${N}`, 'soclink_rpmsg_gateway_endpoint_sent_total', { addr: echoer.addr }, N)
  t.equal(metric(rcAfter, 'soclink_rpmsg_gateway_endpoint_sent_total', { addr: sender.addr }), N, 'rc: the application\'s endpoint sent N through the gateway')
  t.equal(metric(rcAfter, 'soclink_rpmsg_endpoint_sent_total', { addr: sender.addr, owner: 'gateway' }), N, 'rc: the bus counts N sent from its address')
  t.equal(metric(rcAfter, 'soclink_rpmsg_endpoint_received_total', { addr: sender.addr }), N, 'rc: and N received')
  t.equal(metric(epAfter, 'soclink_rpmsg_endpoint_received_total', { addr: echoer.addr, channel: 'metrics' }), N, 'ep: the echo endpoint received N')
  t.equal(metric(epAfter, 'soclink_rpmsg_endpoint_sent_total', { addr: echoer.addr, owner: 'gateway' }), N + 1, 'ep: and sent N echoes and the name service announcement (NS CREATE goes from the channel\'s address)')
  for (const [d, before, after] of [[rc, first, rcAfter], [ep, epFirst, epAfter]] as const) {
    const sent = bus(after, 'soclink_rpmsg_messages_sent_total') - bus(before, 'soclink_rpmsg_messages_sent_total')
    t.ok(sent >= N, `${d.name}: the bus sent N messages more (${sent})`)
    t.ok(bus(after, 'soclink_rpmsg_messages_received_total') - bus(before, 'soclink_rpmsg_messages_received_total') >= N, `${d.name}: and received N more`)
    t.equal(metric(after, 'soclink_rpmsg_send_latency_seconds_count'), bus(after, 'soclink_rpmsg_messages_sent_total'), `${d.name}: every message sent has its send latency`)
    t.ok(metric(after, 'soclink_virtqueue_buffers_total') - metric(before, 'soclink_virtqueue_buffers_total') >= N, `${d.name}: the virtqueues completed at least N buffers more`)
    t.ok(metric(after, 'soclink_virtqueue_kicks_total') > metric(before, 'soclink_virtqueue_kicks_total'), `${d.name}: and were kicked`)
    t.ok(metric(after, 'soclink_virtqueue_interrupts_total') > metric(before, 'soclink_virtqueue_interrupts_total'), `${d.name}: and raised or took interrupts`)
  }
  t.ok(metric(rcAfter, 'soclink_peer_frames_total', { peer: 'ep', direction: 'out' }) > metric(first, 'soclink_peer_frames_total', { peer: 'ep', direction: 'out' }), 'rc: frames to ep went up')
  t.ok(metric(rcAfter, 'soclink_peer_bytes_total', { peer: 'ep', direction: 'in' }) > metric(first, 'soclink_peer_bytes_total', { peer: 'ep', direction: 'in' }), 'rc: bytes from ep went up')
  t.ok(metric(rcAfter, 'soclink_doorbell_rings_total', { target: 'pcie.msi' }) > 0, 'rc: its MSI doorbell rang (the ep\'s interrupts)')
  t.equal(metric(rcAfter, 'soclink_doorbell_latency_seconds_count', { target: 'pcie.msi' }), metric(rcAfter, 'soclink_doorbell_rings_total', { target: 'pcie.msi' }), 'rc: each MSI has its latency')
  t.equal(metric(rcAfter, 'soclink_rpmsg_gateway_connections'), 1, 'rc: one application connected')

  await epApi.declareDoorbell('metrics.bell')
  await rcApi.ring('ep', 'metrics.bell', 7)
  const rung = await metricsUntil(ep, 'the doorbell counted', 'soclink_doorbell_rings_total', { target: 'metrics.bell' }, 1)
  t.equal(metric(rung, 'soclink_doorbell_latency_seconds_count', { target: 'metrics.bell' }), 1, 'ep: one ring of metrics.bell, with its latency')
  t.equal(metric(rung, 'soclink_doorbell_latency_seconds_bucket', { target: 'metrics.bell', le: '+Inf' }), 1, 'in the +Inf bucket too')

  await epApi.createRegion('metrics-mem', 4096)
  const w = await rcApi.openWindow({ peer: 'ep', region: 'metrics-mem', size: 4096 })
  await until('the window opens', async () => (await rcApi.window(w.id)).state === 'open' ? true : undefined)
  await rcApi.writeWindow(w.id, 0, Buffer.alloc(100, 0x5a))
  const wrote = await metricsUntil(ep, 'the region written', 'soclink_region_writes_total', { region: 'metrics-mem' }, 1)
  t.equal(metric(wrote, 'soclink_region_written_bytes_total', { region: 'metrics-mem' }), 100, 'ep: 100 bytes written into the region')
  t.equal(metric(wrote, 'soclink_region_size_bytes', { region: 'metrics-mem' }), 4096)
  const rcWin = await samples(rc)
  const win = { window: w.id, peer: 'ep', region: 'metrics-mem' }
  t.equal(metric(rcWin, 'soclink_window_writes_total', win), 1, 'rc: one write through the window')
  t.equal(metric(rcWin, 'soclink_window_written_bytes_total', win), 100, 'rc: of 100 bytes')
  t.equal(metric(rcWin, 'soclink_window_open', win), 1, 'rc: the window is open')

  await checkFormat(t, rc)
  await checkFormat(t, ep)
})

t.test('NTB: the board and both hosts', async (t) => {
  const { board, host1, host2 } = await startNtbTopology(daemons)
  await hostUp(host1)
  await hostUp(host2)
  const before = { board: await samples(board), host1: await samples(host1), host2: await samples(host2) }
  for (const [name, s] of [['host1', before.host1], ['host2', before.host2]] as const) {
    t.equal(metric(s, 'soclink_ntb_link_up'), 1, `${name}: its NTB link is up`)
    t.ok(metric(s, 'soclink_ntb_spad_writes_total') + metric(s, 'soclink_ntb_peer_spad_writes_total') > 0, `${name}: the transport wrote scratchpads to come up`)
  }
  t.equal(metric(before.board, 'soclink_ntb_function_link_up'), 2, 'board: both interfaces\' links are up')

  const { sender, echoer, problems } = await rpmsgTraffic(host2, host1, 'ntb-metrics', N)
  t.same(problems, [], `${N} messages and echoes between host2 and host1 applications`)
  const h2 = await metricsUntil(host2, `the gateway endpoint received ${N}`, 'soclink_rpmsg_gateway_endpoint_received_total', { addr: sender.addr }, N)
  const h1 = await metricsUntil(host1, `the echo application sent ${N}`, 'soclink_rpmsg_gateway_endpoint_sent_total', { addr: echoer.addr }, N)
  t.equal(metric(h2, 'soclink_rpmsg_gateway_endpoint_sent_total', { addr: sender.addr }), N, 'host2: the application\'s endpoint sent N')
  t.equal(metric(h1, 'soclink_rpmsg_endpoint_received_total', { addr: echoer.addr }), N, 'host1: the echo endpoint received N')
  t.equal(metric(h1, 'soclink_rpmsg_endpoint_sent_total', { addr: echoer.addr }), N + 1, 'host1: and sent N echoes and NS CREATE')
  for (const [name, b, a] of [['host1', before.host1, h1], ['host2', before.host2, h2]] as const) {
    t.ok(metric(a, 'soclink_ntb_doorbell_events_total') > metric(b, 'soclink_ntb_doorbell_events_total'), `${name}: took doorbells from the other host`)
    t.ok(metric(a, 'soclink_ntb_peer_doorbell_rings_total') > metric(b, 'soclink_ntb_peer_doorbell_rings_total'), `${name}: rang the other host's`)
    t.ok(metric(a, 'soclink_ntb_transport_doorbells_total') > metric(b, 'soclink_ntb_transport_doorbells_total'), `${name}: its transport handled them`)
    t.ok(metric(a, 'soclink_virtqueue_buffers_total') - metric(b, 'soclink_virtqueue_buffers_total') >= N, `${name}: its virtqueues completed N buffers more`)
    t.ok(hasSeries(a, 'soclink_rpmsg_send_latency_seconds_bucket', { le: '0' }), `${name}: the send latency histogram has a no-wait bucket`)
  }
  const boardAfter = await samples(board)
  t.ok(metric(boardAfter, 'soclink_ntb_function_doorbell_writes_total') > metric(before.board, 'soclink_ntb_function_doorbell_writes_total'), 'board: the hosts wrote doorbell slots')
  t.ok(metric(boardAfter, 'soclink_ntb_function_msis_total') > metric(before.board, 'soclink_ntb_function_msis_total'), 'board: and it raised MSIs')

  const spads = { own: metric(h1, 'soclink_ntb_spad_writes_total'), peer: metric(h2, 'soclink_ntb_peer_spad_writes_total') }
  await new ControlClient(host1.api).ntbSpadWrite(40, 0xdeadbeef)
  await new ControlClient(host2.api).ntbSpadWrite(41, 0x1234, { peer: true })
  t.equal(metric(await samples(host1), 'soclink_ntb_spad_writes_total'), spads.own + 1, 'host1: spad_write 40 counted once')
  t.equal(metric(await samples(host2), 'soclink_ntb_peer_spad_writes_total'), spads.peer + 1, 'host2: peer_spad_write 41 counted once')

  await checkFormat(t, board)
  await checkFormat(t, host1)
  await checkFormat(t, host2)
})
