// fast-check arbitraries from the JSON Schemas of an OpenAPI document: values
// that follow a schema (most of the time near its edges), and values that
// break it (a field dropped, an unknown one added, a wrong type, any JSON).
// For fuzzing a live daemon's routes (test/e2e/rest-fuzz.test.ts).

import fc from 'fast-check'

export interface Schema {
  $ref?: string
  type?: string
  enum?: unknown[]
  nullable?: boolean
  anyOf?: Schema[]
  oneOf?: Schema[]
  properties?: Record<string, Schema>
  required?: string[]
  additionalProperties?: boolean | Schema
  items?: Schema
  minItems?: number
  maxItems?: number
  uniqueItems?: boolean
  minLength?: number
  maxLength?: number
  pattern?: string
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
}

/** Resolves "#/components/schemas/X" and "X#" against the document's components. */
export type Resolve = (ref: string) => Schema

export function resolverOf (components: Record<string, Schema>): Resolve {
  return (ref) => {
    const name = ref.startsWith('#/components/schemas/') ? ref.slice('#/components/schemas/'.length) : ref.replace(/#$/, '')
    const s = components[name]
    if (s === undefined) throw new Error(`unresolved $ref ${ref}`)
    return s
  }
}

/** Any JSON value, small. */
export const anyJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 3 })

/** Integers around a schema's bounds and beyond them, and plain ones. */
function integer (s: Schema): fc.Arbitrary<number> {
  const lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -(2 ** 31))
  const hi = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : 2 ** 31)
  return fc.oneof(
    { arbitrary: fc.integer({ min: Math.max(lo, Number.MIN_SAFE_INTEGER), max: Math.min(hi, Number.MAX_SAFE_INTEGER) }), weight: 4 },
    { arbitrary: fc.constantFrom(lo, hi, lo - 1, hi + 1, 0, 1, 2 ** 53, -1), weight: 1 }
  )
}

function string (s: Schema): fc.Arbitrary<string> {
  if (s.pattern !== undefined) {
    const re = new RegExp(s.pattern)
    return fc.stringMatching(re).filter((x) => x.length <= Math.max(s.maxLength ?? 64, 0) && x.length >= (s.minLength ?? 0))
  }
  return fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 40, 40) })
}

/** A value that follows `s` (JSON Schema as fastify and the OpenAPI document write it). */
export function valid (s: Schema, resolve: Resolve, depth = 0): fc.Arbitrary<unknown> {
  if (s.$ref !== undefined) return valid(resolve(s.$ref), resolve, depth)
  const inner = ((): fc.Arbitrary<unknown> => {
    if (s.enum !== undefined) return fc.constantFrom(...s.enum)
    const alts = s.anyOf ?? s.oneOf
    if (alts !== undefined) return fc.oneof(...alts.map((a) => valid(a, resolve, depth + 1)))
    switch (s.type) {
      case 'integer': return integer(s)
      case 'number': return fc.oneof(integer(s), fc.double({ noNaN: true, noDefaultInfinity: true }))
      case 'boolean': return fc.boolean()
      case 'string': return string(s)
      case 'null': return fc.constant(null)
      case 'array': {
        if (depth > 4) return fc.constant([])
        const items = valid(s.items ?? {}, resolve, depth + 1)
        const opts = { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 6, 6) }
        return s.uniqueItems === true ? fc.uniqueArray(items, { ...opts, selector: (v) => JSON.stringify(v) }) : fc.array(items, opts)
      }
      case 'object': {
        const props = s.properties ?? {}
        const required = new Set(s.required ?? [])
        const model: Record<string, fc.Arbitrary<unknown>> = {}
        for (const [k, p] of Object.entries(props)) model[k] = depth > 4 ? fc.constant(null) : valid(p, resolve, depth + 1)
        return fc.record(model, { requiredKeys: Object.keys(props).filter((k) => required.has(k)) })
      }
      default: return anyJson
    }
  })()
  return s.nullable === true ? fc.oneof(inner, fc.constant(null)) : inner
}

/** A value that probably breaks `s`: a field dropped or added, a wrong type, or any JSON at all. */
export function broken (s: Schema, resolve: Resolve): fc.Arbitrary<unknown> {
  const target = s.$ref !== undefined ? resolve(s.$ref) : s
  const alts: Array<fc.Arbitrary<unknown>> = [anyJson, fc.constantFrom(null, '', 0, -1, 2 ** 64, 'x'.repeat(5000), [], {}, true)]
  if (target.type === 'object' && target.properties !== undefined) {
    const keys = Object.keys(target.properties)
    alts.push(fc.tuple(valid(target, resolve), fc.string({ maxLength: 12 }), anyJson).map(([v, k, x]) => ({ ...(v as object), [k]: x })))
    if (keys.length > 0) {
      alts.push(fc.tuple(valid(target, resolve), fc.constantFrom(...keys)).map(([v, k]) => { const o = { ...(v as Record<string, unknown>) }; delete o[k]; return o }))
      alts.push(fc.tuple(valid(target, resolve), fc.constantFrom(...keys), anyJson).map(([v, k, x]) => ({ ...(v as object), [k]: x })))
    }
  }
  return fc.oneof(...alts)
}
