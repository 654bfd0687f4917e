// Each role registers its own routes (roles/*-api.ts): a daemon's OpenAPI
// document (/docs/json) lists its role's routes and the node's, never
// another role's; a route another role serves answers 404 ERR_NOT_FOUND
// saying what this daemon is; and with bearer tokens every route the daemon
// registered, its role's included, answers 401 without a token.

import t from 'tap'
import { PUBLIC_ASSETS } from '../support/public-assets.js'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { apiRoutes, buildApi } from '../../daemon/src/api/server.js'
import { ROLES, type RoleName } from '../../daemon/src/config/settings.js'
import type { SoclinkNode } from '../../daemon/src/node.js'
import { startNode } from '../support/nodes.js'

const ADMIN = 'admin-0123456789abcdef0123456789abcdef'
const dir = mkdtempSync(join(tmpdir(), 'soclink-role-routes-'))
const tokenFile = join(dir, 'tokens')
writeFileSync(tokenFile, `admin ${ADMIN}\n`)

/** Route families by the roles that have them; the node's own (regions, peers, ...) are on every daemon. */
const FAMILIES: Record<string, readonly RoleName[]> = {
  '/v1/pci-ep': ['ep'],
  '/v1/pci': ['rc'],
  '/v1/vhost/vhost-client': ['ep', 'ntb-vhost'],
  '/v1/devices': ROLES,
  '/v1/virtqueues': ROLES,
  '/v1/ntb': ['ntb', 'ntb-virtio', 'ntb-vhost'],
  '/v1/ntb/pairs': ['ntb'],
  '/v1/ntb/db': ['ntb-virtio', 'ntb-vhost'],
  '/v1/ntb/perf': ['ntb-virtio', 'ntb-vhost'],
  '/v1/rpmsg/channels': ['rc', 'ep', 'ntb-virtio', 'ntb-vhost']
}

interface Doc { paths: Record<string, Record<string, unknown>> }

const daemons = new Map<RoleName, { node: SoclinkNode, app: FastifyInstance, doc: Doc }>()
t.teardown(async () => {
  for (const { node, app } of daemons.values()) { await app.close(); await node.stop('test') }
  rmSync(dir, { recursive: true, force: true })
})
for (const role of ROLES) {
  const node = await startNode(`routes-${role}`, ['--role', role, '--api-token-file', tokenFile])
  const app = await buildApi(node)
  const doc = (await app.inject({ url: '/docs/json', headers: { authorization: `Bearer ${ADMIN}` } })).json<Doc>()
  daemons.set(role, { node, app, doc })
}

const urlOf = (pattern: string): string => pattern.replace(/:[A-Za-z]+/g, '1').replace(/\*$/, 'x')

for (const role of ROLES) {
  t.test(`role ${role}: its document lists its own routes only`, async (t) => {
    const { doc } = daemons.get(role)!
    for (const [path, roles] of Object.entries(FAMILIES)) {
      if (roles.includes(role)) t.ok(doc.paths[path], `${path} is documented`)
      else t.notOk(doc.paths[path], `${path} is not documented`)
    }
    t.ok(doc.paths['/v1/regions'] && doc.paths['/v1/peers'] && doc.paths['/v1/node'], 'the node\'s routes are')
  })

  t.test(`role ${role}: another role's routes answer 404 saying what this daemon is`, async (t) => {
    const { app } = daemons.get(role)!
    for (const [path, roles] of Object.entries(FAMILIES)) {
      if (roles.includes(role)) continue
      const res = await app.inject({ url: path, headers: { authorization: `Bearer ${ADMIN}` } })
      t.equal(res.statusCode, 404, path)
      t.match(res.json(), { error: { code: 'ERR_NOT_FOUND', message: /not an? (PCIe|NTB)|no (vhost configfs|rpmsg bus)/ } }, `${path}: says why`)
      t.notMatch(res.json(), { error: { message: /^no route/ } }, `${path}: not just "no route"`)
    }
  })

  t.test(`role ${role}: every route it registered answers 401 without a token`, async (t) => {
    const { app } = daemons.get(role)!
    const routes = [...new Map(apiRoutes(app).map((r) => [`${r.method} ${r.url}`, r])).values()]
    t.ok(routes.length > 20, `${routes.length} routes`)
    for (const r of routes) {
      // The live view's own files, the one exception (api-auth.test.ts checks them).
      if (PUBLIC_ASSETS.has(`${r.method} ${r.url}`)) continue
      const res = await app.inject({ method: r.method as 'GET', url: urlOf(r.url) })
      t.equal(res.statusCode, 401, `${r.method} ${r.url}`)
    }
  })
}
