// The link's data link layer: a TCP connection destroyed mid-stream of
// 10,000 writes and doorbells reconnects and resumes the same session; the
// replica ends byte-identical and each doorbell arrives exactly once, in
// order, after the write it follows.

import t from 'tap'
import { startNode, linkUrl } from '../support/nodes.js'
import { startRelay } from '../support/proxy.js'
import { until } from '../support/daemon.js'

const N = 10_000

t.test('dropped TCP connections lose and duplicate nothing', async (t) => {
  const a = await startNode('a', ['--secret', 'sesame'])
  const relay = await startRelay(a.listenAddress!.port)
  const b = await startNode('b', ['--secret', 'sesame', '--peer', linkUrl(a, relay.port), '--reconnect-max-ms', '200'])
  t.teardown(async () => { await b.stop('test'); await a.stop('test'); await relay.close() })

  const region = a.regions.create('mem', 1 << 20)
  const rung: number[] = []
  let outOfOrder = 0
  a.doorbells.declare('tick', (_peer, value) => {
    // The write of slot `value` preceded this doorbell on the link.
    if (region.read64(value * 8) !== value + 1) outOfOrder++
    rung.push(value)
  })
  await until('b linked to a', () => b.links.get('a')?.state === 'up' ? true : undefined)
  const w = b.openWindow({ peer: 'a', region: 'mem', offset: 0, size: 1 << 20, replica: true })
  await b.requester.opened(w)

  let cuts = 0
  for (let i = 0; i < N; i++) {
    w.write64(i * 8, i + 1)
    b.ring('a', 'tick', i)
    if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve))
    if (i % 2500 === 1250) {
      // Cut only a live connection; then keep producing while it is down.
      await until('link resumed', () => b.links.get('a')?.state === 'up' ? true : undefined)
      cuts += relay.cut()
    }
  }
  t.equal(cuts, 4, `the relay cut ${cuts} connections`)
  await until('every doorbell', () => rung.length >= N ? true : undefined, 30_000)
  await until('b drained', () => b.links.get('a')!.unacked === 0 && w.unordered === 0 ? true : undefined)

  t.equal(rung.length, N, 'each doorbell delivered exactly once')
  t.same(rung.slice(0, 5), [0, 1, 2, 3, 4])
  t.ok(rung.every((v, i) => v === i), 'doorbells in order')
  t.equal(outOfOrder, 0, 'no doorbell overtook its write')
  t.ok(Buffer.from(region.read(0, 1 << 20)).equals(Buffer.from(w.read(0, 1 << 20))), 'replica byte-identical to the region')
  const peer = b.links.get('a')!
  t.ok(peer.counters.resumes >= 1, 'the session resumed')
  t.equal(peer.counters.sessions, 1, 'without a new session (no link reset)')
})
