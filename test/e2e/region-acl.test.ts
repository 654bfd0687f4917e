// Region ACLs with three real daemons (issue 12): the rc's region that lists
// only ep is read and written by ep through a window; a third daemon linked
// to the same rc is refused the window (403 ERR_FORBIDDEN, the owner's
// reason), so it reads nothing. A region made by POST /v1/regions with a
// peers list shows it in GET; one without is open to every peer, as before.

import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startDaemon, until, type Daemon } from '../support/daemon.js'
import { getJson } from '../support/rpmsg-procs.js'

const dir = mkdtempSync(join(tmpdir(), 'soclink-acl-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })

async function post (api: string, path: string, body: unknown): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fetch(api + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

t.test('a third daemon cannot read the rc\'s region that lists only ep; ep can', async (t) => {
  const daemons: Daemon[] = []
  t.teardown(async () => { for (const d of daemons.reverse()) await d.stop('SIGKILL') })
  const config = join(dir, 'rc.json')
  writeFileSync(config, JSON.stringify({ regions: [{ name: 'vault', size: 4096, peers: ['ep'] }, 'lobby:4K'] }))
  const rc = await startDaemon('rc', ['--role', 'rc', '--config', config])
  daemons.push(rc)
  const ep = await startDaemon('ep', ['--role', 'ep', '--peer', rc.link])
  daemons.push(ep)
  const third = await startDaemon('third', ['--role', 'rc', '--peer', rc.link])
  daemons.push(third)
  for (const d of [ep, third]) {
    await until(`${d.name} linked to rc`, async () => (await getJson<{ peers: Array<{ name: string, state: string }> }>(d.api, '/v1/peers')).body.peers.some((p) => p.name === 'rc' && p.state === 'up'))
  }
  const put = await fetch(`${rc.api}/v1/regions/vault/memory?offset=0`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from('TOPSECRET') })
  t.ok(put.ok, 'the rc writes its region')
  const vault = await getJson<{ peers: string[] | null }>(rc.api, '/v1/regions/vault')
  t.same(vault.body.peers, ['ep'], 'GET shows the region\'s peers list')
  t.equal((await getJson<{ peers: string[] | null }>(rc.api, '/v1/regions/lobby')).body.peers, null, 'and null for a region without one')

  const refused = await post(third.api, '/v1/windows', { peer: 'rc', region: 'vault', size: 4096 })
  t.equal(refused.status, 403, 'the third daemon is refused the window')
  t.match(refused.body, { error: { code: 'ERR_FORBIDDEN', message: /region vault does not list peer third among its peers/ } })
  const byId = await post(third.api, '/v1/windows', { peer: 'rc', region: (vault.body as unknown as { id: number }).id, size: 16 })
  t.equal(byId.status, 403, 'by id as well')
  t.equal((await getJson<{ windows: unknown[] }>(third.api, '/v1/windows')).body.windows.length, 0, 'and no window is left behind')

  const w = await post(ep.api, '/v1/windows', { peer: 'rc', region: 'vault', size: 4096 })
  t.equal(w.status, 201, 'ep opens it')
  const read = await fetch(`${ep.api}/v1/windows/${String(w.body.id)}/memory?offset=0&length=9&uncached=true`)
  t.equal(Buffer.from(await read.arrayBuffer()).toString(), 'TOPSECRET', 'and reads it')
  const subs = await getJson<{ subscribers: Array<{ peer: string }> }>(rc.api, '/v1/regions/vault')
  t.same(subs.body.subscribers.map((s) => s.peer), ['ep'])

  const lobby = await post(third.api, '/v1/windows', { peer: 'rc', region: 'lobby', size: 4096 })
  t.equal(lobby.status, 201, 'a region without a list: every peer, as before')

  const made = await post(rc.api, '/v1/regions', { name: 'shelf', size: 4096, peers: ['third'] })
  t.equal(made.status, 201)
  t.same(made.body.peers, ['third'], 'POST /v1/regions takes a peers list')
  t.equal((await post(ep.api, '/v1/windows', { peer: 'rc', region: 'shelf', size: 4096 })).status, 403, 'which keeps ep out')
  t.equal((await post(third.api, '/v1/windows', { peer: 'rc', region: 'shelf', size: 4096 })).status, 201, 'and lets third in')
  t.equal((await post(rc.api, '/v1/regions', { name: 'bad', size: 4096, peers: [''] })).status, 400, 'a peers list of empty names is a 400')
})
