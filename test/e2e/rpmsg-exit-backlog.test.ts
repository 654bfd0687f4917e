// An application that exits while its sends wait for buffers: the gateway
// destroys its announced endpoint, whose waiting sends are cancelled, and
// the vhost side tells the rc with NS DESTROY. That message must go out
// even though it leaves from the channel's own address: otherwise the rc
// keeps the channel for good and the name can never be announced again.
// The rc is stopped (SIGSTOP) so that the ep's sends pile up, and resumed
// once the application is gone.

import t from 'tap'
import { RpmsgClient } from '../../client/src/index.js'
import { startDaemon, until, within, type Daemon } from '../support/daemon.js'
import { getJson, startRpmsgEp, type ConnectionsBody } from '../support/rpmsg-procs.js'

interface ChannelsBody { channels: Array<{ name: string, src: number, dst: number | null }> }

async function channel (d: Daemon, name: string): Promise<{ name: string, src: number, dst: number | null } | undefined> {
  const r = await getJson<ChannelsBody>(d.api, '/v1/rpmsg/channels')
  return r.body.channels.find((c) => c.name === name)
}

t.test('an application that exits with a send backlog: the rc is told its channel is gone, and the name comes back', async (t) => {
  // No side may declare the other dead while the rc is stopped.
  const slow = ['--dead-after-ms', '600000', '--resume-window-ms', '600000']
  const rc = await startDaemon('rc', ['--role', 'rc', '--rpmsg-bind-channel', 'backlog', ...slow])
  t.teardown(async () => { rc.proc.kill('SIGCONT'); await rc.stop() })
  const ep = await startRpmsgEp(rc, slow)
  t.teardown(async () => { await ep.stop() })

  const app1 = await RpmsgClient.connect(ep.api)
  const ept1 = await app1.createEndpoint({ name: 'backlog', announce: true })
  const remote = await within(ept1.whenBound(), 'bound', 30_000)
  await until('the rc has the channel', async () => (await channel(rc, 'backlog'))?.dst === ept1.addr)

  rc.proc.kill('SIGSTOP')
  for (let i = 0; i < 600; i++) ept1.post(remote, Buffer.from(`m${i}`), { timeoutMs: 600_000 })
  await until('sends wait for buffers on the ep', async () => {
    const r = await getJson<ConnectionsBody & { connections: Array<{ waiting: number }> }>(ep.api, '/v1/rpmsg/connections')
    return (r.body.connections[0]?.waiting ?? 0) > 0
  }, 30_000)
  await app1.close()
  await until('the gateway destroyed the endpoint', async () => {
    const r = await getJson<ConnectionsBody>(ep.api, '/v1/rpmsg/connections')
    return r.body.connections.length === 0 && (await channel(ep, 'backlog')) === undefined
  }, 30_000)
  rc.proc.kill('SIGCONT')

  await until('the rc drops the channel (NS DESTROY)', async () => (await channel(rc, 'backlog')) === undefined, 30_000)
  t.pass('the rc was told')

  const app2 = await RpmsgClient.connect(ep.api)
  t.teardown(async () => { await app2.close() })
  const ept2 = await app2.createEndpoint({ name: 'backlog', announce: true })
  await within(ept2.whenBound(), 'the name announced again and bound', 30_000)
  const again = await until('the rc has the channel again', async () => await channel(rc, 'backlog'), 30_000)
  t.equal(again.dst, ept2.addr, 'the same name, the new application\'s endpoint')
})
