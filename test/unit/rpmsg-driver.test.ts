// The rpmsg driver table (rpmsg_core.c's matching by channel name) and its
// configfs tree (rpmsg_cfs.c), over the in-memory virtio+vhost pair: each
// side's rpmsg driver attaches its bus to that side's table at probe and
// detaches it when removed.

import t from 'tap'
import { tablePair, settle } from '../support/rpmsg-tables.js'
import { RpmsgDriverTable, type RpmsgDriver, type RpmsgParent } from '../../daemon/src/rpmsg/driver.js'
import type { RpmsgChannel } from '../../daemon/src/rpmsg/core.js'
import { RPMSG_ADDR_ANY } from '../../daemon/src/rpmsg/wire.js'

/** A driver that records what it was asked to do. */
class Recorder implements RpmsgDriver {
  readonly events: string[] = []
  failProbe = false
  constructor (readonly name: string, readonly idTable: readonly string[]) {}
  probe (ch: RpmsgChannel, parent: RpmsgParent): void {
    if (this.failProbe) throw new Error('probe refused')
    this.events.push(`probe ${ch.name} ${parent.side} ${parent.device}`)
  }

  remove (ch: RpmsgChannel): void { this.events.push(`remove ${ch.name}`) }
}

t.test('a channel is probed by the driver whose id table names it, on both sides', async (t) => {
  const p = await tablePair()
  const epDrv = new Recorder('ep_drv', ['svc-a'])
  const rcDrv = new Recorder('rc_drv', ['svc-a', 'svc-b'])
  p.ep.register(epDrv)
  p.rc.register(rcDrv)
  const virtio = await p.connect()
  t.same(p.rc.parentOf(virtio), { side: 'virtio', device: 'virtio0' }, 'the virtio bus attached at probe')
  t.same(p.ep.parentOf(p.vhost), { side: 'vhost', device: 'vhost0' }, 'the vhost bus attached at probe')

  const a = p.vhost.createChannel('svc-a')
  t.same(epDrv.events, ['probe svc-a vhost vhost0'], 'probed on the vhost side at creation, before it is bound')
  t.equal(p.ep.driverOf(a), epDrv)
  p.vhost.createChannel('svc-c')
  await settle('both channels on the virtio side', () => virtio.channels.size === 2)
  t.same(rcDrv.events, ['probe svc-a virtio virtio0'], 'the virtio side probes the announced channel; svc-c matches nothing')
  t.equal(p.rc.driverOf(virtio.channel('svc-c')!), undefined)

  p.vhost.destroyChannel('svc-a')
  t.same(epDrv.events, ['probe svc-a vhost vhost0', 'remove svc-a'], 'removed when the channel is destroyed')
  await settle('NS DESTROY on the virtio side', () => virtio.channel('svc-a') === undefined)
  t.same(rcDrv.events, ['probe svc-a virtio virtio0', 'remove svc-a'])
})

t.test('a driver registered late probes existing channels; unregistering removes it', async (t) => {
  const p = await tablePair()
  const virtio = await p.connect()
  p.vhost.createChannel('svc-b')
  await settle('the channel on the virtio side', () => virtio.channel('svc-b') !== undefined)
  const first = new Recorder('first', ['svc-b'])
  const second = new Recorder('second', ['svc-b2'])
  p.rc.register(first)
  p.rc.register(second)
  t.same(first.events, ['probe svc-b virtio virtio0'], 'register_rpmsg_driver probes unbound channels')
  t.throws(() => { p.rc.register(new Recorder('first', ['other'])) }, { code: 'ERR_CONFLICT' }, 'one driver per name')
  t.throws(() => { p.rc.register(new Recorder('third', ['svc-b'])) }, { code: 'ERR_CONFLICT' }, 'one driver per id (its configfs group)')
  p.rc.unregister('first')
  t.same(first.events, ['probe svc-b virtio virtio0', 'remove svc-b'])
  t.equal(p.rc.driverOf(virtio.channel('svc-b')!), undefined)
  t.same(p.rc.channelGroups().map((g) => g.name), ['svc-b2'], 'its group went with it')
  t.throws(() => { p.rc.unregister('first') }, { code: 'ERR_NOT_FOUND' })
})

t.test('a probe that throws leaves the channel unbound', async (t) => {
  const p = await tablePair()
  const drv = new Recorder('picky', ['svc'])
  drv.failProbe = true
  p.ep.register(drv)
  const ch = p.vhost.createChannel('svc')
  t.equal(p.ep.driverOf(ch), undefined)
  t.match(p.ep.lastError, { code: 'ERR_RPMSG_DRIVER', message: 'probe refused' })
  p.vhost.destroyChannel('svc')
  t.same(drv.events, [], 'no remove for a channel never bound')
})

t.test('a bus that stops removes its channels\' drivers and leaves the table', async (t) => {
  const p = await tablePair()
  const epDrv = new Recorder('ep_drv', ['svc'])
  const rcDrv = new Recorder('rc_drv', ['svc'])
  p.ep.register(epDrv)
  p.rc.register(rcDrv)
  const virtio = await p.connect()
  p.ep.makeItem('svc', 'c1')
  p.ep.link('vhost0', 'svc', 'c1')
  await settle('bound', () => p.vhost.channel('svc')?.dst !== RPMSG_ADDR_ANY)
  const detached: RpmsgParent[] = []
  p.rc.on('detached', (_bus, parent) => { detached.push(parent) })
  p.ep.on('detached', (_bus, parent) => { detached.push(parent) })

  await p.virtioBus.removeDevice(p.loop.virtio)
  t.same(rcDrv.events, ['probe svc virtio virtio0', 'remove svc'], 'the virtio side\'s channel went with its bus')
  t.equal(p.rc.parentOf(virtio), undefined)
  t.equal(p.vhost.channel('svc')?.dst, RPMSG_ADDR_ANY, 'the vhost side\'s channel stays, unbound by the reset')

  await p.vhostBus.unregisterDevice(p.loop.vhost)
  t.same(epDrv.events, ['probe svc vhost vhost0', 'remove svc'])
  t.same(p.ep.virtprocs(), [], 'its virtproc is gone')
  t.same(p.ep.channelGroups(), [{ name: 'svc', driver: 'ep_drv', items: [{ name: 'c1', link: null }] }], 'and its links with it')
  t.same(detached, [{ side: 'virtio', device: 'virtio0' }, { side: 'vhost', device: 'vhost0' }])
})

t.test('configfs: items, links and their refusals', async (t) => {
  const p = await tablePair()
  const virtio = await p.connect()
  p.ep.register(new Recorder('drv', ['svc']))
  t.same(p.ep.channelGroups(), [{ name: 'svc', driver: 'drv', items: [] }], 'a group per id')
  t.same(p.ep.virtprocs(), [{ name: 'vhost0', links: [] }], 'a virtproc per vhost rpmsg device')

  p.ep.makeItem('svc', 'c1')
  p.ep.makeItem('svc', 'c2')
  t.throws(() => { p.ep.makeItem('svc', 'c1') }, { code: 'ERR_CONFLICT' }, 'mkdir of an existing item')
  t.throws(() => { p.ep.makeItem('nope', 'c1') }, { code: 'ERR_NOT_FOUND' }, 'mkdir in no group')

  const ch = p.ep.link('vhost0', 'svc', 'c1')
  t.equal(ch.name, 'svc', 'the channel is named after the group, not the item')
  t.ok(ch.src >= 1024)
  t.same(p.ep.virtprocs(), [{ name: 'vhost0', links: [{ group: 'svc', item: 'c1', channel: { name: 'svc', src: ch.src } }] }])
  t.same(p.ep.channelGroups()[0]!.items, [{ name: 'c1', link: 'vhost0' }, { name: 'c2', link: null }])
  await settle('announced to the virtio side', () => virtio.channel('svc') !== undefined)

  t.throws(() => { p.ep.link('vhost0', 'svc', 'c1') }, { code: 'ERR_BUSY' }, 'a linked item is busy')
  t.throws(() => { p.ep.removeItem('svc', 'c1') }, { code: 'ERR_BUSY' }, 'rmdir of a linked item')
  t.throws(() => { p.ep.link('vhost0', 'svc', 'c2') }, { code: 'ERR_CONFLICT' }, 'a second channel of the same name on the device')
  t.same(p.ep.channelGroups()[0]!.items[1], { name: 'c2', link: null }, 'the refused link left nothing behind')
  t.throws(() => { p.ep.link('vhost7', 'svc', 'c2') }, { code: 'ERR_NOT_FOUND', message: /no such device/ })
  t.throws(() => { p.ep.link('vhost0', 'svc', 'c9') }, { code: 'ERR_NOT_FOUND' })
  t.throws(() => { p.ep.unlink('vhost0', 'svc', 'c2') }, { code: 'ERR_NOT_FOUND' }, 'unlink of an unlinked item')
  t.throws(() => { p.rc.link('virtio0', 'svc', 'c1') }, { code: 'ERR_NOT_FOUND', message: /no such device/ }, 'a virtio bus is no virtproc')
  t.same(p.rc.virtprocs(), [])

  p.ep.unlink('vhost0', 'svc', 'c1')
  t.equal(p.vhost.channel('svc'), undefined, 'unlink destroys the channel')
  await settle('NS DESTROY reaches the virtio side', () => virtio.channel('svc') === undefined)
  p.ep.removeItem('svc', 'c1')
  t.same(p.ep.channelGroups()[0]!.items, [{ name: 'c2', link: null }])
  t.throws(() => { p.ep.removeItem('svc', 'c1') }, { code: 'ERR_NOT_FOUND' })

  p.ep.link('vhost0', 'svc', 'c2')
  p.vhost.destroyChannel('svc')
  p.ep.unlink('vhost0', 'svc', 'c2')
  t.same(p.ep.channelGroups()[0]!.items, [{ name: 'c2', link: null }], 'unlink after the channel was destroyed elsewhere')
})

t.test('a table with no buses', async (t) => {
  const table = new RpmsgDriverTable()
  t.same(table.channelGroups(), [])
  t.same(table.virtprocs(), [])
  t.throws(() => { table.makeItem('x', 'y') }, { code: 'ERR_NOT_FOUND' })
})
