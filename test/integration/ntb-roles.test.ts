// The NTB roles as the composition root builds them, in-process daemons on
// loopback: a board pairing hosts in the order they link (a third host is
// started and waits, link down, until a fourth comes), the hosts' NTB
// devices and transports, the peer memory window's change notices
// (PeerMw.onUpdate) that ntb_vhost watches its rings by, and the board
// going away: every host removes its device, as on surprise removal.

import t from 'tap'
import { startNode, linkUrl } from '../support/nodes.js'
import { until } from '../support/daemon.js'
import type { SoclinkNode } from '../../daemon/src/node.js'
import { MW0_BASE } from '../../daemon/src/roles/ntb-host.js'

const nodes: SoclinkNode[] = []
t.teardown(async () => { for (const n of [...nodes].reverse()) await n.stop('test over') })

async function node (name: string, args: string[]): Promise<SoclinkNode> {
  const n = await startNode(name, args)
  nodes.push(n)
  return n
}

const board = await node('board', ['--role', 'ntb'])
const host = async (name: string, side: 'vhost' | 'virtio'): Promise<SoclinkNode> => await node(name, ['--role', `ntb-${side}`, '--peer', linkUrl(board)])
const transportUp = (n: SoclinkNode): boolean => (n.ntbHost!.vhost ?? n.ntbHost!.virtio)?.state === 'up'

t.test('hosts are paired in link order; a third waits, link down, for a fourth', async (t) => {
  const h1 = await host('h1', 'vhost')
  await until('h1 linked to the board', () => board.ntbBoard!.view().pairs.length === 1 ? true : undefined)
  const h2 = await host('h2', 'virtio')
  await until('h1 and h2 up', () => transportUp(h1) && transportUp(h2) ? true : undefined)
  t.same(board.ntbBoard!.view().pairs.map((p) => [p.name, p.a, p.b, p.configured]), [['ntb0', 'h1', 'h2', false]], 'h1 and h2 are ntb0')

  const h3 = await host('h3', 'vhost')
  const waiting = await until('h3 enumerated its interface', () => h3.ntbHost!.device?.ready === true ? h3.ntbHost!.device : undefined)
  t.equal(waiting.linkIsUp(), false, 'h3 sees the NTB link down')
  await until('h3\'s transport waits', () => h3.ntbHost!.vhost?.state === 'down' ? true : undefined)
  // h3 sends LINK_UP after it has enumerated its interface; the board hears it a turn later.
  const v = await until('the board hears h3\'s LINK_UP', () => {
    const view = board.ntbBoard!.view()
    return view.pairs[1]?.function.interfaces[0]?.linkup === true ? view : undefined
  })
  t.same(v.pairs.map((p) => [p.name, p.a, p.b]), [['ntb0', 'h1', 'h2'], ['ntb1', 'h3', null]], 'h3 waits in ntb1 for a partner')
  t.match(v.pairs[1]!.function.interfaces, [{ host: 'h3', started: true, linkup: true, linkStatus: false }], 'its interface is started, LINK_UP sent, the link down')
  t.same(v.unpaired, [], 'nobody is unpaired while pairing in link order')

  const h4 = await host('h4', 'virtio')
  await until('h3 and h4 up', () => transportUp(h3) && transportUp(h4) ? true : undefined)
  t.same(board.ntbBoard!.view().pairs.map((p) => [p.a, p.b]), [['h1', 'h2'], ['h3', 'h4']], 'h4 joins h3')
  t.equal(h3.ntbHost!.vhost!.virtioAddr, MW0_BASE, 'h3 serves h4\'s MW0, carved out of its memory at MW0_BASE')
  t.equal(h1.ntbHost!.vhost!.virtioAddr, MW0_BASE, 'and h1 h2\'s')
  t.equal(h2.ntbHost!.virtioBus!.devices[0]!.driver?.name, 'virtio_rpmsg_bus', 'the rpmsg driver binds the NTB virtio device')
  t.equal(h1.ntbHost!.vhostBus!.devices[0]!.driver?.name, 'vhost_rpmsg_bus', 'and the vhost one its vhost device')
  t.same(h1.rpmsg!.attachedBuses().map((b) => b.parent.side), ['vhost'], 'h1\'s rpmsg bus is attached to the node\'s driver table')
})

t.test('peer MW change notices: the virtio host\'s writes into MW0, window-relative, nothing outside it', async (t) => {
  const h1 = nodes.find((n) => n.settings.name === 'h1')!
  const h2 = nodes.find((n) => n.settings.name === 'h2')!
  const mw = h1.ntbHost!.device!.peerMwGetAddr(0)
  t.type(mw.onUpdate, 'function', 'ntb_hw_epf offers them')
  const seen: Array<[number, number]> = []
  const stop = mw.onUpdate!((offset, length) => { seen.push([offset, length]) })
  t.teardown(stop)
  const at = mw.size - 0x100
  h2.ntbHost!.rc.sysmem.write32(MW0_BASE + at, 0xc0ffee)
  await until('h1 is told of the write', () => seen.some(([o, l]) => o <= at && o + l >= at + 4) ? true : undefined)
  t.equal(mw.memory.read32(at), 0xc0ffee, 'and reads it through the window')
  t.ok(seen.every(([o, l]) => o >= 0 && l > 0 && o + l <= mw.size), 'every range lies inside the window')
})

t.test('the board goes away: every host removes its device and transport; the rpmsg buses go', async (t) => {
  const hosts = nodes.filter((n) => n.ntbHost !== null)
  await board.stop('test: the board goes away')
  for (const h of hosts) {
    const role = h.ntbHost!
    await until(`${h.settings.name} removes its device`, () => role.device === null && role.vhost === null && role.virtio === null ? true : undefined)
    const bus = role.vhostBus ?? role.virtioBus!
    await until(`${h.settings.name}'s bus is empty`, () => bus.devices.length === 0 ? true : undefined)
    t.same(h.rpmsg!.attachedBuses(), [], `${h.settings.name}: no device, no transport, no rpmsg bus`)
  }
})
