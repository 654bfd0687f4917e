// Identity bound to the credential, with real daemons (issue 12): per-peer
// secrets from files; whoever holds B's secret cannot link as A, nor knock
// A's live link over (A stays up, the same session); a name with its own
// secret is not accepted with the shared secret; the real A, killed (-9)
// and started again, does take its link over. Every refusal says which case
// it is on both sides: the refusing daemon's log, the refused one's
// lastError (GET /v1/peers).

import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startDaemon, until, type Daemon } from '../support/daemon.js'
import { getJson } from '../support/rpmsg-procs.js'

interface PeerRow { name: string, state: string, lastError: string, incarnation: string, credential: string | null, counters: { sessions: number } }

const dir = mkdtempSync(join(tmpdir(), 'soclink-identity-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
const file = (name: string, text: string): string => {
  const p = join(dir, name)
  writeFileSync(p, text, { mode: 0o600 })
  return p
}
const aKey = file('a.key', 'secret-of-a\n')
const bKey = file('b.key', 'secret-of-b\n')
const sharedKey = file('shared.key', 'the-shared-one\n')

async function peers (d: Daemon): Promise<PeerRow[]> {
  return (await getJson<{ peers: PeerRow[] }>(d.api, '/v1/peers')).body.peers
}
async function peer (d: Daemon, name: string): Promise<PeerRow | undefined> {
  return (await peers(d)).find((p) => p.name === name)
}
/** The dialed peer's row, by URL (it has no name until it links). */
async function dialed (d: Daemon): Promise<PeerRow | undefined> {
  return (await peers(d))[0]
}
const upAt = async (d: Daemon, name: string): Promise<PeerRow | undefined> => { const p = await peer(d, name); return p?.state === 'up' ? p : undefined }

t.test('per-peer secrets: B\'s secret does not link as A, nor take A\'s link; the real A restarting does', async (t) => {
  const daemons: Daemon[] = []
  t.teardown(async () => { for (const d of daemons.reverse()) await d.stop('SIGKILL') })
  const sConfig = file('s.json', JSON.stringify({ secretFile: sharedKey, peers: [{ name: 'a', secretFile: aKey }, { name: 'b', secretFile: bKey }] }))
  const s = await startDaemon('s', ['--config', sConfig])
  daemons.push(s)
  const dialS = (name: string, key: string): string => file(`${name}-${Math.random().toString(36).slice(2)}.json`, JSON.stringify({ peers: [{ name: 's', secretFile: key, url: s.link }] }))

  const a = await startDaemon('a', ['--config', dialS('a', aKey)])
  daemons.push(a)
  const before = await until('a linked to s with its own secret', async () => await upAt(s, 'a'))
  t.equal(before.credential, 'peer-secret', 'GET /v1/peers shows what a proved')
  t.ok(await upAt(a, 's'), 'and s is up at a')

  // Whoever holds b's secret claims to be a.
  const fake = await startDaemon('a', ['--config', dialS('fake-a', bKey)])
  daemons.push(fake)
  const refused = await until('the impostor refused', async () => { const p = await dialed(fake); return p !== undefined && p.lastError !== '' ? p : undefined })
  t.equal(refused.lastError, 'refused by peer: authentication failed: wrong secret: a did not prove its own secret at s', 'the refused side is told why')
  t.equal(refused.state, 'connecting', 'and is not linked')
  const line = await until('s logs who it refused', () => s.logs.find((l) => l.includes('refused a link connection') && l.includes('claiming \\"a\\"')))
  t.match(line, /from 127\.0\.0\.1:\d+ claiming \\"a\\": authentication failed: wrong secret/, 'the refusing side logs the address, the claimed name and why')

  // As b, with b's secret, it links: the secret is b's identity.
  const asB = await startDaemon('b', ['--config', dialS('b', bKey)])
  daemons.push(asB)
  await until('b linked', async () => await upAt(s, 'b'))

  const after = await peer(s, 'a')
  t.match(after, { state: 'up', incarnation: before.incarnation, counters: { sessions: before.counters.sessions } }, 'a stayed up, in the same session')
  await fake.stop('SIGKILL')

  // The real a, killed and started again: a new incarnation, the same secret: it takes its link over.
  await a.stop('SIGKILL')
  const a2 = await startDaemon('a', ['--config', dialS('a2', aKey)])
  daemons.push(a2)
  const taken = await until('the new a took the link over', async () => { const p = await upAt(s, 'a'); return p !== undefined && p.incarnation !== before.incarnation ? p : undefined })
  t.equal(taken.state, 'up')
})

t.test('the shared secret is not accepted for a name with its own, and serves every other name', async (t) => {
  const daemons: Daemon[] = []
  t.teardown(async () => { for (const d of daemons.reverse()) await d.stop('SIGKILL') })
  const s = await startDaemon('s', ['--config', file('s2.json', JSON.stringify({ secretFile: sharedKey, peers: [{ name: 'a', secretFile: aKey }] }))])
  daemons.push(s)
  const a = await startDaemon('a', ['--config', file('a2.json', JSON.stringify({ peers: [{ name: 's', secretFile: aKey, url: s.link }] }))])
  daemons.push(a)
  const before = await until('a linked', async () => await upAt(s, 'a'))

  const fake = await startDaemon('a', ['--secret-file', sharedKey, '--peer', s.link])
  daemons.push(fake)
  const refused = await until('the shared-secret a refused', async () => { const p = await dialed(fake); return p !== undefined && p.lastError !== '' ? p : undefined })
  t.equal(refused.lastError, 'refused by peer: authentication failed: a has its own secret at s; the shared secret is not accepted for it')
  await until('s logs it', () => s.logs.find((l) => l.includes('the shared secret is not accepted for it')))

  const c = await startDaemon('c', ['--secret-file', sharedKey, '--peer', s.link])
  daemons.push(c)
  t.equal((await until('c, with no secret of its own, links with the shared one', async () => await upAt(s, 'c'))).credential, 'shared-secret')
  t.match(await peer(s, 'a'), { state: 'up', incarnation: before.incarnation, counters: { sessions: before.counters.sessions } }, 'a stayed up, in the same session')

  // Shared secret only: a restart of c (kill -9) takes its link over.
  const cBefore = (await peer(s, 'c'))!
  await c.stop('SIGKILL')
  const c2 = await startDaemon('c', ['--secret-file', sharedKey, '--peer', s.link])
  daemons.push(c2)
  await until('the new c took over', async () => { const p = await upAt(s, 'c'); return p !== undefined && p.incarnation !== cBefore.incarnation ? p : undefined })
})

t.test('no secret here, a secret there: each side says so', async (t) => {
  const daemons: Daemon[] = []
  t.teardown(async () => { for (const d of daemons.reverse()) await d.stop('SIGKILL') })
  const open = await startDaemon('open')
  daemons.push(open)
  const withSecret = await startDaemon('keyed', ['--secret-file', sharedKey, '--peer', open.link])
  daemons.push(withSecret)
  const p = await until('refused', async () => { const r = await dialed(withSecret); return r !== undefined && r.lastError !== '' ? r : undefined })
  t.equal(p.lastError, 'refused by peer: authentication failed: open has no secret; keyed proved one')
  await until('open logs it', () => open.logs.find((l) => l.includes('open has no secret; keyed proved one')))

  const locked = await startDaemon('locked', ['--secret-file', sharedKey])
  daemons.push(locked)
  const bare = await startDaemon('bare', ['--peer', locked.link])
  daemons.push(bare)
  const q = await until('refused', async () => { const r = await dialed(bare); return r !== undefined && r.lastError !== '' ? r : undefined })
  t.equal(q.lastError, 'refused by peer: authentication failed: locked has a secret; bare proved none')
  await until('locked logs it', () => locked.logs.find((l) => l.includes('locked has a secret; bare proved none')))
})

t.test('SIGHUP rereads the per-peer secret files; one that cannot be read keeps the secrets in use', async (t) => {
  const daemons: Daemon[] = []
  t.teardown(async () => { for (const d of daemons.reverse()) await d.stop('SIGKILL') })
  const sSide = file('s-side-a.key', 'first\n')
  const s = await startDaemon('s', ['--config', file('s3.json', JSON.stringify({ peers: [{ name: 'a', secretFile: sSide }] }))])
  daemons.push(s)
  const aWith = (secret: string): string => file(`a-${secret}.json`, JSON.stringify({ peers: [{ name: 's', secretFile: file(`a-side-${secret}.key`, secret), url: s.link }] }))
  const a = await startDaemon('a', ['--config', aWith('first')])
  daemons.push(a)
  await until('a linked with the first secret', async () => await upAt(s, 'a'))

  writeFileSync(sSide, 'second\n')
  s.proc.kill('SIGHUP')
  await until('s reread its secret files', () => s.logs.find((l) => l.includes('reread 1 per-peer secret files')))
  t.ok(await upAt(s, 'a'), 'the link already up stays up')

  await a.stop('SIGKILL')
  const old = await startDaemon('a', ['--config', aWith('first')])
  daemons.push(old)
  const refused = await until('the old secret refused', async () => { const p = await dialed(old); return p !== undefined && p.lastError !== '' ? p : undefined })
  t.match(refused.lastError, /wrong secret: a did not prove its own secret at s/)
  await old.stop('SIGKILL')
  const fresh = await startDaemon('a', ['--config', aWith('second')])
  daemons.push(fresh)
  await until('the new secret links', async () => { const p = await dialed(fresh); return p?.state === 'up' ? p : undefined })

  rmSync(sSide)
  s.proc.kill('SIGHUP')
  await until('s says the reload failed', () => s.logs.find((l) => l.includes('SIGHUP: per-peer secrets not reloaded')))
  await fresh.stop('SIGKILL')
  const again = await startDaemon('a', ['--config', aWith('second')])
  daemons.push(again)
  await until('the secret in use still links', async () => { const p = await dialed(again); return p?.state === 'up' ? p : undefined })
})
