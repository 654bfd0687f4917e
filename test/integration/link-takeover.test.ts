// The takeover rule at the acceptor (link-table.ts): a connection under a
// name that is already linked (up, or waiting to resume) replaces that link
// only if it proved the same identity. Here the identity changes under a
// live link the one way secrets allow (a per-peer secret for a name that
// linked with the shared one, as a reload could bring): the new connection
// authenticates, and is still refused, and the live link stays.

import t from 'tap'
import { linkUrl, startNode } from '../support/nodes.js'
import { until } from '../support/daemon.js'

t.test('an authenticated connection with another identity does not take a live link over', async (t) => {
  const s = await startNode('s', ['--secret', 'shared'])
  const a = await startNode('a', ['--secret', 'shared', '--peer', linkUrl(s)])
  t.teardown(async () => { await a.stop('test'); await s.stop('test') })
  const live = await until('a up at s', () => s.links.get('a')?.state === 'up' ? s.links.get('a') : undefined)
  t.match(live.credential, { kind: 'shared-secret' })
  const incarnation = live.incarnation

  // From now on s holds a secret of a's own, and so does the newcomer: it proves it, under the name a.
  s.links.opts.peerSecret = (name) => name === 'a' ? 'own-a' : undefined
  const other = await startNode('a')
  t.teardown(async () => { await other.stop('test') })
  other.links.opts.peerSecret = (name) => name === 's' ? 'own-a' : undefined
  const dialer = other.links.dial(linkUrl(s), 's')
  const refused = await until('the newcomer refused', () => dialer.lastError !== '' ? dialer : undefined)
  t.equal(refused.lastError, 'refused by peer: authentication failed: a is linked with the shared secret; this connection proved its own secret')
  t.equal(s.links.get('a'), live, 'the live link is the same object')
  t.equal(live.state, 'up')
  t.equal(live.incarnation, incarnation, 'and the same session')
})
