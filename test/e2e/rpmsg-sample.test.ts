// The kernel's rpmsg client sample between two real processes:
// `soclinkd --role rc --rpmsg-sample` and `soclinkd --role ep --rpmsg-sample
// --peer ...` need no other set-up. The ep's function runs vhost_rpmsg_bus,
// --rpmsg-sample links rpmsg/channel/rpmsg-client-sample/c1 into
// virtproc/vhost0, and both sides' samples exchange "hello world!" until
// each has received 100. Afterwards nothing more flows: a barrier channel's
// NS and AS cross the same queues, and only they are counted.

import t from 'tap'
import { startDaemon, until, type Daemon } from '../support/daemon.js'

interface SampleBody { channels: Array<{ side: string, device: string, channel: string, src: number, dst: number | null, rx: number, tx: number, done: boolean, failed: number }> }
interface BusesBody { buses: Array<{ side: string, counters: { sent: number, received: number } }> }

async function get<T> (d: Daemon, path: string): Promise<T> {
  const res = await fetch(d.api + path)
  if (res.status !== 200) throw new Error(`${d.name} GET ${path}: ${res.status} ${await res.text()}`)
  return await res.json() as T
}

const msgOf = (line: string): string => {
  try { return (JSON.parse(line) as { msg?: string }).msg ?? '' } catch { return '' }
}

const sentOf = async (d: Daemon): Promise<number> => (await get<BusesBody>(d, '/v1/rpmsg/endpoints')).buses[0]!.counters.sent

t.test('rpmsg-client-sample both ways: 100 messages received on each side, then silence', async (t) => {
  // The barrier channel below has no driver: the configuration binds it (rpmsgBind kernel binds only what is claimed).
  const rc = await startDaemon('rc', ['--role', 'rc', '--rpmsg-sample', '--rpmsg-bind-channel', 'barrier'])
  const ep = await startDaemon('ep', ['--role', 'ep', '--rpmsg-sample', '--peer', rc.link])
  t.teardown(async () => { await ep.stop(); await rc.stop() })

  const done = async (d: Daemon): Promise<SampleBody['channels'][number] | undefined> => {
    const chs = (await get<SampleBody>(d, '/v1/rpmsg/sample')).channels
    return chs.length === 1 && chs[0]!.done ? chs[0] : undefined
  }
  const epView = await until('the ep sample is done', () => done(ep), 30_000)
  const rcView = await until('the rc sample is done', () => done(rc), 30_000)
  t.match(epView, { side: 'vhost', device: 'vhost0', channel: 'rpmsg-client-sample', rx: 100, tx: 100, done: true, failed: 0 })
  t.match(rcView, { side: 'virtio', channel: 'rpmsg-client-sample', rx: 100, tx: 100, done: true, failed: 0 })
  t.equal(epView.dst, rcView.src, 'the ep sends to the rc\'s endpoint')
  t.equal(rcView.dst, epView.src, 'the rc sends to the ep\'s endpoint')

  const cfs = await get<{ groups: unknown[] }>(ep, '/v1/rpmsg/channel')
  t.same(cfs.groups, [{ name: 'rpmsg-client-sample', driver: 'rpmsg_client_sample', items: [{ name: 'c1', link: 'vhost0' }] }], 'the item --rpmsg-sample made and linked')

  const before = { ep: await sentOf(ep), rc: await sentOf(rc) }
  const made = await fetch(ep.api + '/v1/rpmsg/channels', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'barrier' }) })
  t.equal(made.status, 201)
  await until('the barrier channel bound on the ep (NS to the rc, AS back)', async () => {
    const { channels } = await get<{ channels: Array<{ name: string, dst: number | null }> }>(ep, '/v1/rpmsg/channels')
    return channels.find((c) => c.name === 'barrier' && c.dst !== null)
  })
  t.same({ ep: await sentOf(ep), rc: await sentOf(rc) }, { ep: before.ep + 1, rc: before.rc + 1 }, 'only the barrier\'s NS and AS were sent')
  t.match((await get<SampleBody>(ep, '/v1/rpmsg/sample')).channels, [{ rx: 100, tx: 100 }], 'the ep\'s counters stay put')
  t.match((await get<SampleBody>(rc, '/v1/rpmsg/sample')).channels, [{ rx: 100, tx: 100 }], 'the rc\'s counters stay put')

  for (const d of [rc, ep]) {
    // The log reaches this process through a pipe, after the REST reply that said done: wait for its last line.
    await until(`${d.name} logged its goodbye`, () => d.logs.map(msgOf).includes('goodbye!'))
    const msgs = d.logs.map(msgOf)
    t.equal(msgs.filter((m) => m.startsWith('incoming msg ')).length, 100, `${d.name} logged each incoming message`)
    t.ok(msgs.includes('incoming msg 100 (src: 0x' + (d === rc ? epView : rcView).src.toString(16) + ')'), `${d.name}: the 100th, with its sender`)
    t.equal(msgs.filter((m) => m === 'goodbye!').length, 1, `${d.name} said goodbye once`)
  }
})
