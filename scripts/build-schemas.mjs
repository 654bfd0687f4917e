// Compiles every route's validators and serializers ahead of time: builds
// the control API once (every role's routes are registered on every daemon),
// makes each schema in write mode and saves the generated code under
// dist/daemon/schemas/, where daemons load it on a route's first request
// (daemon/src/api/schema-code.ts). Runs after tsc, on the built JavaScript.
import { rmSync } from 'node:fs'
import pino from 'pino'

const dist = new URL('../dist/daemon/src/', import.meta.url)
const { loadSettings } = await import(new URL('config/settings.js', dist).href)
const { SoclinkNode } = await import(new URL('node.js', dist).href)
const { buildApi, apiCompilers } = await import(new URL('api/server.js', dist).href)
const { BUILT_SCHEMA_DIR, SchemaCodeStore } = await import(new URL('api/schema-code.js', dist).href)

rmSync(BUILT_SCHEMA_DIR, { recursive: true, force: true })
const loaded = loadSettings({ argv: ['--name', 'build'], env: {}, readFile: () => '' })
const node = new SoclinkNode(loaded.settings, pino({ level: 'silent' }))
const api = await buildApi(node, { schemaCode: { store: new SchemaCodeStore(BUILT_SCHEMA_DIR), mode: 'write' } })
await api.ready()
const compilers = apiCompilers(api)
compilers.compileAll()
await api.close()
console.log(`build-schemas: ${compilers.counts().compiled} validators and serializers saved in ${BUILT_SCHEMA_DIR}`)
