// Schema compilers that make each route's validators and serializers on
// first use instead of at start. fastify compiles every body, params, query
// and reply schema of every route when the server boots (Ajv for requests,
// fast-json-stringify for replies); with some 70 routes that was most of the
// daemon's start-up time and a third of its idle memory, for routes a daemon
// may never serve. On first use a schema's code saved by the build is loaded
// (schema-code.ts), or else compiled by fastify's own compilers, so what is
// checked and how replies are serialized is unchanged; only when moves.

import type { FastifyServerOptions } from 'fastify'
import { compilerModule, loadCode, schemaKey, type SchemaCodeStore, type SchemaKind } from './schema-code.js'

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>

/** What fastify passes a compiler for one schema of one route (its published types say less). */
interface RouteSchema { schema: unknown, method?: string, url?: string, httpPart?: string, httpStatus?: string, contentType?: string }

/** An Ajv validate function as fastify calls it: `errors` after a failure, `schemaEnv` when it takes a parent context. */
interface Validate {
  (data: unknown, ctx?: unknown): unknown
  errors?: unknown
  schemaEnv?: unknown
}
type Serialize = (data: unknown) => string
type Factory<F> = (externalSchemas: unknown, options: unknown) => (route: RouteSchema) => F
type StandaloneFactory = (opts: { readMode: false, storeFunction: (route: RouteSchema, code: string) => void }) => Factory<unknown>

export interface SchemaCodeOptions {
  /** Saved code to load before compiling (read), or where to save what is compiled (write: the build). */
  store: SchemaCodeStore
  mode: 'read' | 'write'
}

export interface CompileCounts {
  /** Schemas not made yet. */
  pending: number
  /** Made from saved code. */
  loaded: number
  /** Compiled at run time (no saved code, or in write mode). */
  compiled: number
}

export interface LazyCompilers {
  compilersFactory: CompilersFactory
  counts: () => CompileCounts
  /** Makes every route schema now; throws on the first that does not compile. For the build and for tests. */
  compileAll: () => void
}

export function lazyCompilers (code?: SchemaCodeOptions): LazyCompilers {
  const uncompiled = new Set<() => void>()
  const made = { loaded: 0, compiled: 0 }

  /** One kind's factory: fastify calls it once per set of shared schemas, then once per route schema. */
  function lazyFactory<F> (kind: SchemaKind): Factory<F> {
    // One selector per server, as fastify keeps (the validator's pools one Ajv per set of shared schemas and options).
    let selector: Factory<F> | undefined
    return (externalSchemas, options) => {
      let compiler: ((route: RouteSchema) => F) | undefined
      let context: string | undefined
      const compile = (route: RouteSchema): F => {
        if (code?.mode === 'write') return compileAndSave(kind, code.store, externalSchemas, options, route, keyOf(route))
        if (code !== undefined) {
          const saved = code.store.read(keyOf(route))
          if (saved !== undefined) {
            try {
              const fn = loadCode<F>(kind, saved)
              made.loaded++
              return fn
            } catch {
              // Damaged saved code (a partial copy, say) is compiled over, never served.
            }
          }
        }
        made.compiled++
        selector ??= (compilerModule(kind) as () => Factory<F>)()
        compiler ??= selector(externalSchemas, options)
        return compiler(route)
      }
      const keyOf = (route: RouteSchema): string => {
        context ??= JSON.stringify({ externalSchemas, options })
        return schemaKey(kind, context, route.schema)
      }
      return (route) => {
        let real: F | undefined
        const force = (): F => {
          if (real === undefined) {
            real = compile(route)
            uncompiled.delete(force)
          }
          return real
        }
        uncompiled.add(force)
        return kind === 'validator' ? lazyValidate(force as () => Validate) as F : ((data: unknown) => (force() as Serialize)(data)) as F
      }
    }
  }

  // Write mode: one standalone compiler per set of shared schemas; the saved code is loaded back, so a build whose code does not load fails.
  let lastCode = ''
  const standalone = new Map<string, (route: RouteSchema) => unknown>()
  function compileAndSave<F> (kind: SchemaKind, store: SchemaCodeStore, externalSchemas: unknown, options: unknown, route: RouteSchema, key: string): F {
    const id = `${kind}\0${JSON.stringify({ externalSchemas, options })}`
    let compiler = standalone.get(id)
    if (compiler === undefined) {
      const mod = compilerModule(kind) as { StandaloneValidator?: StandaloneFactory, StandaloneSerializer?: StandaloneFactory }
      const make = kind === 'validator' ? mod.StandaloneValidator! : mod.StandaloneSerializer!
      // Both factories write into the options they are given: pass copies. inlineValidators: replies with anyOf need no Ajv at run time.
      const opts = kind === 'validator' ? { ...(options as object) } : { ...(options as object), inlineValidators: true }
      compiler = make({ readMode: false, storeFunction: (_route, c) => { lastCode = c } })(externalSchemas, opts)
      standalone.set(id, compiler)
    }
    compiler(route)
    store.write(key, lastCode)
    made.compiled++
    return loadCode<F>(kind, lastCode)
  }

  return {
    compilersFactory: { buildValidator: lazyFactory<Validate>('validator'), buildSerializer: lazyFactory<Serialize>('serializer') } as unknown as CompilersFactory,
    counts: () => ({ pending: uncompiled.size, ...made }),
    compileAll: () => { for (const force of [...uncompiled]) force() }
  }
}

/** A validate function that makes the real one on its first call and hands back its errors. */
function lazyValidate (force: () => Validate): Validate {
  const validate: Validate = (data, ctx) => {
    const fn = force()
    const result = fn(data, ctx)
    validate.errors = fn.errors
    return result
  }
  // fastify passes the parent context (what Ajv needs to change a root value) only to functions that have schemaEnv;
  // compiled and saved Ajv functions alike take it as their second argument.
  validate.schemaEnv = true
  return validate
}
