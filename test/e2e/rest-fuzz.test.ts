// Property-based fuzzing of every route of the OpenAPI document a live
// daemon serves (GET /docs/json), with fast-check: params, query strings and
// bodies made from each route's schemas, then broken (fields dropped or
// added, wrong types, any JSON, bad JSON, wrong media types, odd bytes in
// paths). An rc and an ep linked by rpmsg are fuzzed, each through its own
// API. Every answer must be 2xx, or the documented error shape
// {"error":{"code","message"}} with a code of the error registry and the
// status the registry gives it, a 4xx status (5xx: only 503, where the
// route documents it); none may hang, and both daemons keep serving /healthz.
// Seeded and bounded; SOCLINK_FUZZ_SEED=N replays a run.

import t from 'tap'
import fc from 'fast-check'
import { startDaemon, type Daemon } from '../support/daemon.js'
import { httpStatusOf, isErrorCode } from '../../daemon/src/error-codes.js'
import { rpmsgBus } from '../support/rpmsg-procs.js'
import { anyJson, broken, resolverOf, valid, type Resolve, type Schema } from '../support/schema-arbitrary.js'

const SEED = Number(process.env.SOCLINK_FUZZ_SEED ?? 20_112)
const RUNS_PER_ROUTE = 40
const REQUEST_MS = 20_000
t.comment(`fast-check seed ${SEED} (SOCLINK_FUZZ_SEED replays it)`)

interface Parameter { in: 'path' | 'query', name: string, required?: boolean, schema: Schema }
interface Operation {
  parameters?: Parameter[]
  requestBody?: { required?: boolean, content: Record<string, { schema: Schema }> }
  responses: Record<string, unknown>
}
interface OpenApi { paths: Record<string, Record<string, Operation>>, components: { schemas: Record<string, Schema> } }

interface Request { method: string, url: string, headers: Record<string, string>, body: string | Uint8Array | undefined }
interface Answer { status: number, text: string }

/** Names that exist on one daemon or the other, so that requests reach past "not found" too. */
const KNOWN = ['pcie.sysmem', 'fuzz', 'rc', 'ep', 'vhost0', 'pcie0', 'virtio0', '0', '1', '2', 'rpmsg-client-sample', 'rpmsg-chrdev', 'host1', 'tick']

/**
 * Answers outside the contract that belong to other items of issue 11: each
 * is left to the helper who owns that item and counted here, not failed.
 * The lead removes a mark once the fix is merged.
 */
const daemons: Daemon[] = []
t.teardown(async () => { for (const d of daemons.reverse()) await d.stop() })
const rc = await startDaemon('rc', ['--role', 'rc', '--fault-injection'])
daemons.push(rc)
const ep = await startDaemon('ep', ['--role', 'ep', '--fault-injection', '--peer', rc.link])
daemons.push(ep)
await rpmsgBus(ep)
await rpmsgBus(rc)

const doc = await (await fetch(rc.api + '/docs/json')).json() as OpenApi
const resolve: Resolve = resolverOf(doc.components.schemas)
const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })))

/** A path parameter: a known name, one its schema allows, or any string; encoded, or now and then raw. */
function pathValue (p: Parameter): fc.Arbitrary<string> {
  const value = fc.oneof(
    { arbitrary: fc.constantFrom(...KNOWN), weight: 4 },
    { arbitrary: valid(p.schema, resolve).map(String), weight: 4 },
    { arbitrary: fc.string({ maxLength: 30, unit: 'binary' }), weight: 4 },
    { arbitrary: fc.constant('x'.repeat(3000)), weight: 1 }
  )
  return fc.oneof({ arbitrary: value.map((v) => encodeURIComponent(v === '' ? 'x' : v)), weight: 9 }, { arbitrary: fc.constantFrom('%', '%zz', '%C0%AF', '..', '%2F'), weight: 1 })
}

function queryValue (p: Parameter): fc.Arbitrary<string> {
  return fc.oneof(valid(p.schema, resolve).map(String), fc.string({ maxLength: 20 }), fc.constantFrom('0', '-1', '0x10', '9007199254740993', '1e3', 'true', ''))
}

function request (route: { path: string, method: string, op: Operation }): fc.Arbitrary<Request> {
  const params = route.op.parameters ?? []
  const pathParams = params.filter((p) => p.in === 'path')
  const queryParams = params.filter((p) => p.in === 'query')
  const path = fc.tuple(...pathParams.map(pathValue)).map((values) => {
    let url = route.path
    pathParams.forEach((p, i) => { url = url.replace(`{${p.name}}`, values[i]!) })
    return url
  })
  const query = fc.tuple(
    fc.record(Object.fromEntries(queryParams.map((p) => [p.name, queryValue(p)])), { requiredKeys: [] }),
    fc.option(fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 })), { freq: 5 })
  ).map(([q, extra]) => {
    const s = new URLSearchParams(q as Record<string, string>)
    if (extra !== null) s.append(extra[0], extra[1])
    const text = s.toString()
    return text === '' ? '' : `?${text}`
  })
  const content = route.op.requestBody?.content ?? {}
  let body: fc.Arbitrary<{ headers: Record<string, string>, body: string | Uint8Array | undefined }> = fc.constant({ headers: {}, body: undefined })
  if (content['application/json'] !== undefined) {
    const schema = content['application/json'].schema
    const json = (v: unknown): { headers: Record<string, string>, body: string } => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(v) ?? 'null' })
    body = fc.oneof(
      { arbitrary: valid(schema, resolve).map(json), weight: 4 },
      { arbitrary: broken(schema, resolve).map(json), weight: 3 },
      { arbitrary: fc.constantFrom('{', '{"a":', '[1,]', '\u0000', '{"__proto__":{"x":1}}', '').map((b) => ({ headers: { 'content-type': 'application/json' }, body: b })), weight: 1 },
      { arbitrary: anyJson.map((v) => ({ headers: { 'content-type': 'text/plain' }, body: JSON.stringify(v) ?? '' })), weight: 1 },
      { arbitrary: fc.constant({ headers: {}, body: undefined }), weight: 1 }
    )
  } else if (content['application/octet-stream'] !== undefined) {
    body = fc.oneof(
      { arbitrary: fc.uint8Array({ maxLength: 4096 }).map((b) => ({ headers: { 'content-type': 'application/octet-stream' }, body: b })), weight: 4 },
      { arbitrary: anyJson.map((v) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(v) ?? '' })), weight: 1 },
      { arbitrary: fc.constant({ headers: {}, body: undefined }), weight: 1 }
    )
  }
  return fc.tuple(path, query, body).map(([p, q, b]) => ({ method: route.method, url: p + q, headers: b.headers, body: b.body }))
}

async function send (api: string, req: Request): Promise<Answer> {
  const res = await fetch(api + req.url, { method: req.method, headers: req.headers, body: req.body, signal: AbortSignal.timeout(REQUEST_MS) })
  return { status: res.status, text: await res.text() }
}

/** Why an answer breaks the contract, or null. */
function problem (op: Operation | undefined, a: Answer): string | null {
  if (a.status >= 200 && a.status < 300) return null
  let body: unknown
  try { body = JSON.parse(a.text) } catch { return 'a body that is not JSON' }
  const e = (body as { error?: Record<string, unknown> } | null)?.error
  const shaped = body !== null && typeof body === 'object' && Object.keys(body).length === 1 && e !== undefined && e !== null &&
    typeof e.code === 'string' && typeof e.message === 'string' && Object.keys(e).length === 2
  if (!shaped) return 'outside the documented error shape'
  // The code is one the registry defines, answered with the status the registry gives it.
  if (!isErrorCode(e.code)) return `a code the error registry does not define (${String(e.code)})`
  if (a.status !== httpStatusOf(e.code)) return `status ${a.status} for ${e.code}, which the error registry answers ${httpStatusOf(e.code)}`
  if (a.status >= 400 && a.status < 500) return null
  if (a.status === 503 && op?.responses['503'] !== undefined) return null
  return `status ${a.status}${a.status === 503 ? ' not documented for this route' : ''}`
}

t.test(`every route of the OpenAPI document (${routes.length}), ${RUNS_PER_ROUTE} requests each on each daemon`, async (t) => {
  const problems: string[] = []
  /** One example of each kind of problem (daemon, route, why, status, code). */
  const kinds = new Map<string, string>()
  let requests = 0
  for (const d of [rc, ep]) {
    for (const route of routes) {
      await fc.assert(fc.asyncProperty(request(route), async (req) => {
        requests++
        let a: Answer
        try {
          a = await send(d.api, req)
        } catch (err) {
          problems.push(`${d.name} ${req.method} ${req.url}: no answer (${(err as Error).message})`)
          return true
        }
        const why = problem(route.op, a)
        if (why === null) return true
        const kind = `${d.name} ${route.method} ${route.path}: ${why}: ${a.status} ${/"code":"([A-Z_]+)"/.exec(a.text)?.[1] ?? ''}`
        if (!kinds.has(kind)) kinds.set(kind, `${req.method} ${req.url.slice(0, 100)} [${String(req.body ?? '').slice(0, 100)}] -> ${a.text.slice(0, 200)}`)
        problems.push(kind)
        return true
      }), { seed: SEED, numRuns: RUNS_PER_ROUTE })
      const health = await fetch(d.api + '/healthz', { signal: AbortSignal.timeout(REQUEST_MS) }).then((r) => r.status, (err: Error) => err.message)
      if (health !== 200) problems.push(`${d.name}: /healthz answered ${health} after ${route.method} ${route.path}`)
    }
  }
  t.comment(`${requests} requests`)
  t.same([...kinds].map(([kind, example]) => `${kind} (e.g. ${example})`), [], `every answer 2xx or the documented error shape (${problems.length} problems; seed ${SEED})`)
  for (const d of [rc, ep]) {
    t.equal(d.proc.exitCode, null, `${d.name} still runs`)
    t.equal((await fetch(d.api + '/healthz')).status, 200, `${d.name} serves /healthz`)
  }
})
