// Validators and serializers compiled ahead of time. `npm run build` runs
// scripts/build-schemas.mjs, which registers every route once and saves the
// code Ajv and fast-json-stringify generate for each schema (their standalone
// modes) under dist/daemon/schemas/. At run time a route's first request loads
// its saved code instead of compiling, so the daemon does not load or run
// either compiler for the routes it serves at start (/healthz above all).
//
// Code is found by a hash of everything that shaped it: the schema, the shared
// schemas, the compiler options and the compiler's version. A schema changed
// since the build, or a daemon started from the TypeScript sources, finds no
// code and compiles as before: the saved code can make the daemon faster,
// never different.

import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export type SchemaKind = 'validator' | 'serializer'

/** Where the build saves generated code: dist/daemon/schemas/, beside dist/daemon/src/. */
export const BUILT_SCHEMA_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url))

// The compilers fastify itself resolves (its own dependencies), and their dependencies.
const fastifyRequire = createRequire(createRequire(import.meta.url).resolve('fastify'))
const ajvCompilerPath = fastifyRequire.resolve('@fastify/ajv-compiler')
const fjsCompilerPath = fastifyRequire.resolve('@fastify/fast-json-stringify-compiler')

/** Loads the compiler package a kind of code comes from: @fastify/ajv-compiler or @fastify/fast-json-stringify-compiler. */
export function compilerModule (kind: SchemaKind): unknown {
  return fastifyRequire(kind === 'validator' ? ajvCompilerPath : fjsCompilerPath)
}

// Generated code requires its compiler's runtime (ajv/dist/runtime/*, fast-json-stringify/lib/serializer), found from where that compiler is installed.
let requireFor: Record<SchemaKind, NodeJS.Require> | undefined
function runtimeRequire (kind: SchemaKind): NodeJS.Require {
  requireFor ??= {
    validator: createRequire(ajvCompilerPath),
    serializer: createRequire(createRequire(fjsCompilerPath).resolve('fast-json-stringify'))
  }
  return requireFor[kind]
}

function versionOf (kind: SchemaKind): string {
  const req = runtimeRequire(kind)
  const pkg = kind === 'validator' ? 'ajv/package.json' : 'fast-json-stringify/package.json'
  return (req(pkg) as { version: string }).version
}

/** The hash that names one schema's code. `context` is what the route's compiler shares (shared schemas, options), already serialized. */
export function schemaKey (kind: SchemaKind, context: string, schema: unknown): string {
  return createHash('sha256').update(`${kind}\0${versionOf(kind)}\0${context}\0${JSON.stringify(schema)}`).digest('hex').slice(0, 32)
}

/** Saved code by key, in one directory (one file per key). */
export class SchemaCodeStore {
  constructor (readonly dir: string) {}

  /** The code saved under key, or undefined. */
  read (key: string): string | undefined {
    try {
      return readFileSync(join(this.dir, `${key}.cjs`), 'utf8')
    } catch {
      return undefined
    }
  }

  write (key: string, code: string): void {
    mkdirSync(this.dir, { recursive: true })
    writeFileSync(join(this.dir, `${key}.cjs`), code)
  }
}

/** Runs saved CommonJS code (`module.exports = fn`) and returns fn. */
export function loadCode<T> (kind: SchemaKind, code: string): T {
  const module = { exports: {} as unknown }
  // Code the build generated from our own schemas; run as fastify's standalone mode would require() it.
  new Function('module', 'exports', 'require', code)(module, module.exports, runtimeRequire(kind))
  if (typeof module.exports !== 'function') throw new Error(`saved ${kind} code exports no function`)
  return module.exports as T
}
