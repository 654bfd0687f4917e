// kill -9 of the rc: the ep's session with it does not end with a Goodbye,
// so the ep learns of the restart only when the new rc process links (a new
// incarnation): link down and link up in the same turn. The ep's endpoint
// function must stop and start again in that order by itself, and rpmsg
// traffic come back with no manual controller stop/start.

import t from 'tap'
import { RpmsgClient, type RpmsgEndpoint, type RpmsgMessage } from '../../client/src/index.js'
import { startDaemon, until, within, type Daemon } from '../support/daemon.js'
import { getJson, nextEvent, rpmsgBus, startRpmsgEp } from '../support/rpmsg-procs.js'

async function take (ept: RpmsgEndpoint, what: string): Promise<RpmsgMessage> {
  const next = (async () => {
    for await (const m of ept) return m
    throw new Error(`${what}: the endpoint ended`)
  })()
  return await within(next, what, 30_000)
}

interface ControllersBody { controllers: Array<{ name: string, started: boolean, lastError: string }> }

t.test('kill -9 of the rc: a new rc process brings rpmsg back with the ep untouched', async (t) => {
  const daemons: Daemon[] = []
  const clients: RpmsgClient[] = []
  t.teardown(async () => {
    for (const c of clients) await c.close()
    for (const d of daemons.reverse()) await d.stop('SIGKILL')
  })
  const ep = await startRpmsgEp(null)
  daemons.push(ep)
  const rc1 = await startDaemon('rc', ['--role', 'rc', '--peer', ep.link, '--rpmsg-bind-channel', 'kill9'])
  daemons.push(rc1)
  await rpmsgBus(ep)
  await rpmsgBus(rc1)

  const epApp = await RpmsgClient.connect(ep.api)
  clients.push(epApp)
  const epEpt = await epApp.createEndpoint({ name: 'kill9', announce: true })
  await within(epEpt.whenBound(), 'bound to the first rc', 30_000)
  const rcApp1 = await RpmsgClient.connect(rc1.api)
  clients.push(rcApp1)
  const rcEpt1 = await rcApp1.createEndpoint()
  await rcEpt1.send(epEpt.addr, Buffer.from('one'))
  t.equal(Buffer.from((await take(epEpt, 'from the first rc')).payload).toString(), 'one')

  await rc1.stop('SIGKILL')
  const detached = nextEvent(epEpt, 'detached')
  const attached = nextEvent(epEpt, 'attached')
  const rc2 = await startDaemon('rc', ['--role', 'rc', '--peer', ep.link, '--rpmsg-bind-channel', 'kill9'])
  daemons.push(rc2)
  await detached
  await attached
  const remote = await within(epEpt.whenBound(), 'bound to the new rc', 30_000)
  t.ok(remote >= 1024, 'the ep application\'s endpoint is announced to the new rc and bound')
  const ctrl = (await getJson<ControllersBody>(ep.api, '/v1/pci-ep')).body
  t.match(ctrl.controllers.find((c) => c.name === 'pcie0'), { started: true, lastError: '' }, 'the controller started again, without an error')

  await rpmsgBus(rc2)
  const rcApp2 = await RpmsgClient.connect(rc2.api)
  clients.push(rcApp2)
  const rcEpt2 = await rcApp2.createEndpoint()
  await rcEpt2.send(epEpt.addr, Buffer.from('two'))
  const m = await take(epEpt, 'from the new rc')
  t.same([Buffer.from(m.payload).toString(), m.src], ['two', rcEpt2.addr], 'traffic from the new rc')
  await epEpt.send(m.src, Buffer.from('back'))
  t.equal(Buffer.from((await take(rcEpt2, 'the answer')).payload).toString(), 'back', 'and back to it')
  await until('the link to the new rc is up', async () => {
    const r = await getJson<{ peers: Array<{ name: string, state: string }> }>(ep.api, '/v1/peers')
    return r.body.peers.find((p) => p.name === 'rc')?.state === 'up'
  })
})
