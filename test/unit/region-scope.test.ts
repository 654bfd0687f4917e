// Regions named NAME@PEER are what PEER finds under NAME (an NTB board wires
// one endpoint controller to each host): each peer's window onto
// "pcie.cfg" reaches its own controller's config space, and a peer never
// reaches another's by the plain name.

import t from 'tap'
import { MemNode, connect } from '../support/mem-node.js'
import { settle } from '../support/loop-link.js'

t.test('each peer finds its own NAME@peer region under NAME, others the plain one', async (t) => {
  const board = new MemNode('board')
  const h1 = new MemNode('h1')
  const h2 = new MemNode('h2')
  const h3 = new MemNode('h3')
  const ends = [...connect(board, h1), ...connect(board, h2), ...connect(board, h3)]
  board.regions.create('cfg@h1', 4096).write8(0, 1)
  board.regions.create('cfg@h2', 4096).write8(0, 2)
  board.regions.create('cfg', 4096).write8(0, 9)
  const w1 = h1.requester.open({ peer: 'board', region: 'cfg', offset: 0, size: 4096, replica: true })
  const w2 = h2.requester.open({ peer: 'board', region: 'cfg', offset: 0, size: 4096, replica: true })
  const w3 = h3.requester.open({ peer: 'board', region: 'cfg', offset: 0, size: 4096, replica: true })
  await Promise.all([h1.requester.opened(w1), h2.requester.opened(w2), h3.requester.opened(w3)])
  t.equal(w1.read8(0), 1, 'h1 reaches cfg@h1')
  t.equal(w2.read8(0), 2, 'h2 reaches cfg@h2')
  t.equal(w3.read8(0), 9, 'a peer with no scoped region reaches the plain one')
  t.equal(w1.regionName, 'cfg@h1', 'the window names the region it reached')
  w1.write8(1, 0x11)
  await settle(ends)
  t.equal(board.regions.get('cfg@h1').read8(1), 0x11, 'h1\'s write lands in its own region')
  t.equal(board.regions.get('cfg@h2').read8(1), 0, 'and in no other')
  t.equal(board.regions.get('cfg').read8(1), 0)
  t.throws(() => board.regions.create('bad@', 16), { code: 'ERR_CONFLICT' }, 'an empty scope is not a name')
  t.throws(() => board.regions.create('a@b@c', 16), { code: 'ERR_CONFLICT' }, 'one scope at most')
})

t.test('a region scoped to one peer is not there for another, by full name or by id', async (t) => {
  const board = new MemNode('board')
  const h1 = new MemNode('h1')
  const h2 = new MemNode('h2')
  connect(board, h1)
  connect(board, h2)
  const theirs = board.regions.create('bar@h2', 4096)
  for (const ref of ['bar@h2', theirs.id]) {
    const w = h1.requester.open({ peer: 'board', region: ref, offset: 0, size: 4096, replica: true })
    await t.rejects(h1.requester.opened(w), `h1 cannot open ${String(ref)}`)
    t.equal(w.state, 'failed')
  }
  const mine = h2.requester.open({ peer: 'board', region: theirs.id, offset: 0, size: 4096, replica: true })
  await h2.requester.opened(mine)
  t.equal(mine.state, 'open', 'h2 reaches its own by id')
})
