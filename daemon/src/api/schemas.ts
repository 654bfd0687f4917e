// JSON Schemas shared by the routes: the resources the API shows (each with
// an $id, so OpenAPI lists them under components) and the pieces every route
// repeats (error replies, numeric query values, empty replies). Objects are
// closed (additionalProperties: false) in requests and replies alike.

import type { FastifyInstance } from 'fastify'
import { FAULT_ACTIONS } from '../link/faults.js'
import { ERRORS } from '../errors.js'

const int = { type: 'integer' } as const
const count = { type: 'integer', minimum: 0 } as const
const str = { type: 'string' } as const

/** A closed object whose properties are all required. */
export function record (properties: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'object', additionalProperties: false, required: Object.keys(properties), properties, ...extra }
}

export const ErrorSchema = {
  $id: 'Error',
  description: 'Every failure. `code` is stable; `message` is for people.',
  ...record({
    error: record({
      code: { type: 'string', enum: Object.keys(ERRORS), description: 'one of the registry\'s codes (README, Errors); the HTTP status is the code\'s' },
      message: str
    })
  })
}

export const NodeSchema = {
  $id: 'Node',
  description: 'This daemon.',
  ...record({
    name: str,
    role: str,
    version: str,
    incarnation: { type: 'string', description: 'hex; changes on every start' },
    uptimeSeconds: count,
    listen: { type: 'string', nullable: true, description: 'the URL peers dial' }
  })
}

export const RegionSchema = {
  $id: 'Region',
  description: 'Memory this daemon owns.',
  ...record({
    id: int,
    name: str,
    size: count,
    populatedPages: count,
    writes: count,
    peers: { type: 'array', nullable: true, items: str, description: 'the only peers that may open windows onto this region; null: every peer' },
    subscribers: {
      type: 'array',
      description: 'peers\' windows onto this region',
      items: record({ peer: str, window: int, base: count, size: count, replica: { type: 'boolean' } })
    }
  })
}

/** A fault plan as the client sends it (PUT /v1/peers/:peer/faults); every field but actions optional. */
const ms = (description: string): Record<string, unknown> => ({ type: 'integer', minimum: 0, maximum: 3_600_000, description })
const FAULT_PLAN_FIELDS = {
  actions: {
    type: 'array',
    minItems: 1,
    maxItems: FAULT_ACTIONS.length,
    uniqueItems: true,
    items: { type: 'string', enum: [...FAULT_ACTIONS] },
    description: 'close (TCP FIN, no WebSocket close), reset (TCP RST), blackhole (nothing passes for ms), delay (each packet delayMs late for ms); one is drawn per fault'
  },
  count: { type: 'integer', minimum: 1, maximum: 1_000_000, description: 'faults in all (default 1: once)' },
  afterMs: ms('before the first fault (default 0)'),
  gapMs: ms('between faults: at least (default 1000)'),
  maxGapMs: ms('between faults: at most (default gapMs)'),
  ms: ms('how long a blackhole or delay lasts: at least (default 1000)'),
  maxMs: ms('how long a blackhole or delay lasts: at most (default ms)'),
  delayMs: { type: 'integer', minimum: 0, maximum: 60_000, description: 'what a delay adds to each packet (default 100)' },
  seed: { type: 'integer', minimum: 0, maximum: 4294967295, description: 'the generator\'s seed (default: drawn by the daemon)' }
}

export const FaultPlanBody = {
  description: 'A fault plan: a proxy\'s faults, once or at random from a seed.',
  type: 'object',
  additionalProperties: false,
  required: ['actions'],
  properties: FAULT_PLAN_FIELDS
}

const FAULT_STATE = record({
  plan: record(FAULT_PLAN_FIELDS),
  fired: count,
  remaining: count,
  active: { type: 'string', enum: ['blackhole', 'delay'], nullable: true },
  held: { ...count, description: 'packets held now, both ways' },
  lost: { ...count, description: 'held packets whose connection ended under them (the session replays them)' },
  counts: record(Object.fromEntries(FAULT_ACTIONS.map((a) => [a, count])))
})

const PEER_COUNTERS = ['packetsIn', 'packetsOut', 'bytesIn', 'bytesOut', 'framesIn', 'framesOut', 'connects', 'resumes', 'sessions', 'protocolErrors', 'lostFrames', 'lostBytes', 'lostWrites']

export const PeerSchema = {
  $id: 'Peer',
  description: 'A link to another daemon.',
  ...record({
    name: { type: 'string', description: 'empty until a dialed peer first answers' },
    url: { type: 'string', nullable: true, description: 'set when this daemon dials the peer' },
    direction: { type: 'string', enum: ['dialed', 'accepted'] },
    role: str,
    state: { type: 'string', enum: ['connecting', 'up', 'down'] },
    incarnation: str,
    rttMs: { type: 'number', nullable: true },
    lastError: str,
    credential: { type: 'string', nullable: true, description: 'what the peer proved on the connection that made the session: certificate, peer-secret (its own secret), shared-secret or none; null before the first handshake' },
    unacked: count,
    counters: record(Object.fromEntries(PEER_COUNTERS.map((c) => [c, count]))),
    faults: { ...FAULT_STATE, nullable: true, description: 'the fault plan on this link (PUT /v1/peers/:peer/faults); null: none' }
  })
}

export const WindowSchema = {
  $id: 'Window',
  description: 'This daemon\'s view of a range of a peer\'s region.',
  ...record({
    id: int,
    peer: str,
    region: { anyOf: [str, int], description: 'the region on the peer, as requested (name or id)' },
    offset: count,
    size: count,
    replica: { type: 'boolean' },
    state: { type: 'string', enum: ['opening', 'open', 'failed', 'closed'] },
    regionId: { type: 'integer', description: '0 until the owner has answered' },
    regionName: str,
    lastError: str,
    unordered: { type: 'integer', description: 'own writes the owner has not ordered yet' },
    counters: record({ writes: count, updates: count, reads: count, errors: count })
  })
}

export const DOORBELL_NAME = '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$'

export const DoorbellSchema = {
  $id: 'Doorbell',
  description: 'A doorbell target this daemon declares.',
  ...record({ name: str, rings: count, lastValue: count })
}

const SHARED = [ErrorSchema, NodeSchema, RegionSchema, PeerSchema, WindowSchema, DoorbellSchema]

export function addSharedSchemas (app: FastifyInstance): void {
  for (const s of SHARED) app.addSchema(s)
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
