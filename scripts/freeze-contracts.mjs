// The control API's contracts (proto/api) are TypeBox builders in the
// source, so that one definition gives both the JSON Schema and the type.
// At run time the daemon needs only the schemas, and importing TypeBox
// would cost every daemon start ~160 ms (`import('typebox')` on a 2-core
// machine). So the build replaces each compiled contract module with its
// values written out as JSON: the same schemas, minus TypeBox's
// symbol-keyed metadata, which nothing at run time reads (Ajv and
// @fastify/swagger read JSON Schema). The .d.ts files tsc wrote stay as
// they are, so the client's types do not change.
import { readdirSync, writeFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

const dir = new URL('../dist/proto/api/', import.meta.url)
// `ref` is the one function the daemon calls at run time (schema.ts): a $ref to a shared contract.
const REF = 'export function ref (s, description) { return { $ref: `${s.$id}#`, ...(description !== undefined && { description }) } }'

const modules = readdirSync(dir).filter((f) => f.endsWith('.js') && f !== 'schema.js')
// Import every module before writing any, so each is read from tsc's output.
const values = await Promise.all(modules.map(async (f) => [f, await import(pathToFileURL(new URL(f, dir).pathname).href)]))
for (const [file, exports] of values) {
  const lines = [`// Written by scripts/freeze-contracts.mjs from proto/api/${file.replace(/\.js$/, '.ts')}: its values as JSON.`]
  for (const [name, value] of Object.entries(exports)) {
    if (name === 'ref' && typeof value === 'function') lines.push(REF)
    else if (typeof value === 'function') throw new Error(`freeze-contracts: ${file} exports a function, ${name}, which cannot be written as JSON`)
    else lines.push(`export const ${name} = ${JSON.stringify(value)}`)
  }
  writeFileSync(new URL(file, dir), lines.join('\n') + '\n')
}
