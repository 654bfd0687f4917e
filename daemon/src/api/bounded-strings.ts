// Every string a request may carry is bounded: a route schema's strings in
// its body, params, querystring and headers that set no maxLength (and are
// no enum or const) get MAX_STRING. Names have tighter bounds of their own
// (NODE_NAME_MAX, REGION_REF_MAX); the body as a whole is bounded by the
// maxBodyBytes setting. Without this, a 1 MB peer name is kept by every
// window that names it.

/** The longest string of a request that sets no bound of its own. */
export const MAX_STRING = 1024
/** A node name (NODE_NAME_MAX) and a region reference (REGION_REF_MAX): the API's bounds (proto/api/names.ts). */
export { NODE_NAME_MAX, REGION_REF_MAX } from '../../../proto/api/names.js'

type Schema = Record<string, unknown>

const isObject = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Gives each unbounded string in `schema` (walked through properties, items and combinators) maxLength MAX_STRING; in place, idempotent. */
export function boundStrings (schema: unknown): void {
  if (!isObject(schema) || '$ref' in schema) return
  const type = schema.type
  if ((type === 'string' || (Array.isArray(type) && type.includes('string'))) &&
    schema.maxLength === undefined && schema.enum === undefined && schema.const === undefined) {
    schema.maxLength = MAX_STRING
  }
  if (isObject(schema.properties)) for (const p of Object.values(schema.properties)) boundStrings(p)
  if (isObject(schema.additionalProperties)) boundStrings(schema.additionalProperties)
  if (isObject(schema.items)) boundStrings(schema.items)
  else if (Array.isArray(schema.items)) for (const i of schema.items) boundStrings(i)
  for (const k of ['anyOf', 'oneOf', 'allOf']) {
    const list = schema[k]
    if (Array.isArray(list)) for (const s of list) boundStrings(s)
  }
}

/** The parts of a route schema that come from the request. */
export function boundRequestStrings (schema: unknown): void {
  if (!isObject(schema)) return
  for (const part of ['body', 'params', 'querystring', 'headers']) boundStrings(schema[part])
}
