// A daemon as users start it (the built soclinkd): with a 1 GiB region it
// holds only the pages written, and its API (schemas loaded from the code the
// build saved, /docs built on first request) serves as before.

import t from 'tap'
import { readFileSync } from 'node:fs'
import { startDaemon } from '../support/daemon.js'

const GiB = 1024 * 1024 * 1024
const octets = { 'content-type': 'application/octet-stream' }

/** Resident memory of a process, from /proc. */
function residentBytes (pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (m === null) throw new Error(`no VmRSS for ${pid}`)
  return Number(m[1]) * 1024
}

const rc = await startDaemon('big', ['--role', 'rc', '--region', 'mem:1G'])
t.teardown(async () => { await rc.stop() })

t.test('a 1 GiB region holds only the pages written', async (t) => {
  const health = await fetch(`${rc.api}/healthz`)
  t.equal(health.status, 200)
  t.same(await health.json(), { status: 'ok' })

  const before = await (await fetch(`${rc.api}/v1/regions/mem`)).json() as { size: number, populatedPages: number }
  t.equal(before.size, GiB)
  t.equal(before.populatedPages, 0, 'no page before a write')
  t.ok(residentBytes(rc.proc.pid!) < GiB / 4, 'the region is not resident')

  const put = await fetch(`${rc.api}/v1/regions/mem/memory?offset=${GiB / 2}`, { method: 'PUT', headers: octets, body: Buffer.from('page') })
  t.equal(put.status, 200)
  const got = await fetch(`${rc.api}/v1/regions/mem/memory?offset=${GiB / 2}&length=4`)
  t.equal(Buffer.from(await got.arrayBuffer()).toString(), 'page')
  const unwritten = await fetch(`${rc.api}/v1/regions/mem/memory?offset=${GiB - 4096}&length=16`)
  t.same([...Buffer.from(await unwritten.arrayBuffer())], new Array(16).fill(0), 'unwritten bytes read as zero')

  const after = await (await fetch(`${rc.api}/v1/regions/mem`)).json() as { populatedPages: number }
  t.equal(after.populatedPages, 1, 'one write, one page; a read allocates none')
  t.ok(residentBytes(rc.proc.pid!) < GiB / 4, 'still not resident')
})

t.test('the API checks requests and serves /docs', async (t) => {
  const unknown = await fetch(`${rc.api}/healthz?verbose=1`)
  t.equal(unknown.status, 400)
  t.equal((await unknown.json() as { error: { code: string } }).error.code, 'ERR_VALIDATION')

  const created = await fetch(`${rc.api}/v1/regions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'small', size: 4096, extra: true }) })
  t.equal(created.status, 400, 'an unknown body field is refused')

  const doc = await fetch(`${rc.api}/docs/json`)
  t.equal(doc.status, 200)
  const body = await doc.json() as { paths: Record<string, unknown>, components: { schemas: Record<string, unknown> } }
  t.ok(body.paths['/v1/regions/{id}/memory'], 'documents region memory')
  t.ok(body.components.schemas.Region, 'Region is a component')
  const page = await fetch(`${rc.api}/docs`)
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /text\/html/)
})
