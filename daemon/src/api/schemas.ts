// The pieces of route schemas every route repeats (error replies, numeric
// query values, empty replies, closed params objects), and the registration
// of the shared contracts (proto/api: each with an $id, so OpenAPI lists
// them under components). Objects are closed (additionalProperties: false)
// in requests and replies alike.

import type { FastifyInstance } from 'fastify'
// @fastify/swagger's types add the OpenAPI fields (summary, tags...) to FastifySchema. Every
// route file imports this module, so a program that loads routes without server.ts (the bench) has them.
import type {} from '@fastify/swagger'
import { SHARED_SCHEMAS } from '../../../proto/api/index.js'

/** A closed object whose properties are all required. */
export function record (properties: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'object', additionalProperties: false, required: Object.keys(properties), properties, ...extra }
}

export function addSharedSchemas (app: FastifyInstance): void {
  for (const s of SHARED_SCHEMAS) app.addSchema(s)
}

export const ref = (id: string): { $ref: string } => ({ $ref: `${id}#` })

/** Error replies a route documents, by status. */
export function errorReplies (...statuses: number[]): Record<number, unknown> {
  return Object.fromEntries([...statuses, 500].map((s) => [s, ref('Error')]))
}

export const noContent = { type: 'null', description: 'done; no body' } as const

/** Query values are strings (no coercion): decimal or 0x hex, parsed by the handler. */
export const queryNumber = (description: string): Record<string, unknown> =>
  ({ type: 'string', pattern: '^(0x[0-9a-fA-F]+|[0-9]+)$', description: `${description}; decimal or 0x hex` })

/** Path ids of windows (numbers only; parsed by the handler). */
export const numericId = { type: 'string', pattern: '^[0-9]+$' } as const

/** A closed params or querystring object. */
export function fields (properties: Record<string, unknown>, required: string[] = Object.keys(properties)): Record<string, unknown> {
  return { type: 'object', additionalProperties: false, required, properties }
}

export const noFields = fields({})

/** Path indices: digits, parsed by the handler. */
export const indexParams = (name: string, description: string): Record<string, unknown> =>
  fields({ [name]: { type: 'string', pattern: '^[0-9]{1,4}$', description } })

/** ?force=true: do it even though the transport or ntb_perf owns it (ntb_tool's routes). */
export const forceQuery = fields({ force: { type: 'string', enum: ['true', 'false'], description: 'true: clear it even though the transport or ntb_perf owns it' } }, [])
