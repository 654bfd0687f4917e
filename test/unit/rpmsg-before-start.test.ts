// The virtio-side rpmsg bus is attached to its users (the rpmsg gateway,
// the driver table) before its probe has the queues and sets DRIVER_OK, so
// a send may come while the device is slow to answer (the ep stopped across
// the link). Such a send waits and goes at DRIVER_OK, or fails with an
// rpmsg code: ERR_RPMSG_TIMEOUT when its time is up, ERR_RPMSG_DETACHED
// when the probe fails. It never throws a TypeError from a queue that is not
// there yet, and one that failed is never delivered later.

import t from 'tap'
import { VirtioBus } from '../../daemon/src/virtio/bus.js'
import { VhostBus } from '../../daemon/src/vhost/bus.js'
import { TimeoutError } from '../../daemon/src/errors.js'
import { VIRTIO_CONFIG_S_DRIVER_OK } from '../../daemon/src/uapi/virtio-config.js'
import { VirtioRpmsgDriver } from '../../daemon/src/rpmsg/virtio-rpmsg.js'
import { VhostRpmsgDriver } from '../../daemon/src/rpmsg/vhost-rpmsg.js'
import { RpmsgDriverTable } from '../../daemon/src/rpmsg/driver.js'
import type { RpmsgBusCore } from '../../daemon/src/rpmsg/core.js'
import { RpmsgLoop } from '../support/rpmsg-pair.js'
import { until } from '../support/daemon.js'

const DST = 1100

async function setup (): Promise<{ loop: RpmsgLoop, virtioBus: VirtioBus, table: RpmsgDriverTable, got: string[] }> {
  const loop = new RpmsgLoop()
  const vhostBus = new VhostBus()
  const vhostDriver = new VhostRpmsgDriver()
  await vhostBus.registerDriver(vhostDriver)
  await vhostBus.registerDevice(loop.vhost)
  const got: string[] = []
  vhostDriver.bus(loop.vhost).createEndpoint(DST, (p) => { got.push(Buffer.from(p).toString()) })
  const table = new RpmsgDriverTable()
  const virtioBus = new VirtioBus()
  await virtioBus.registerDriver(new VirtioRpmsgDriver({ drivers: table }))
  return { loop, virtioBus, table, got }
}

/** The send's outcome: 'sent' or its error code. */
async function outcome (p: Promise<void>): Promise<string> {
  return await p.then(() => 'sent', (err: unknown) => (err as { code?: string }).code ?? `no code: ${String(err)}`)
}

t.test('a send before DRIVER_OK waits for it; one whose time runs out fails with ERR_RPMSG_TIMEOUT and is never delivered', async (t) => {
  const { loop, virtioBus, table, got } = await setup()
  const sends: Array<Promise<string>> = []
  table.once('attached', (bus: RpmsgBusCore) => {
    loop.stall()
    sends.push(outcome(bus.send(1024, DST, Buffer.from('timed out'), { timeoutMs: 20 })))
    sends.push(outcome(bus.send(1024, DST, Buffer.from('waited'), { timeoutMs: 60_000 })))
    t.equal(bus.waiting, 2, 'both wait: there is no queue yet')
  })
  const probed = virtioBus.addDevice(loop.virtio)
  await until('the bus attached', () => sends.length === 2)
  t.equal(await sends[0], 'ERR_RPMSG_TIMEOUT', 'the short one times out while the device does not answer')
  loop.unstall()
  t.equal(await probed, 'bound')
  t.equal(await sends[1], 'sent', 'the other goes once the bus is up')
  await until('the waiting message delivered', () => got.includes('waited'))
  t.same(got, ['waited'], 'the one that timed out never arrives')
})

t.test('a probe that fails fails the sends that waited for it with ERR_RPMSG_DETACHED', async (t) => {
  const { loop, virtioBus, table, got } = await setup()
  const sends: Array<Promise<string>> = []
  table.once('attached', (bus: RpmsgBusCore) => {
    loop.stall()
    sends.push(outcome(bus.send(1024, DST, Buffer.from('a'), { timeoutMs: 60_000 })))
    sends.push(outcome(bus.send(1024, DST, Buffer.from('b'), { timeoutMs: 60_000 })))
  })
  const probed = virtioBus.addDevice(loop.virtio)
  await until('the bus attached', () => sends.length === 2)
  loop.unstall(new TimeoutError('the device did not answer'))
  t.equal(await probed, 'failed')
  t.same(await Promise.all(sends), ['ERR_RPMSG_DETACHED', 'ERR_RPMSG_DETACHED'])
  t.same(got, [], 'nothing was delivered')
})

t.test('a probe that fails at DRIVER_OK gives its buffers back on the next probe, after the reset', async (t) => {
  const { loop, virtioBus } = await setup()
  const ops = loop.virtio.ops as { setStatus: (s: number) => Promise<void> }
  const setStatus = ops.setStatus.bind(ops)
  let refuse = true
  ops.setStatus = async (s) => {
    if (refuse && (s & VIRTIO_CONFIG_S_DRIVER_OK) !== 0) {
      refuse = false
      throw new TimeoutError('the device did not answer DRIVER_OK')
    }
    await setStatus(s)
  }
  const free = loop.pool.bytesFree
  t.equal(await virtioBus.addDevice(loop.virtio), 'failed', 'the first probe fails at DRIVER_OK')
  const afterFailure = loop.pool.bytesFree
  t.ok(afterFailure < free, 'its rx and tx buffers were allocated and posted')
  t.equal(await virtioBus.reprobe(loop.virtio), 'bound', 'the retry binds')
  const ref = await setup()
  t.equal(await ref.virtioBus.addDevice(ref.loop.virtio), 'bound')
  t.equal(loop.pool.bytesFree, ref.loop.pool.bytesFree, 'the pool holds what one probe that worked first time holds: the failed probe\'s buffers came back')
})
