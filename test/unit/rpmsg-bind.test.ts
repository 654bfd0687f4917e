// Kernel binding on the in-memory rpmsg pair (rpmsg/virtio-rpmsg.ts,
// RpmsgBusCore.claimChannel): NS CREATE makes an unbound channel device
// (src RPMSG_ADDR_ANY, no endpoint, nothing sent back); a claim is
// rpmsg_dev_probe() (endpoint, AS ASSIGN), a release rpmsg_dev_remove()
// (AS FREE, endpoint gone); one claimer at a time, a keeper binding
// (eager, configuration) under claimers; NS DESTROY of a bound channel.

import t from 'tap'
import { once } from 'node:events'
import type { RpmsgChannel } from '../../daemon/src/rpmsg/core.js'
import { VirtioRpmsgDriver } from '../../daemon/src/rpmsg/virtio-rpmsg.js'
import { RPMSG_ADDR_ANY } from '../../daemon/src/rpmsg/wire.js'
import { RpmsgLoop, rpmsgPair } from '../support/rpmsg-pair.js'
import { settle } from '../support/rpmsg-tables.js'
import { VirtioBus } from '../../daemon/src/virtio/bus.js'
import { VhostBus } from '../../daemon/src/vhost/bus.js'
import { VhostRpmsgDriver } from '../../daemon/src/rpmsg/vhost-rpmsg.js'

/** The pair's virtio channel once announced. */
async function announced (pair: Awaited<ReturnType<typeof rpmsgPair>>, name: string): Promise<{ host: RpmsgChannel, guest: RpmsgChannel }> {
  const created = once(pair.virtio, 'channel-created') as Promise<[RpmsgChannel]>
  const host = pair.vhost.createChannel(name)
  const [guest] = await created
  return { host, guest }
}

t.test('kernel: unbound until claimed; claim binds (AS ASSIGN), release unbinds (AS FREE)', async (t) => {
  const pair = await rpmsgPair()
  const { host, guest } = await announced(pair, 'k')
  t.equal(guest.src, RPMSG_ADDR_ANY, 'no local address: virtio0.k.-1.DST')
  t.equal(guest.driver, null)
  const sentBefore = pair.virtio.counters.sent
  const eps = pair.virtio.endpoints.addresses().length
  // A barrier: a plain message the other way crosses the same queues after anything the virtio side would have sent.
  const plain = pair.virtio.createEndpoint(RPMSG_ADDR_ANY, () => {})
  const seen = once(host, 'message')
  pair.virtio.trySend(plain.addr, host.src, Uint8Array.of(1))
  await seen
  t.equal(pair.virtio.counters.sent, sentBefore + 1, 'nothing but our message was sent: no AS ASSIGN')
  t.equal(host.dst, RPMSG_ADDR_ANY, 'the vhost side stays unbound')
  t.equal(pair.virtio.endpoints.addresses().length, eps + 1, 'no endpoint for the channel')

  const bindings: Array<[number, string | null]> = []
  pair.virtio.on('channel-binding', (ch) => { bindings.push([ch.src, ch.driver]) })
  const bound = once(pair.vhost, 'channel-bound')
  pair.virtio.claimChannel(guest, 'drv')
  t.not(guest.src, RPMSG_ADDR_ANY, 'the endpoint is made')
  await bound
  t.equal(host.dst, guest.src, 'AS ASSIGN told the vhost side')
  t.throws(() => { pair.virtio.claimChannel(guest, 'other') }, { code: 'ERR_BUSY' }, 'one claimer at a time')

  const src = guest.src
  const unbound = once(pair.vhost, 'channel-unbound')
  pair.virtio.releaseChannel(guest, 'other')
  t.equal(guest.driver, 'drv', 'only the holder releases')
  pair.virtio.releaseChannel(guest, 'drv')
  await unbound
  t.equal(host.dst, RPMSG_ADDR_ANY, 'AS FREE took it back')
  t.equal(guest.src, RPMSG_ADDR_ANY)
  t.notOk(pair.virtio.endpoints.has(src), 'the endpoint is gone')
  t.same(bindings, [[src, 'drv'], [RPMSG_ADDR_ANY, null]], 'channel-binding both times')
})

t.test('NS DESTROY of a claimed channel: AS FREE from its endpoint, which goes; the event keeps its src', async (t) => {
  const pair = await rpmsgPair()
  const { guest } = await announced(pair, 'd')
  pair.virtio.claimChannel(guest, 'drv')
  await once(pair.vhost, 'channel-bound')
  const src = guest.src
  const destroyed = once(pair.virtio, 'channel-destroyed') as Promise<[RpmsgChannel]>
  pair.vhost.destroyChannel('d')
  const [ch] = await destroyed
  t.equal(ch.src, src, 'named as its users knew it')
  t.notOk(pair.virtio.endpoints.has(src))
  await settle('AS FREE handled', () => pair.virtio.waiting === 0)
  t.throws(() => { pair.virtio.claimChannel(ch, 'late') }, { code: 'ERR_NOT_FOUND' }, 'a gone channel cannot be claimed')
})

t.test('eager and configured names: bound at once by a keeper; a claimer takes the endpoint and gives it back', async (t) => {
  for (const [binding, name, keeper] of [[{ mode: 'eager', channels: [] }, 'any', 'soclink_eager'], [{ mode: 'kernel', channels: ['cfg'] }, 'cfg', 'soclink_config']] as const) {
    const loop = new RpmsgLoop()
    const vbus = new VhostBus()
    const vhostDriver = new VhostRpmsgDriver()
    await vbus.registerDriver(vhostDriver)
    await vbus.registerDevice(loop.vhost)
    const virtioBus = new VirtioBus()
    const virtioDriver = new VirtioRpmsgDriver({ binding })
    await virtioBus.registerDriver(virtioDriver)
    t.equal(await virtioBus.addDevice(loop.virtio), 'bound')
    const virtio = virtioDriver.bus(loop.virtio)
    const created = once(virtio, 'channel-created') as Promise<[RpmsgChannel]>
    const bound = once(vhostDriver.bus(loop.vhost), 'channel-bound')
    const host = vhostDriver.bus(loop.vhost).createChannel(name)
    const [guest] = await created
    t.not(guest.src, RPMSG_ADDR_ANY, `${keeper}: bound before anyone hears of it`)
    t.equal(guest.driver, keeper)
    await bound
    const src = guest.src
    virtio.claimChannel(guest, 'app')
    t.same([guest.src, guest.driver], [src, 'app'], 'the claimer holds the same endpoint')
    virtio.releaseChannel(guest, 'app')
    t.same([guest.src, guest.driver, host.dst], [src, keeper, src], 'the keeper holds it again, still bound')
  }
})
