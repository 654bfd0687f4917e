// Back-pressure with two real daemons (rc, ep) on loopback: writers at the
// edge that would fill a link's replay buffer wait or are told to come back
// later (503 ERR_LINK_FULL with Retry-After); the session never ends because
// of them (issue 11, items 1 and 9).
//  - four concurrent 16 MiB non-posted reads through the ep's window: their
//    completions (64 MiB) would overflow the rc's 64 MiB replay buffer; the
//    rc used to throw from Completer.read and exit;
//  - sixteen concurrent 1 MiB writes through a window with a 2 MiB replay
//    buffer: the session used to reset, and writes answered 200 were lost.

import t, { type Test } from 'tap'
import { startDaemon, until, type Daemon } from '../support/daemon.js'
import { getJson } from '../support/rpmsg-procs.js'

interface PeerRow { name: string, state: string, counters: Record<string, number> }
interface WindowRow { id: number, state: string, size: number }

async function peer (d: Daemon, name: string): Promise<PeerRow> {
  return (await getJson<PeerRow>(d.api, `/v1/peers/${name}`)).body
}

/** rc with a scratch region, ep dialing it, and an open replica window on the ep onto that region. */
async function pair (t: Test, args: string[]): Promise<{ rc: Daemon, ep: Daemon, window: WindowRow }> {
  const rc = await startDaemon('rc', ['--role', 'rc', '--region', 'scratch:16M', ...args])
  t.teardown(async () => { await rc.stop() })
  const ep = await startDaemon('ep', ['--role', 'ep', '--peer', rc.link, ...args])
  t.teardown(async () => { await ep.stop() })
  await until('the link', async () => (await peer(ep, 'rc')).state === 'up', 20_000)
  const res = await fetch(`${ep.api}/v1/windows`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ peer: 'rc', region: 'scratch', offset: 0, size: 16 * 1024 * 1024, replica: true })
  })
  t.equal(res.status, 201, 'window created')
  const created = await res.json() as WindowRow
  const window = await until('the window to open', async () => {
    const w = (await getJson<WindowRow>(ep.api, `/v1/windows/${created.id}`)).body
    return w.state === 'open' ? w : undefined
  }, 20_000)
  return { rc, ep, window }
}

t.test('concurrent 16 MiB uncached reads: answered or refused for now, and the rc serves on', async (t) => {
  const { rc, ep, window } = await pair(t, [])
  const MiB16 = 16 * 1024 * 1024
  const fill = Buffer.alloc(MiB16, 0x5a)
  t.equal((await fetch(`${rc.api}/v1/regions/scratch/memory?offset=0`, { method: 'PUT', body: fill, headers: { 'content-type': 'application/octet-stream' } })).status, 200)

  const answers = await Promise.all([0, 1, 2, 3].map(async () => {
    const r = await fetch(`${ep.api}/v1/windows/${window.id}/memory?offset=0&length=${MiB16}&uncached=true`)
    const body = Buffer.from(await r.arrayBuffer())
    return { status: r.status, retryAfter: r.headers.get('retry-after'), body }
  }))
  t.equal(rc.proc.exitCode, null, 'the rc still runs')
  t.equal(rc.proc.signalCode, null)
  for (const a of answers) {
    if (a.status === 200) {
      t.ok(a.body.equals(fill), 'a read answered 200 holds the region\'s bytes')
    } else {
      t.equal(a.status, 503, 'a read that did not fit is answered 503')
      t.match(JSON.parse(a.body.toString()), { error: { code: 'ERR_LINK_FULL' } })
      t.ok(Number(a.retryAfter) >= 1, 'with Retry-After')
    }
  }
  t.ok(answers.some((a) => a.status === 200), 'at least one read was answered')
  const again = await until('a read after the others', async () => {
    const r = await fetch(`${ep.api}/v1/windows/${window.id}/memory?offset=${MiB16 - 4}&length=4&uncached=true`)
    return r.status === 200 ? Buffer.from(await r.arrayBuffer()) : undefined
  }, 20_000)
  t.same([...again], [0x5a, 0x5a, 0x5a, 0x5a], 'the rc answers reads afterwards')
  t.equal((await peer(rc, 'ep')).counters.sessions, 1, 'the rc\'s session with the ep never ended')
  t.equal((await peer(ep, 'rc')).counters.sessions, 1, 'nor the ep\'s')
})

t.test('concurrent writes past the replay buffer wait; none is lost and the session goes on', async (t) => {
  const { rc, ep, window } = await pair(t, ['--max-replay-bytes', String(2 * 1024 * 1024)])
  const SIZE = 1024 * 1024
  const N = 16
  const answers = await Promise.all(Array.from({ length: N }, async (_, i) => {
    const body = Buffer.alloc(SIZE, i + 1)
    const r = await fetch(`${ep.api}/v1/windows/${window.id}/memory?offset=${i * SIZE}`, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } })
    return { i, status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.json() as { error?: { code: string } } }
  }))
  const written = answers.filter((a) => a.status === 200)
  for (const a of answers) {
    if (a.status !== 200) {
      t.equal(a.status, 503, `write ${a.i}: 200 or 503`)
      t.equal(a.body.error?.code, 'ERR_LINK_FULL')
      t.ok(Number(a.retryAfter) >= 1, 'with Retry-After')
    }
  }
  t.ok(written.length > 0, 'writes were answered 200')
  // Every write answered 200 reaches the owner: read it there.
  for (const a of written) {
    const bytes = await until(`write ${a.i} at the owner`, async () => {
      const r = await fetch(`${rc.api}/v1/regions/scratch/memory?offset=${a.i * SIZE}&length=${SIZE}`)
      const b = Buffer.from(await r.arrayBuffer())
      return b.every((x) => x === a.i + 1) ? b : undefined
    }, 20_000)
    t.equal(bytes.length, SIZE)
  }
  const epPeer = await peer(ep, 'rc')
  t.equal(epPeer.counters.sessions, 1, 'the ep\'s session never ended')
  t.equal(epPeer.counters.lostFrames, 0, 'nothing was lost')
  t.equal((await peer(rc, 'ep')).counters.sessions, 1, 'nor the rc\'s')
  t.equal((await getJson<WindowRow>(ep.api, `/v1/windows/${window.id}`)).status, 200, 'the window is still there')
})
