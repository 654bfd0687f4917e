// What the NTB transport and ntb_perf own of a host's NTB device (doorbell
// bits, scratchpads, memory windows, the link) is the host role's to refuse
// (roles/ntb-tool.ts), not the REST routes': code in process calling the
// role's ntb_tool is refused with ERR_BUSY naming the owner, and nothing
// changes; force, or what nobody owns, goes through. In-process daemons on
// loopback: a board and an ntb-vhost and an ntb-virtio host, transports up.

import t from 'tap'
import { startNode, linkUrl } from '../support/nodes.js'
import { until } from '../support/daemon.js'
import type { SoclinkNode } from '../../daemon/src/node.js'
import type { NtbHostRole } from '../../daemon/src/roles/ntb-host.js'

const nodes: SoclinkNode[] = []
t.teardown(async () => { for (const n of [...nodes].reverse()) await n.stop('test over') })
const board = await startNode('board', ['--role', 'ntb'])
nodes.push(board)
for (const [name, side] of [['h1', 'vhost'], ['h2', 'virtio']] as const) nodes.push(await startNode(name, ['--role', `ntb-${side}`, '--peer', linkUrl(board)]))
const [h1, h2] = [nodes[1]!.ntbHost!, nodes[2]!.ntbHost!]
const up = (r: NtbHostRole): boolean => (r.vhost ?? r.virtio)?.state === 'up' && r.perf !== null
await until('both transports up, ntb_perf running', () => up(h1) && up(h2) ? true : undefined, 30_000)

t.test('the role refuses an in-process caller what the transport owns, and nothing changes', async (t) => {
  const tool = h2.tool
  const before = tool.spads()
  t.throws(() => tool.peerDb(1), { code: 'ERR_BUSY', message: /peer_db_set: doorbell bit 0 belongs to the ntb-virtio transport/ }, 'a queue\'s doorbell bit')
  t.throws(() => tool.writeDb({ mask: 1 }), { code: 'ERR_BUSY', message: /db_set_mask: doorbell bit 0/ }, 'masking it')
  t.throws(() => tool.writeSpad(0, 0xdead, false), { code: 'ERR_BUSY', message: /spad_write: scratchpad 0 belongs to the ntb-virtio transport \(ntb_virtio.h scratchpads\)/ }, 'an ntb_virtio.h scratchpad')
  t.throws(() => tool.writeSpad(30, 0xdead, true), { code: 'ERR_BUSY', message: /peer_spad_write: scratchpad 30 belongs to .*device config/ }, 'a device config scratchpad of the peer')
  await t.rejects(tool.setTranslation(0, 0, 0x1000), { code: 'ERR_BUSY', message: /memory window 0 belongs to the ntb-virtio transport/ }, 'MW0')
  await t.rejects(tool.clearTranslation(1), { code: 'ERR_BUSY', message: /memory window 1 belongs to ntb_perf/ }, 'ntb_perf\'s MW1')
  await t.rejects(tool.setLink(false), { code: 'ERR_BUSY', message: /the link belongs to the ntb-virtio transport/ }, 'disabling the link')
  t.same(tool.spads(), before, 'no scratchpad changed')
  t.equal(h2.device!.dbReadMask() & 1, 0, 'bit 0 stays unmasked')
  t.ok(h2.device!.linkIsUp(), 'the link stays up')
  t.equal((h2.virtio ?? h1.vhost)?.state, 'up', 'the transport stays up')

  const perfBits = h1.perf!.ownedBits!
  t.throws(() => h1.tool.peerDb(1 << perfBits.request), { code: 'ERR_BUSY', message: /belongs to ntb_perf/ }, 'ntb_perf\'s doorbell bit, on the vhost host too')
})

t.test('what nobody owns, or force, goes through', async (t) => {
  const free = h2.tool.spads().count - 1
  t.same(h2.tool.writeSpad(free, 0x1234, false), { idx: free, value: 0x1234 }, `scratchpad ${free} is nobody's`)
  t.same(h2.tool.writeSpad(free, 0, false, true), { idx: free, value: 0 }, 'force on a free one changes nothing else')
  t.equal(h2.tool.db().owned.find((o) => o.bit === 0)?.owner, 'the ntb-virtio transport (queue notifications: vq k rings bit k)', 'the owners are listed')
})
