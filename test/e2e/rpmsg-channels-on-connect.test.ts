// An application that connects to the rpmsg gateway after a channel was
// made hears it as it would have heard it appear: one ChannelEvent
// (created) per channel on the bus, first thing on its connection, as
// 'channel' events of the client library and in client.channels. Real rc
// and ep daemon processes; the channel is announced by an ep application
// before the others connect.

import t from 'tap'
import { RpmsgClient, RPMSG_ADDR_ANY, type RpmsgChannelEvent } from '../../client/src/index.js'
import { until, within } from '../support/daemon.js'
import { startRpmsgBuses } from '../support/rpmsg-daemons.js'
import { channelEvent } from '../support/rpmsg-procs.js'

const pair = await startRpmsgBuses()
const clients: RpmsgClient[] = []
t.teardown(async () => {
  for (const c of clients) await c.close()
  await pair.stop()
})

/** Connects and collects every 'channel' event from the moment connect() resolves. */
async function connect (api: string): Promise<{ client: RpmsgClient, events: RpmsgChannelEvent[] }> {
  const client = await RpmsgClient.connect(api)
  clients.push(client)
  const events: RpmsgChannelEvent[] = []
  client.on('channel', (ev: RpmsgChannelEvent) => { events.push(ev) })
  return { client, events }
}

t.test('channels made before an application connects come to it as channel events', async (t) => {
  const watcher = await connect(pair.rc.api)
  const epApp = await connect(pair.ep.api)
  const announced = channelEvent(watcher.client, 'made-before', true)
  const ept = await epApp.client.createEndpoint({ name: 'made-before', announce: true })
  const seen = await announced
  t.equal(seen.dst, ept.addr, 'the rc has the channel (NS CREATE)')

  const late = await connect(pair.rc.api)
  const got = await until('the rc channel as an event on the late connection', () => late.events.find((e) => e.name === 'made-before'))
  t.same(got, { name: 'made-before', src: RPMSG_ADDR_ANY, dst: ept.addr, created: true }, 'the same event an application connected at the time heard')
  t.same(late.client.channels.get('made-before'), got, 'and in client.channels')
  t.equal(late.events.filter((e) => e.name === 'made-before').length, 1, 'once')

  const lateEp = await connect(pair.ep.api)
  const own = await until('the ep channel as an event on a late ep connection', () => lateEp.events.find((e) => e.name === 'made-before'))
  t.match(own, { name: 'made-before', src: ept.addr, created: true }, 'the vhost side tells its late applications too')

  const claimed = await late.client.claimChannel('made-before', { dst: ept.addr })
  t.equal(await within(ept.whenBound(), 'bound'), claimed.addr, 'a late application claims the channel it learnt of, with no REST call')
})
