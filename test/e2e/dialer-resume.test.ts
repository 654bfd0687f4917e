// A dialer whose peer is gone for good (kill -9, no new process) ends the
// session once the resume window has passed since the connection was lost,
// however often it redials in between (each failed redial closes a socket
// too). The ep dials the rc here, with a backoff far shorter than the
// window: its link goes down, the endpoint function stops, and applications
// see their endpoints detached.

import t from 'tap'
import { RpmsgClient } from '../../client/src/index.js'
import { startDaemon, until, within } from '../support/daemon.js'
import { getJson, nextEvent, startRpmsgEp } from '../support/rpmsg-procs.js'

interface ControllersBody { controllers: Array<{ name: string, started: boolean }> }
interface PeersBody { peers: Array<{ name: string, state: string, lastError: string }> }

t.test('a dialer ends the session of a peer that is gone, whatever it redials', async (t) => {
  const rc = await startDaemon('rc', ['--role', 'rc', '--rpmsg-bind-channel', 'gone'])
  t.teardown(async () => { await rc.stop('SIGKILL') })
  const ep = await startRpmsgEp(rc, ['--resume-window-ms', '1500', '--reconnect-max-ms', '100'])
  t.teardown(async () => { await ep.stop('SIGKILL') })
  const app = await RpmsgClient.connect(ep.api)
  t.teardown(async () => { await app.close() })
  const ept = await app.createEndpoint({ name: 'gone', announce: true })
  await within(ept.whenBound(), 'bound to the rc', 30_000)

  const detached = nextEvent(ept, 'detached', 'the endpoint detached once the resume window passed')
  await rc.stop('SIGKILL')
  await detached
  t.equal(ept.attached, false, 'the application sees its endpoint detached')
  const peer = (await getJson<PeersBody>(ep.api, '/v1/peers')).body.peers.find((p) => p.name === 'rc')
  t.not(peer?.state, 'up', 'the link to the rc is not up')
  t.match(peer?.lastError ?? '', /./, 'and says why')
  await until('the endpoint controller stopped', async () => {
    const r = await getJson<ControllersBody>(ep.api, '/v1/pci-ep')
    return r.body.controllers.find((c) => c.name === 'pcie0')?.started === false
  })
  t.pass('the endpoint function is stopped, as on surprise removal')
})
