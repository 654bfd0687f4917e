// FEATURE_COMPACT is negotiated per link (proto/link.proto): two daemons that
// both speak it send compact packets and combine writes, so 2,000 rpmsg
// messages each way cross in far fewer frames than messages; a daemon held to
// protobuf (--link-encoding protobuf, as soclink 0.1 links) still links with
// one that speaks it, and the same traffic arrives intact and in order, one
// frame a write.

import t from 'tap'
import { RPMSG_ADDR_ANY } from '../../daemon/src/rpmsg/wire.js'
import type { SoclinkNode } from '../../daemon/src/node.js'
import type { RpmsgChannel } from '../../daemon/src/rpmsg/core.js'
import { linkUrl, rpmsgReady, startNode } from '../support/nodes.js'
import { claimAnnounced } from '../support/rpmsg-pair.js'
import { until, within } from '../support/daemon.js'
import { seqPayload } from '../support/rpmsg-payloads.js'

const N = 2000

async function channels (rc: SoclinkNode, ep: SoclinkNode): Promise<{ rcCh: RpmsgChannel, epCh: RpmsgChannel }> {
  const { virtioBus, vhostBus } = await rpmsgReady(rc, ep)
  const epCh = vhostBus.createChannel('encoding')
  // Claimed by a test driver once seen: rpmsgBind kernel binds it (AS ASSIGN) only then.
  const rcCh = await until('the rc sees the channel', () => claimAnnounced(virtioBus, 'encoding'))
  await until('the ep channel bound', () => epCh.dst !== RPMSG_ADDR_ANY ? true : undefined)
  return { rcCh, epCh }
}

async function exchange (from: RpmsgChannel, to: RpmsgChannel, dir: string): Promise<number> {
  let bad = 0
  let got = 0
  const all = new Promise<void>((resolve) => {
    to.on('message', (p: Uint8Array) => {
      if (Buffer.compare(Buffer.from(p), Buffer.from(seqPayload(dir, got))) !== 0) bad++
      if (++got === N) resolve()
    })
  })
  await Promise.all(Array.from({ length: N }, async (_x, i) => { await from.send(seqPayload(dir, i)) }))
  await within(all, `${N} messages ${dir}`, 30_000)
  return bad
}

for (const [rcEncoding, epEncoding] of [['compact', 'compact'], ['protobuf', 'compact'], ['compact', 'protobuf']] as const) {
  t.test(`rc ${rcEncoding}, ep ${epEncoding}`, async (t) => {
    const rc = await startNode('rc', ['--role', 'rc', '--link-encoding', rcEncoding])
    const ep = await startNode('ep', ['--role', 'ep', '--link-encoding', epEncoding, '--peer', linkUrl(rc)])
    t.teardown(async () => { await ep.stop('test'); await rc.stop('test') })
    const { rcCh, epCh } = await channels(rc, ep)
    const both = rcEncoding === 'compact' && epEncoding === 'compact'
    t.equal(rc.links.get('ep')!.combining, both, `the rc ${both ? 'combines' : 'does not combine'}`)
    t.equal(ep.links.get('rc')!.combining, both, `the ep ${both ? 'combines' : 'does not combine'}`)

    const before = rc.links.get('ep')!.counters.framesOut + ep.links.get('rc')!.counters.framesOut
    const [toRc, toEp] = await Promise.all([exchange(epCh, rcCh, 'ep->rc'), exchange(rcCh, epCh, 'rc->ep')])
    t.equal(toRc, 0, 'ep -> rc: every message in order, intact')
    t.equal(toEp, 0, 'rc -> ep: every message in order, intact')
    const frames = rc.links.get('ep')!.counters.framesOut + ep.links.get('rc')!.counters.framesOut - before
    if (both) t.ok(frames < N, `combined: ${frames} frames for ${2 * N} messages`)
    else t.ok(frames > 2 * N, `one frame a write: ${frames} frames for ${2 * N} messages`)
  })
}
