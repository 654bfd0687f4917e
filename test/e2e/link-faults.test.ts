// Fault injection (PUT /v1/peers/:peer/faults) against two real daemons: an
// ep that dials an rc, both with --fault-injection except where a test says
// otherwise. Each fault acts on the link's TCP connection; the session above
// resumes (same session, replay), which the window's bytes on the rc show.

import t from 'tap'
import { ControlClient, type Peer } from '../../client/src/index.js'
import { startDaemon, until, type Daemon } from '../support/daemon.js'
import { scaled } from '../support/time.js'

// Scaled: a loaded machine's stall must not pass for a silent link (a reconnect the tests below say did not happen).
const DEAD_AFTER_MS = scaled(2000)
const LINK = ['--heartbeat-ms', String(scaled(200)), '--dead-after-ms', String(DEAD_AFTER_MS), '--resume-window-ms', String(scaled(15_000)), '--reconnect-max-ms', '200']
const SIZE = 64 * 1024

const daemons: Daemon[] = []
t.teardown(async () => { for (const d of daemons.reverse()) await d.stop() })
const rc = await startDaemon('rc', ['--role', 'rc', ...LINK])
daemons.push(rc)
const ep = await startDaemon('ep', ['--role', 'ep', '--fault-injection', '--peer', rc.link, ...LINK])
daemons.push(ep)
const rcApi = new ControlClient(rc.api)
const epApi = new ControlClient(ep.api)

const peer = async (): Promise<Peer> => await epApi.peer('rc')
/** Until the peer is up and `check` holds; the ep knows the peer by name only once a handshake named it (404 before). */
const up = async (what: string, check: (p: Peer) => boolean = () => true): Promise<Peer> =>
  await until(what, async () => {
    const p = await peer().catch((err: { code?: string }) => { if (err.code === 'ERR_NOT_FOUND') return undefined; throw err })
    return p !== undefined && p.state === 'up' && check(p) ? p : undefined
  }, 30_000)

interface ErrorReply { error?: { code: string, message: string } }
async function put (api: string, path: string, body: unknown): Promise<{ status: number, body: ErrorReply }> {
  const res = await fetch(api + path, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() as ErrorReply }
}

await up('the ep linked to the rc')
await rcApi.createRegion('faults', SIZE)
const win = await epApi.openWindow({ peer: 'rc', region: 'faults', size: SIZE, replica: true })
let next = 0
/** Writes the next 4 KiB of the pattern through the window: each byte is its 4 KiB block's number plus its offset. */
async function writeNext (): Promise<void> {
  const block = next++ % (SIZE / 4096)
  await epApi.writeWindow(win.id, block * 4096, Buffer.alloc(4096, block + 1))
}
/** Resolves once the rc's region holds every block written so far. */
async function converged (what: string): Promise<void> {
  const want = Buffer.alloc(SIZE)
  for (let i = 0; i < Math.min(next, SIZE / 4096); i++) want.fill(i + 1, i * 4096, (i + 1) * 4096)
  await until(what, async () => Buffer.from(await rcApi.readRegion('faults', 0, SIZE)).equals(want) ? true : undefined, 30_000)
}

t.test('off unless the daemon runs with --fault-injection', async (t) => {
  const r = await put(rc.api, '/v1/peers/ep/faults', { actions: ['reset'] })
  t.equal(r.status, 403)
  t.equal(r.body.error?.code, 'ERR_FORBIDDEN')
  t.match(r.body.error?.message, /--fault-injection/, 'the message says how to turn it on')
  t.equal((await fetch(rc.api + '/v1/peers/ep/faults', { method: 'DELETE' })).status, 403, 'DELETE too')
  t.equal((await rcApi.peer('ep')).faults, null, 'GET /v1/peers/:peer shows no plan')
})

t.test('bad plans are refused with the documented error shape', async (t) => {
  const cases: Array<[string, unknown, number, string]> = [
    ['no actions', { actions: [] }, 400, 'ERR_VALIDATION'],
    ['an unknown action', { actions: ['explode'] }, 400, 'ERR_VALIDATION'],
    ['an unknown field', { actions: ['close'], extra: 1 }, 400, 'ERR_VALIDATION'],
    ['a string for a number', { actions: ['close'], ms: '5' }, 400, 'ERR_VALIDATION'],
    ['maxGapMs below gapMs', { actions: ['close'], gapMs: 10, maxGapMs: 5 }, 400, 'ERR_VALIDATION']
  ]
  for (const [what, body, status, code] of cases) {
    const r = await put(ep.api, '/v1/peers/rc/faults', body)
    t.equal(r.status, status, what)
    t.equal(r.body.error?.code, code, `${what}: ${code}`)
  }
  const r = await put(ep.api, '/v1/peers/nobody/faults', { actions: ['close'] })
  t.equal(r.status, 404, 'an unknown peer')
  t.equal((await peer()).faults, null, 'nothing was set')
})

for (const action of ['reset', 'close'] as const) {
  t.test(`${action}: the connection ends, the dialer redials and the session resumes`, async (t) => {
    const before = await peer()
    await writeNext()
    const set = await epApi.setFaults('rc', { actions: [action], seed: 1 })
    t.match(set.faults, { plan: { actions: [action], count: 1, seed: 1 }, fired: 1, remaining: 0 }, 'the reply shows the plan with its defaults, its fault (due at once) already carried out')
    await writeNext()
    const after = await up('resumed', (p) => p.counters.connects > before.counters.connects && p.faults?.remaining === 0)
    t.match(after.faults, { fired: 1, remaining: 0, counts: { [action]: 1 } }, 'one fault carried out')
    t.ok(after.counters.resumes > before.counters.resumes, 'the session resumed')
    t.equal(after.counters.sessions, before.counters.sessions, 'no new session: nothing above the link was reset')
    await writeNext()
    await converged('the rc holds every write')
    await epApi.clearFaults('rc')
  })
}

t.test('a blackhole longer than dead-after: the connection is dropped, the session resumes after it', async (t) => {
  const before = await peer()
  await epApi.setFaults('rc', { actions: ['blackhole'], ms: DEAD_AFTER_MS + scaled(1000) })
  await writeNext()
  const during = await peer()
  // Held now, or (on a machine slow enough that dead-after passed already) held until the connection was dropped.
  if (during.faults?.active === 'blackhole') t.ok(during.faults.held + during.faults.lost > 0, `packets are held during the blackhole (${during.faults.held} held, ${during.faults.lost} dropped with the connection)`)
  const after = await up('resumed after the blackhole', (p) => p.counters.connects > before.counters.connects && p.faults?.active === null)
  t.equal(after.counters.sessions, before.counters.sessions, 'the same session')
  t.ok(after.counters.resumes > before.counters.resumes, 'resumed')
  await converged('the write made during the blackhole reaches the rc')
  await epApi.clearFaults('rc')
})

t.test('a delay: packets arrive late and in order; the connection stays', async (t) => {
  const before = await peer()
  const set = await epApi.setFaults('rc', { actions: ['delay'], ms: 1500, delayMs: 50 })
  t.equal(set.faults?.plan.delayMs, 50)
  for (let i = 0; i < 8; i++) await writeNext()
  await converged('the delayed writes arrive')
  const after = await up('the delay is over', (p) => p.faults?.active === null && p.faults.fired === 1)
  t.equal(after.counters.connects, before.counters.connects, 'no reconnect')
  t.equal(after.faults?.counts.delay, 1)
  await epApi.clearFaults('rc')
})

t.test('a seeded random plan, then DELETE', async (t) => {
  const before = await peer()
  await epApi.setFaults('rc', { actions: ['close', 'reset', 'blackhole'], count: 5, gapMs: 100, maxGapMs: 300, ms: 100, maxMs: 300, seed: 7 })
  const writes = (async () => { for (let i = 0; i < 40; i++) await writeNext() })()
  const done = await up('every fault carried out', (p) => p.faults?.remaining === 0 && p.faults.active === null)
  await writes
  t.equal(done.faults?.fired, 5)
  t.equal(Object.values(done.faults!.counts).reduce((a, b) => a + b, 0), 5, 'counted by action')
  t.equal(done.counters.sessions, before.counters.sessions, 'the same session throughout')
  await converged('every write reaches the rc')
  await epApi.clearFaults('rc')
  t.equal((await peer()).faults, null, 'DELETE clears the plan')
})
