// Loss beyond the resume window is reported, never silent (issue 11, item
// 10), with two real daemons whose link runs through a relay that becomes a
// black hole: writes answered 200 through a window and rpmsg messages
// answered Sent while the link is partitioned never reach the rc; once the
// rc's resume window is over its session ends, and when the link comes back
// the ep's session cannot resume. Then the ep counts them (peer counters
// lostFrames, lostWrites), says so on its event stream (type 'lost'), and
// tells the gateway application (Error ERR_RPMSG_LOST naming the endpoint).

import t from 'tap'
import WebSocket from 'ws'
import { startDaemon, until, within } from '../support/daemon.js'
import { getJson, rpmsgBus } from '../support/rpmsg-procs.js'
import { startBlackholeRelay } from '../support/blackhole-relay.js'
import { scaled } from '../support/time.js'
import { RpmsgClient, type ApiError } from '../../client/src/index.js'

interface PeerRow { state: string, counters: Record<string, number> }
interface WindowRow { id: number, state: string }
interface LostEvent { type: 'lost', peer: string, frames: number, writes: number, writeBytes: number }

// Scaled: on a loaded machine a stall before the partition must not end the session the partition is to end.
const TIMERS = ['--heartbeat-ms', String(scaled(100)), '--dead-after-ms', String(scaled(800)), '--resume-window-ms', String(scaled(800)), '--reconnect-max-ms', '300']
const WRITES = 3
const MESSAGES = 10

t.test('a partition longer than dead-after plus the resume window: every write and send not acknowledged is reported lost', async (t) => {
  const rc = await startDaemon('rc', ['--role', 'rc', '--region', 'scratch:1M', ...TIMERS])
  t.teardown(async () => { await rc.stop() })
  const relay = await startBlackholeRelay(Number(new URL(rc.link).port))
  t.teardown(async () => { await relay.close() })
  const ep = await startDaemon('ep', ['--role', 'ep', '--peer', `ws://127.0.0.1:${relay.port}/v1/link`, ...TIMERS])
  t.teardown(async () => { await ep.stop() })
  await rpmsgBus(ep)
  await rpmsgBus(rc)

  const res = await fetch(`${ep.api}/v1/windows`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ peer: 'rc', region: 'scratch', offset: 0, size: 1024 * 1024, replica: true })
  })
  const { id } = await res.json() as WindowRow
  await until('the window to open', async () => (await getJson<WindowRow>(ep.api, `/v1/windows/${id}`)).body.state === 'open', 20_000)

  const app = await RpmsgClient.connect(ep.api)
  t.teardown(() => { app.close() })
  const ept = await app.createEndpoint({ name: 'partition-loss' })
  const gatewayErrors: ApiError[] = []
  app.on('gateway-error', (err: ApiError) => { gatewayErrors.push(err) })

  const events = new WebSocket(`${ep.api.replace(/^http/, 'ws')}/v1/events`)
  t.teardown(() => { events.close() })
  await within(new Promise((resolve, reject) => { events.once('open', resolve); events.once('error', reject) }), 'the event stream')
  const lost: LostEvent[] = []
  events.on('message', (data: Buffer) => {
    const e = JSON.parse(data.toString()) as { type: string }
    if (e.type === 'lost') lost.push(e as LostEvent)
  })

  relay.blackhole(true)
  for (let i = 0; i < WRITES; i++) {
    const r = await fetch(`${ep.api}/v1/windows/${id}/memory?offset=${i * 4096}`, { method: 'PUT', body: Buffer.alloc(4096, i + 1), headers: { 'content-type': 'application/octet-stream' } })
    t.equal(r.status, 200, `write ${i} answered 200 during the partition`)
  }
  for (let i = 0; i < MESSAGES; i++) await ept.trySend(0x400 + 7, Buffer.from(`lost ${i}`))

  // The rc gives the session up once its resume window is over (signal: its peers API).
  await until('the rc to end its session', async () => (await getJson<PeerRow>(rc.api, '/v1/peers/ep')).body.state === 'down', 30_000)
  relay.blackhole(false)
  await until('the ep to count its loss', async () => (await getJson<PeerRow>(ep.api, '/v1/peers/rc')).body.counters.lostWrites > 0, 30_000)

  const peer = (await getJson<PeerRow>(ep.api, '/v1/peers/rc')).body
  t.equal(peer.counters.lostWrites, WRITES, 'every write answered 200 during the partition is counted lost')
  t.ok(peer.counters.lostFrames >= WRITES, 'with the frames that carried them')
  await until('the lost event', () => lost.length > 0, 10_000)
  t.match(lost[0], { type: 'lost', peer: 'rc', writes: WRITES, writeBytes: WRITES * 4096 }, 'the event stream says so')
  const told = await until('the application to be told', () => gatewayErrors.find((e) => e.code === 'ERR_RPMSG_LOST'), 10_000)
  t.match(told.message, new RegExp(`rpmsg endpoint ${ept.addr}: ${MESSAGES} message\\(s\\) answered Sent were never acknowledged`), 'the application hears how many of its messages are lost')
  const conns = (await getJson<{ connections: Array<{ endpoints: Array<{ addr: number, lost: number }> }> }>(ep.api, '/v1/rpmsg/connections')).body
  t.equal(conns.connections.flatMap((c) => c.endpoints).find((e) => e.addr === ept.addr)?.lost, MESSAGES, 'and its endpoint counts them')
})
