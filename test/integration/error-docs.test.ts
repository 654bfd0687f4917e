// Every route's documented error responses, as the OpenAPI document each
// role's daemon serves at /docs/json says them, map to codes of the error
// registry: each documented error status has at least one code with that
// status, its body is the Error schema, and the Error schema's code is the
// registry's list. With bearer tokens the 401 and 403 every route gains are
// walked too.

import t, { type Test } from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApi } from '../../daemon/src/api/server.js'
import { ERRORS, httpStatusOf, type ErrorCode } from '../../daemon/src/errors.js'
import { ROLES } from '../../daemon/src/config/settings.js'
import { startNode } from '../support/nodes.js'

interface Operation { responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> }
interface Doc { paths: Record<string, Record<string, Operation>>, components: { schemas: Record<string, { properties: { error: { properties: { code: { enum?: string[] } } } } }> } }

const codes = Object.keys(ERRORS) as ErrorCode[]
const statusesWithCodes = new Set(codes.map(httpStatusOf))

async function walk (t: Test, doc: Doc): Promise<number> {
  t.same(doc.components.schemas.Error?.properties.error.properties.code.enum, codes, 'the Error schema lists the registry\'s codes')
  let replies = 0
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      for (const [status, reply] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue
        replies++
        const where = `${method.toUpperCase()} ${path} ${status}`
        if (!statusesWithCodes.has(Number(status))) t.fail(`${where}: no registry code has status ${status}`)
        if (reply.content?.['application/json']?.schema?.$ref !== '#/components/schemas/Error') t.fail(`${where}: not the Error schema`)
      }
      if (op.responses['500'] === undefined) t.fail(`${method.toUpperCase()} ${path}: 500 not documented`)
    }
  }
  return replies
}

for (const role of ROLES) {
  t.test(`role ${role}: every documented error status maps to registry codes`, async (t) => {
    const node = await startNode(`docs-${role}`, ['--role', role])
    t.teardown(async () => { await node.stop('test') })
    const app = await buildApi(node)
    t.teardown(async () => { await app.close() })
    const res = await app.inject({ url: '/docs/json' })
    t.equal(res.statusCode, 200)
    const replies = await walk(t, res.json<Doc>())
    t.ok(replies > 100, `${replies} documented error replies`)
  })
}

t.test('with bearer tokens: 401 and 403 map to registry codes too', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'soclink-error-docs-'))
  const tokens = join(dir, 'tokens')
  writeFileSync(tokens, 'admin admin-token-0123456789abcdef\n')
  const node = await startNode('docs-auth', ['--role', 'rc', '--api-token-file', tokens])
  t.teardown(async () => { await node.stop('test') })
  const app = await buildApi(node)
  t.teardown(async () => { await app.close() })
  const res = await app.inject({ url: '/docs/json', headers: { authorization: 'Bearer admin-token-0123456789abcdef' } })
  t.equal(res.statusCode, 200)
  const doc = res.json<Doc>()
  t.ok(doc.paths['/v1/regions']?.get?.responses['401'], 'a 401 is documented')
  await walk(t, doc)
})
