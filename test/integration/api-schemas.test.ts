// The control API's schemas are made on first use (compiled, or loaded from
// code saved ahead of time) and /docs on its first request; none of that may
// change what is checked or served. Real daemons in process, requests through
// app.inject.

import t, { type Test } from 'tap'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { apiCompilers, buildApi } from '../../daemon/src/api/server.js'
import { SchemaCodeStore } from '../../daemon/src/api/schema-code.js'
import { record } from '../../daemon/src/api/schemas.js'
import { startNode } from '../support/nodes.js'

interface ErrorBody { error: { code: string, message: string } }
const errorCode = (res: LightMyRequestResponse): string => res.json<ErrorBody>().error.code

const node = await startNode('schemas', ['--role', 'rc', '--region', 'mem:64K'])
const dir = mkdtempSync(join(tmpdir(), 'soclink-schemas-'))
const apis: FastifyInstance[] = []
t.teardown(async () => {
  for (const api of apis) await api.close()
  await node.stop('test')
  rmSync(dir, { recursive: true, force: true })
})

/** An API on the node, with one extra route whose handler returns a field its reply schema does not have (and whose reply has an anyOf). */
async function api (mode?: 'read' | 'write', store = new SchemaCodeStore(dir)): Promise<FastifyInstance> {
  const app = await buildApi(node, mode === undefined ? {} : { schemaCode: { store, mode } })
  app.get('/test/leaky', {
    schema: { response: { 200: record({ shown: { type: 'integer' }, maybe: { anyOf: [{ type: 'integer' }, { type: 'null' }] } }) } }
  }, async () => ({ shown: 1, maybe: null, secret: 'not in the schema' }))
  await app.ready()
  apis.push(app)
  return app
}

/** The same checks whichever way the schemas were made. */
async function checksHold (t: Test, app: FastifyInstance): Promise<void> {
  const ok = await app.inject({ url: '/healthz' })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { status: 'ok' })

  const unknownQuery = await app.inject({ url: '/healthz?verbose=1' })
  t.equal(unknownQuery.statusCode, 400, 'an unknown query field is refused')
  t.equal(errorCode(unknownQuery), 'ERR_VALIDATION')

  const extraField = await app.inject({ method: 'POST', url: '/v1/regions', payload: { name: 'r1', size: 4096, colour: 'red' } })
  t.equal(extraField.statusCode, 400, 'an unknown body field is refused, not dropped')
  t.equal(errorCode(extraField), 'ERR_VALIDATION')
  const coerced = await app.inject({ method: 'POST', url: '/v1/regions', payload: { name: 'r1', size: '4096' } })
  t.equal(coerced.statusCode, 400, 'a number in a string is not coerced')

  const leaky = await app.inject({ url: '/test/leaky' })
  t.equal(leaky.statusCode, 200)
  t.equal(leaky.body, '{"shown":1,"maybe":null}', 'a reply field outside the schema is not sent')

  // A shared schema by $ref, and the shared error reply.
  const region = await app.inject({ url: '/v1/regions/mem' })
  t.equal(region.statusCode, 200)
  t.match(region.json(), { name: 'mem', size: 65536, populatedPages: 0, subscribers: [] })
  const missing = await app.inject({ url: '/v1/regions/nope' })
  t.equal(missing.statusCode, 404)
  t.same(Object.keys(missing.json<ErrorBody>().error).sort(), ['code', 'message'])
}

t.test('nothing is compiled at start; every schema compiles on demand', async (t) => {
  const app = await api()
  const start = apiCompilers(app).counts()
  t.equal(start.compiled + start.loaded, 0, 'no schema made at start')
  t.ok(start.pending > 100, `${start.pending} schemas waiting`)
  await checksHold(t, app)
  const used = apiCompilers(app).counts()
  t.ok(used.compiled > 0 && used.pending < start.pending, 'the routes used made their schemas')
  apiCompilers(app).compileAll()
  t.equal(apiCompilers(app).counts().pending, 0, 'every route schema compiles')
})

t.test('code saved ahead of time is what serves, and checks the same', async (t) => {
  const writer = await api('write')
  apiCompilers(writer).compileAll()
  const saved = readdirSync(dir).length
  t.ok(saved > 50, `${saved} files of generated code`)
  // The writer serves from the code it saved, loaded back.
  await checksHold(t, writer)

  const reader = await api('read')
  await checksHold(t, reader)
  const c = apiCompilers(reader).counts()
  t.ok(c.loaded > 0, `${c.loaded} schemas loaded from saved code`)
  t.equal(c.compiled, 0, 'none compiled at run time')
})

t.test('saved code that is missing or damaged is compiled over', async (t) => {
  const damaged = new SchemaCodeStore(mkdtempSync(join(tmpdir(), 'soclink-damaged-')))
  t.teardown(() => { rmSync(damaged.dir, { recursive: true, force: true }) })
  await api('write', damaged).then((w) => { apiCompilers(w).compileAll() })
  for (const f of readdirSync(damaged.dir)) writeFileSync(join(damaged.dir, f), 'module.exports = 42 +')
  const app = await api('read', damaged)
  await checksHold(t, app)
  const c = apiCompilers(app).counts()
  t.equal(c.loaded, 0)
  t.ok(c.compiled > 0)

  const none = await api('read', new SchemaCodeStore(join(dir, 'does-not-exist')))
  await checksHold(t, none)
  t.equal(apiCompilers(none).counts().loaded, 0)
})

t.test('/docs is built on first request and documents every route', async (t) => {
  const app = await api()
  // Two first requests at once share one build.
  const [json, yaml] = await Promise.all([app.inject({ url: '/docs/json' }), app.inject({ url: '/docs/yaml' })])
  t.equal(json.statusCode, 200)
  t.equal(yaml.statusCode, 200)
  t.match(yaml.headers['content-type'], /yaml/)
  const doc = json.json<{ openapi: string, info: { title: string }, paths: Record<string, Record<string, { responses: Record<string, unknown> }>>, components: { schemas: Record<string, unknown> } }>()
  t.equal(doc.openapi, '3.0.3')
  t.equal(doc.info.title, 'soclink control API')
  let operations = 0
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const method of Object.keys(methods)) {
      operations++
      const url = path.replace(/\{(\w+)\}/g, ':$1')
      t.ok(app.hasRoute({ method: method.toUpperCase() as 'GET', url }), `${method} ${path} is a route`)
    }
  }
  // The node's routes and the rc's own (each role documents its own: role-routes.test.ts).
  t.ok(operations > 40, `${operations} operations documented`)
  t.notOk(Object.keys(doc.paths).some((p) => p.startsWith('/docs')), '/docs itself is not documented')
  t.ok(doc.paths['/test/leaky'], 'a route added after buildApi is documented too')
  t.match(doc.paths['/v1/regions'].post.responses['201'], { content: { 'application/json': { schema: { $ref: '#/components/schemas/Region' } } } }, 'a reply by shared schema')
  for (const id of Object.keys(app.getSchemas())) t.ok(doc.components.schemas[id], `shared schema ${id} is a component`)

  const page = await app.inject({ url: '/docs' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  const css = await app.inject({ url: '/docs/static/swagger-ui.css' })
  t.equal(css.statusCode, 200)
  const nothing = await app.inject({ url: '/docs/static/nothing-here.js' })
  t.equal(nothing.statusCode, 404)
})
