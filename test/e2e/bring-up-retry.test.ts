// A bring-up stall is retried: the ep restarts its endpoint function while
// everything the rc sends it is held up (a relay between them holds the
// bytes, as an ep that stopped answering would), so the rc's enumeration
// times out. The rc shows the function failed and retrying, and once the
// ep answers again enumeration, probe and rpmsg come back by themselves.

import t from 'tap'
import { RpmsgClient, type RpmsgEndpoint, type RpmsgMessage } from '../../client/src/index.js'
import { startDaemon, until, within } from '../support/daemon.js'
import { getJson, nextEvent, rpmsgBus } from '../support/rpmsg-procs.js'
import { startHoldRelay } from '../support/hold-relay.js'

interface PciBody { functions: Array<{ peer: string, state: string, lastError: string, retrying: boolean }> }
interface DevicesBody { devices: Array<{ name: string, statusBits: string[] }> }

async function take (ept: RpmsgEndpoint, what: string): Promise<RpmsgMessage> {
  const next = (async () => {
    for await (const m of ept) return m
    throw new Error(`${what}: the endpoint ended`)
  })()
  return await within(next, what, 30_000)
}

t.test('an enumeration that timed out is retried while the link is up, and rpmsg comes back', async (t) => {
  // The held link must not be declared dead meanwhile.
  const patient = ['--dead-after-ms', '600000', '--resume-window-ms', '600000']
  const rc = await startDaemon('rc', ['--role', 'rc', '--rpmsg-bind-channel', 'stall', ...patient])
  t.teardown(async () => { await rc.stop() })
  const relay = await startHoldRelay(Number(new URL(rc.link).port))
  t.teardown(async () => { await relay.close() })
  const ep = await startDaemon('ep', ['--role', 'ep', '--peer', `ws://127.0.0.1:${relay.port}/v1/link`, ...patient])
  t.teardown(async () => { await ep.stop() })
  await rpmsgBus(ep)
  await rpmsgBus(rc)

  const epApp = await RpmsgClient.connect(ep.api)
  t.teardown(async () => { await epApp.close() })
  const epEpt = await epApp.createEndpoint({ name: 'stall', announce: true })
  await within(epEpt.whenBound(), 'bound', 30_000)

  const detached = nextEvent(epEpt, 'detached')
  t.equal((await fetch(`${ep.api}/v1/pci-ep/controllers/pcie0/stop`, { method: 'POST' })).status, 200)
  await detached
  await until('the rc removed the function', async () => (await getJson<PciBody>(rc.api, '/v1/pci')).body.functions.length === 0)

  // The ep's LinkEvent up reaches the rc; nothing the rc sends reaches the ep.
  relay.hold('toTarget')
  relay.hold('toClient')
  t.equal((await fetch(`${ep.api}/v1/pci-ep/controllers/pcie0/start`, { method: 'POST' })).status, 200)
  relay.release('toTarget')
  const failed = await until('the rc shows the enumeration failed and retrying', async () => {
    const f = (await getJson<PciBody>(rc.api, '/v1/pci')).body.functions.find((x) => x.peer === 'ep')
    return f?.state === 'failed' && f.retrying ? f : undefined
  }, 60_000)
  t.match(failed.lastError, /within/, 'the last error says what timed out')

  relay.release('toClient')
  await until('the function enumerated again', async () => {
    const f = (await getJson<PciBody>(rc.api, '/v1/pci')).body.functions.find((x) => x.peer === 'ep')
    return f?.state === 'ready' && !f.retrying
  }, 60_000)
  await until('the device at DRIVER_OK', async () => (await getJson<DevicesBody>(rc.api, '/v1/devices')).body.devices.some((d) => d.statusBits.includes('DRIVER_OK')), 60_000)
  const remote = await within(epEpt.whenBound(), 'bound again', 60_000)
  const rcApp = await RpmsgClient.connect(rc.api)
  t.teardown(async () => { await rcApp.close() })
  const rcEpt = await rcApp.createEndpoint()
  await rcEpt.send(epEpt.addr, Buffer.from('after the stall'))
  const m = await take(epEpt, 'the message after the stall')
  t.same([Buffer.from(m.payload).toString(), m.src], ['after the stall', rcEpt.addr], 'rpmsg traffic is back')
  t.ok(remote >= 1024)
})
