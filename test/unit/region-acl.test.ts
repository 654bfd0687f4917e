// A region's peers list (regions: [{ name, size, peers }], POST /v1/regions
// { peers }): a peer it does not name cannot open a window onto it, by name
// or by id, so it can neither read nor write it; the requester gets
// ERR_FORBIDDEN. Without a list, every peer may, as before.

import t from 'tap'
import { MemNode, connect } from '../support/mem-node.js'
import { settle } from '../support/loop-link.js'

t.test('only the peers a region lists open windows onto it', async (t) => {
  const rc = new MemNode('rc')
  const ep = new MemNode('ep')
  const other = new MemNode('other')
  const ends = [...connect(rc, ep), ...connect(rc, other)]
  const secret = rc.regions.createUser('secret', 4096, ['ep'])
  const open = rc.regions.createUser('open', 4096)
  secret.write32(0, 0x5ec2e7)
  t.same(rc.regions.peersOf(secret), ['ep'])
  t.equal(rc.regions.peersOf(open), null, 'no list: every peer')

  for (const ref of ['secret', secret.id]) {
    const w = other.requester.open({ peer: 'rc', region: ref, offset: 0, size: 4096, replica: true })
    await t.rejects(other.requester.opened(w), { code: 'ERR_FORBIDDEN', message: /rc refused the window: region secret does not list peer other among its peers/ }, `other cannot open ${String(ref)}`)
    t.equal(w.state, 'failed')
    t.equal(w.read32(0), 0, 'and got none of its bytes')
  }
  const mine = ep.requester.open({ peer: 'rc', region: 'secret', offset: 0, size: 4096, replica: true })
  await ep.requester.opened(mine)
  await settle(ends)
  t.equal(mine.read32(0), 0x5ec2e7, 'ep, listed, reads it')
  const w = other.requester.open({ peer: 'rc', region: 'open', offset: 0, size: 4096, replica: true })
  await other.requester.opened(w)
  t.equal(w.state, 'open', 'a region without a list is open to every peer')
  t.same(rc.completer.subscribers(secret).map((s) => s.peer), ['ep'])
})
