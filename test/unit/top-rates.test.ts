// soclink top's rates (client/src/cli/top-rates.ts): counters of two
// samples divided by the time between them, per peer, endpoint and
// doorbell; a counter that went down was reset and counts from 0.

import t from 'tap'
import { perSecond, ratesBetween, topText, type TopSample } from '../../client/src/cli/top-rates.js'
import type { Peer, RpmsgEndpointInfo } from '../../client/src/index.js'

const node = { name: 'rc', role: 'rc', version: '0', incarnation: 'x', uptimeSeconds: 1, listen: null }
const peer = (name: string, counters: Partial<Peer['counters']>): Peer => ({
  name, url: null, direction: 'accepted', role: 'ep', state: 'up', incarnation: 'y', credential: null, rttMs: 0.5, lastError: '', unacked: 0, counters: counters as Peer['counters'], faults: null
})
const ept = (addr: number, sent: number, received: number): RpmsgEndpointInfo => ({
  addr, side: 'virtio', device: 'virtio0', channel: addr === 1024 ? 'echo' : null, service: null, owner: 'gateway', connection: 1, client: 'c', counters: { sent, received, dropped: 0 }
})

t.test('per second, and counters that were reset', async (t) => {
  t.equal(perSecond(10, 30, 2), 10)
  t.equal(perSecond(undefined, 30, 2), 15, 'new: counted from 0')
  t.equal(perSecond(100, 20, 2), 10, 'went down: reset, counts from 0')
  t.equal(perSecond(10, undefined, 2), 0, 'gone')
  t.equal(perSecond(10, 30, 0), 0, 'no time: no rate')
})

t.test('rates between two samples', async (t) => {
  const a: TopSample = { at: 1000, node, peers: [peer('ep', { framesIn: 100, framesOut: 50, bytesIn: 1e6, bytesOut: 2e6 })], endpoints: [ept(1024, 10, 10), ept(53, 0, 4)], doorbells: [{ name: 'tick', rings: 5, lastValue: 1 }] }
  const b: TopSample = { at: 3000, node, peers: [peer('ep', { framesIn: 300, framesOut: 50, bytesIn: 3e6, bytesOut: 2e6 }), peer('ep2', { framesIn: 8 })], endpoints: [ept(1024, 2010, 1010), ept(53, 0, 4)], doorbells: [{ name: 'tick', rings: 25, lastValue: 1 }] }
  const f = ratesBetween(a, b)
  t.equal(f.seconds, 2)
  t.same(f.peers[0], { name: 'ep', state: 'up', rttMs: 0.5, framesInPerSec: 100, framesOutPerSec: 0, bytesInPerSec: 1e6, bytesOutPerSec: 0 })
  t.match(f.peers[1], { name: 'ep2', framesInPerSec: 4, framesOutPerSec: 0 }, 'a peer new in the second sample')
  t.same(f.endpoints.map((e) => [e.addr, e.channel, e.sentPerSec, e.receivedPerSec]), [[1024, 'echo', 1000, 500], [53, null, 0, 0]])
  t.same(f.doorbells, [{ name: 'tick', ringsPerSec: 10 }])
  const none = ratesBetween({ ...a, endpoints: null }, { ...b, endpoints: null })
  t.same(none.endpoints, [], 'no rpmsg bus: no endpoints')

  const text = topText(f, '16:00:00 UTC')
  t.match(text, /^soclink top: rc \(rc\), 16:00:00 UTC, rates over 2\.0 s\n/)
  t.match(text, /^ep +up +0\.50 +100 +0 +1\.00MB +0B$/m, 'the peer row: rates scaled, bytes in B')
  t.match(text, /^virtio0 +1024 +echo +gateway +500 +1\.00k +0$/m, 'the endpoint row')
  t.match(text, /^tick +10$/m, 'the doorbell row')
  t.match(topText(none, 'x'), /no rpmsg endpoints/)
})
