// The PCIe topology as two real processes: `soclinkd --role rc` and
// `soclinkd --role ep --peer ...` bring the test device to DRIVER_OK with no
// other set-up, and the test device pair moves 100,000 buffers of mixed
// sizes each way with contents checked, on split and on packed rings.

import t from 'tap'
import { startDaemon, until } from '../support/daemon.js'
import { ControlClient } from '../../client/src/index.js'
import { scaled } from '../support/time.js'

const BUFFERS = 100_000

for (const ring of ['split', 'packed'] as const) {
  t.test(`rc and ep processes, ${ring} rings: DRIVER_OK, then ${BUFFERS} buffers each way`, async (t) => {
    const rc = await startDaemon('rc', ['--role', 'rc', '--ring', ring])
    const ep = await startDaemon('ep', ['--role', 'ep', '--vhost-driver', 'soclink-test', '--peer', rc.link])
    t.teardown(async () => { await ep.stop(); await rc.stop() })
    const rcApi = new ControlClient(rc.api)
    const epApi = new ControlClient(ep.api)

    const dev = await until('DRIVER_OK', async () => (await rcApi.devices()).find((d) => d.statusBits.includes('DRIVER_OK')), 20_000)
    t.match(dev, { side: 'virtio', transport: 'virtio-pci-epf', peer: 'ep', deviceId: 0xffe0 })
    t.ok(dev.statusBits.includes('FEATURES_OK'), 'features were accepted')

    const result = await rcApi.runTestDevice(dev.name, { tx: BUFFERS, rx: BUFFERS, timeoutMs: scaled(240_000) })
    t.equal(result.errors, 0, 'no buffer failed its check')
    t.equal(result.sent, BUFFERS, 'every buffer sent')
    t.equal(result.received, BUFFERS, 'every buffer received')
    t.equal(result.verified, BUFFERS, 'every buffer the rc received checked')
    const [vhost] = await epApi.devices()
    t.match(vhost?.test, { received: BUFFERS, verified: BUFFERS, errors: 0 }, 'every buffer the ep received checked')

    const rcQueues = await rcApi.virtqueues()
    const epQueues = await epApi.virtqueues()
    t.equal(rcQueues.length, 2)
    t.equal(epQueues.length, 2)
    for (const q of rcQueues) {
      t.equal(q.layout, ring)
      const twin = epQueues.find((e) => e.index === q.index)!
      t.equal(twin.desc, q.desc, `queue ${q.index}: both sides see the ring at the same address`)
    }
    t.equal((await epApi.health()).status, 'ok')
  })
}
