// The build writes the compiled contract modules (dist/proto/api) out as
// JSON (scripts/freeze-contracts.mjs), so a daemon start does not load
// TypeBox: each must import nothing, and hold exactly the JSON Schema its
// TypeBox source builds.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ROOT } from '../support/repo.js'

const built = join(ROOT, 'dist/proto/api')
const modules = readdirSync(built).filter((f) => f.endsWith('.js') && f !== 'schema.js')

t.test('every contract module the daemon loads is frozen: no import, so no TypeBox', async (t) => {
  t.ok(modules.includes('index.js') && modules.includes('ntb-tool.js'), modules.join(', '))
  for (const f of modules) t.notMatch(readFileSync(join(built, f), 'utf8'), /^\s*import\b|\bfrom ['"]/m, f)
})

t.test('each holds what its TypeBox source builds, as JSON', async (t) => {
  for (const f of modules) {
    const frozen = await import(pathToFileURL(join(built, f)).href) as Record<string, unknown>
    const source = await import(pathToFileURL(join(ROOT, 'proto/api', f.replace(/\.js$/, '.ts'))).href) as Record<string, unknown>
    const data = (m: Record<string, unknown>): string[] => Object.keys(m).filter((k) => typeof m[k] !== 'function').sort()
    t.same(data(frozen), data(source), `${f}: the same exports`)
    for (const k of data(source)) t.same(frozen[k], JSON.parse(JSON.stringify(source[k])) as unknown, `${f}: ${k}`)
  }
})

t.test('ref makes the same $ref as the source', async (t) => {
  const frozen = await import(pathToFileURL(join(built, 'index.js')).href) as { ref: (s: unknown, d?: string) => unknown, DeviceSchema: unknown }
  const source = await import(pathToFileURL(join(ROOT, 'proto/api/index.ts')).href) as { ref: (s: unknown, d?: string) => unknown, DeviceSchema: unknown }
  t.same(frozen.ref(frozen.DeviceSchema), JSON.parse(JSON.stringify(source.ref(source.DeviceSchema))) as unknown)
  t.same(frozen.ref(frozen.DeviceSchema, 'x'), { $ref: 'Device#', description: 'x' })
})
