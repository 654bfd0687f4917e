// A virtio probe that times out is retried: rc and ep in one process, linked
// through a relay that holds everything the rc sends the ep from the moment
// the rc has enumerated the function (so the probe's commands get no answer
// and time out), until the rc shows the device failed and retrying. Then the
// ep answers again, and the next probe brings rpmsg back by itself.

import t from 'tap'
import { startNode, rpmsgReady } from '../support/nodes.js'
import { until } from '../support/daemon.js'
import { startHoldRelay } from '../support/hold-relay.js'
import { VIRTIO_CONFIG_S_DRIVER_OK } from '../../daemon/src/uapi/virtio-config.js'

t.test('a probe whose commands time out is tried again, with backoff, while the function is there', async (t) => {
  const patient = ['--dead-after-ms', '600000', '--resume-window-ms', '600000']
  const rc = await startNode('rc', ['--role', 'rc', ...patient])
  t.teardown(async () => { await rc.stop('test') })
  const relay = await startHoldRelay(rc.listenAddress!.port)
  t.teardown(async () => { await relay.close() })
  const ep = await startNode('ep', ['--role', 'ep', '--peer', `ws://127.0.0.1:${relay.port}/v1/link`, ...patient])
  t.teardown(async () => { await ep.stop('test') })
  await rpmsgReady(rc, ep)
  const role = rc.pcieRc!

  await ep.pcieEp!.functions.stop('pcie0')
  await until('the rc removed the device', () => role.transports.size === 0)
  // Registered after the role's own listener: the probe has begun when this runs, and its first command is not sent before the turn ends.
  role.rc.once('enumerated', () => { relay.hold('toClient') })
  await ep.pcieEp!.functions.start('pcie0')
  const dev = await until('the probe failed and is retried', () => {
    const d = role.transports.get('ep')?.device
    return d?.retrying === true ? d : undefined
  }, 60_000)
  t.equal(dev.lastError?.code, 'ERR_TIMEOUT', 'it failed on a timeout')
  t.equal(dev.driver, undefined, 'no driver bound meanwhile')

  relay.release('toClient')
  const { virtioBus } = await rpmsgReady(rc, ep, 60_000)
  t.ok((dev.status & VIRTIO_CONFIG_S_DRIVER_OK) !== 0, 'the same device reaches DRIVER_OK')
  t.equal(dev.retrying, false, 'and is no longer retrying')
  t.equal(virtioBus.dev, dev)
})
