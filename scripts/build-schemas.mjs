// Compiles every route's validators and serializers ahead of time: builds
// the control API of each role (a role registers its own routes), makes
// each schema in write mode and saves the generated code under
// dist/daemon/schemas/, where daemons load it on a route's first request
// (daemon/src/api/schema-code.ts). Runs after tsc, on the built JavaScript.
import { rmSync } from 'node:fs'
import pino from 'pino'

const dist = new URL('../dist/daemon/src/', import.meta.url)
const { loadSettings, ROLES } = await import(new URL('config/settings.js', dist).href)
const { createNode } = await import(new URL('daemon.js', dist).href)
const { buildApi, apiCompilers } = await import(new URL('api/server.js', dist).href)
const { BUILT_SCHEMA_DIR, SchemaCodeStore } = await import(new URL('api/schema-code.js', dist).href)

rmSync(BUILT_SCHEMA_DIR, { recursive: true, force: true })
let compiled = 0
for (const role of ROLES) {
  const loaded = loadSettings({ argv: ['--name', 'build', '--role', role], env: {}, readFile: () => '' })
  const node = createNode(loaded.settings, pino({ level: 'silent' }))
  const api = await buildApi(node, { schemaCode: { store: new SchemaCodeStore(BUILT_SCHEMA_DIR), mode: 'write' } })
  await api.ready()
  const compilers = apiCompilers(api)
  compilers.compileAll()
  await api.close()
  compiled += compilers.counts().compiled
}
console.log(`build-schemas: ${compiled} validators and serializers of ${ROLES.length} roles saved in ${BUILT_SCHEMA_DIR}`)
