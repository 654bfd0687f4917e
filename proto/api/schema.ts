// The pieces every contract is built from. A contract is a TypeBox schema:
// a plain JSON Schema object (what fastify validates and serializes with,
// and @fastify/swagger documents) whose TypeScript type is Static<typeof
// it> (what the daemon builds and the client returns). Objects are closed
// (additionalProperties: false) in requests and replies alike; `nullable`
// is OpenAPI 3.0's, which Ajv and fast-json-stringify read too.

import { Type, type Static, type TInteger, type TObject, type TProperties, type TSchema, type TUnsafe } from 'typebox'

export { Type, type Static, type TSchema }

export const int = Type.Integer()
export const count = Type.Integer({ minimum: 0 })
export const str = Type.String()
export const bool = Type.Boolean()

/** An integer of at least 0, described. */
export const countOf = (description: string): TInteger => Type.Integer({ minimum: 0, description })

/** A closed object; properties wrapped in Type.Optional may be left out, all others are required. */
export function record<P extends TProperties, O extends Record<string, unknown> = Record<never, never>> (properties: P, options?: O): TObject<P> & O {
  return Type.Object(properties, { additionalProperties: false, ...options }) as TObject<P> & O
}

/** `s`, or null. */
export function nullable<S extends TSchema> (s: S, description?: string): TUnsafe<Static<S> | null> {
  return Type.Unsafe<Static<S> | null>({ ...s, nullable: true, ...(description !== undefined && { description }) })
}

/** A string that is one of `values`. */
export function oneOf<const V extends string> (values: readonly V[], description?: string): TUnsafe<V> {
  return Type.Unsafe<V>({ type: 'string', enum: [...values], ...(description !== undefined && { description }) })
}

/** A closed object of counters, each an integer of at least 0. */
export function counters<const K extends string> (names: readonly K[], options: Record<string, unknown> = {}): TObject<Record<K, TInteger>> {
  return record(Object.fromEntries(names.map((n) => [n, count])) as Record<K, TInteger>, options)
}

/** An object whose every value is a counter, its keys open. */
export const openCounters = Type.Unsafe<Record<string, number>>({ type: 'object', additionalProperties: count })

/** A shared contract (one with an $id): registered once with the API, listed under the OpenAPI components. */
export type Shared = TSchema & { $id: string }

/** A reference to a shared contract, typed as the contract. */
export function ref<S extends Shared> (s: S, description?: string): TUnsafe<Static<S>> {
  return Type.Unsafe<Static<S>>({ $ref: `${s.$id}#`, ...(description !== undefined && { description }) })
}

/** An array of `items`. */
export const list = <S extends TSchema>(items: S, description?: string): ReturnType<typeof Type.Array<S>> =>
  Type.Array(items, description !== undefined ? { description } : {})
