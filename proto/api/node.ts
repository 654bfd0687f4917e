// Contracts of the daemon itself and its memory, links and doorbells: the
// node, regions, peers (with their fault plans), windows onto peers'
// regions, doorbell targets, and the event stream's messages.

import { ERRORS, type ErrorCode } from '../../daemon/src/error-codes.js'
import { FAULT_ACTIONS, NODE_NAME_MAX, REGION_REF_MAX } from './names.js'
import { Type, bool, count, countOf, counters, int, list, nullable, oneOf, record, ref, str, type Static } from './schema.js'

export const ErrorSchema = record({
  error: record({
    code: Type.Unsafe<ErrorCode>({ type: 'string', enum: Object.keys(ERRORS), description: 'one of the registry\'s codes (README, Errors); the HTTP status is the code\'s' }),
    message: str
  })
}, { $id: 'Error', description: 'Every failure. `code` is stable; `message` is for people.' })

export const HealthSchema = record({ status: oneOf(['ok']) })

export const NodeSchema = record({
  name: str,
  role: str,
  version: str,
  incarnation: Type.String({ description: 'hex; changes on every start' }),
  uptimeSeconds: count,
  listen: nullable(str, 'the URL peers dial')
}, { $id: 'Node', description: 'This daemon.' })

export const SubscriberSchema = record({ peer: str, window: int, base: count, size: count, replica: bool })

export const RegionSchema = record({
  id: int,
  name: str,
  size: count,
  populatedPages: count,
  writes: count,
  peers: nullable(Type.Array(str), 'the only peers that may open windows onto this region; null: every peer'),
  subscribers: list(SubscriberSchema, 'peers\' windows onto this region')
}, { $id: 'Region', description: 'Memory this daemon owns.' })

export const RegionListSchema = record({ regions: Type.Array(ref(RegionSchema)) })

const ms = (description: string): ReturnType<typeof Type.Integer> => Type.Integer({ minimum: 0, maximum: 3_600_000, description })
const FAULT_PLAN_FIELDS = {
  actions: Type.Unsafe<Array<typeof FAULT_ACTIONS[number]>>({
    type: 'array',
    minItems: 1,
    maxItems: FAULT_ACTIONS.length,
    uniqueItems: true,
    items: { type: 'string', enum: [...FAULT_ACTIONS] },
    description: 'close (TCP FIN, no WebSocket close), reset (TCP RST), blackhole (nothing passes for ms), delay (each packet delayMs late for ms); one is drawn per fault'
  }),
  count: Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'faults in all (default 1: once)' }),
  afterMs: ms('before the first fault (default 0)'),
  gapMs: ms('between faults: at least (default 1000)'),
  maxGapMs: ms('between faults: at most (default gapMs)'),
  ms: ms('how long a blackhole or delay lasts: at least (default 1000)'),
  maxMs: ms('how long a blackhole or delay lasts: at most (default ms)'),
  delayMs: Type.Integer({ minimum: 0, maximum: 60_000, description: 'what a delay adds to each packet (default 100)' }),
  seed: Type.Integer({ minimum: 0, maximum: 4294967295, description: 'the generator\'s seed (default: drawn by the daemon)' })
}

/** A fault plan as the client sends it (PUT /v1/peers/:peer/faults); every field but actions optional. */
export const FaultPlanSchema = record({
  ...Object.fromEntries(Object.entries(FAULT_PLAN_FIELDS).map(([k, v]) => [k, k === 'actions' ? v : Type.Optional(v)])) as {
    [K in keyof typeof FAULT_PLAN_FIELDS]: K extends 'actions' ? typeof FAULT_PLAN_FIELDS[K] : ReturnType<typeof Type.Optional<typeof FAULT_PLAN_FIELDS[K]>>
  }
}, { description: 'A fault plan: a proxy\'s faults, once or at random from a seed.' })

export const PeerFaultsSchema = record({
  plan: record(FAULT_PLAN_FIELDS),
  fired: count,
  remaining: count,
  active: nullable(oneOf(['blackhole', 'delay'])),
  held: countOf('packets held now, both ways'),
  lost: countOf('held packets whose connection ended under them (the session replays them)'),
  counts: counters(FAULT_ACTIONS)
})

const PEER_COUNTERS = ['packetsIn', 'packetsOut', 'bytesIn', 'bytesOut', 'framesIn', 'framesOut', 'connects', 'resumes', 'sessions', 'protocolErrors', 'lostFrames', 'lostBytes', 'lostWrites'] as const

export const PeerSchema = record({
  name: Type.String({ description: 'empty until a dialed peer first answers' }),
  url: nullable(str, 'set when this daemon dials the peer'),
  direction: oneOf(['dialed', 'accepted']),
  role: str,
  state: oneOf(['connecting', 'up', 'down']),
  incarnation: str,
  rttMs: nullable(Type.Number()),
  lastError: str,
  credential: nullable(str, 'what the peer proved on the connection that made the session: certificate, peer-secret (its own secret), shared-secret or none; null before the first handshake'),
  unacked: count,
  counters: counters(PEER_COUNTERS),
  faults: nullable(PeerFaultsSchema, 'the fault plan on this link (PUT /v1/peers/:peer/faults); null: none')
}, { $id: 'Peer', description: 'A link to another daemon.' })

export const PeerListSchema = record({ peers: Type.Array(ref(PeerSchema)) })

export const WindowSchema = record({
  id: int,
  peer: str,
  region: Type.Union([str, int], { description: 'the region on the peer, as requested (name or id)' }),
  offset: count,
  size: count,
  replica: bool,
  state: oneOf(['opening', 'open', 'failed', 'closed']),
  regionId: Type.Integer({ description: '0 until the owner has answered' }),
  regionName: str,
  lastError: str,
  unordered: Type.Integer({ description: 'own writes the owner has not ordered yet' }),
  counters: counters(['writes', 'updates', 'reads', 'errors'])
}, { $id: 'Window', description: 'This daemon\'s view of a range of a peer\'s region.' })

export const WindowListSchema = record({ windows: Type.Array(ref(WindowSchema)) })

export const WindowRequestSchema = record({
  peer: Type.String({ minLength: 1, maxLength: NODE_NAME_MAX, description: 'the owner\'s node name' }),
  region: Type.Union([Type.String({ minLength: 1, maxLength: REGION_REF_MAX }), Type.Integer({ minimum: 1 })], { description: 'the region on the peer, by name or id' }),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'first byte of the region (default 0)' })),
  size: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'bytes' }),
  replica: Type.Optional(Type.Boolean({ description: 'keep a synced copy (default true)' }))
})

/** What a write of bytes into a region or window answers. */
export const WriteResultSchema = record({ offset: int, length: int })

export const DOORBELL_NAME = '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$'

export const DoorbellSchema = record({ name: str, rings: count, lastValue: count }, { $id: 'Doorbell', description: 'A doorbell target this daemon declares.' })

export const DoorbellListSchema = record({ doorbells: Type.Array(ref(DoorbellSchema)) })

export const RingResultSchema = record({ peer: str, target: str, value: int })

/** One message of GET /v1/events (a JSON text message each). */
export const NodeEventSchema = Type.Union([
  record({ type: Type.Literal('doorbell'), time: str, peer: str, target: str, value: int }),
  record({ type: Type.Literal('link'), time: str, peer: str, state: oneOf(['up', 'down']), reason: str }),
  record({ type: Type.Literal('peer'), time: str, peer: str, state: str, error: str }),
  record({ type: Type.Literal('window'), time: str, window: int, peer: str, state: str, error: str }),
  record({ type: Type.Literal('error'), time: str, peer: str, message: str }),
  record({ type: Type.Literal('lost'), time: str, peer: str, frames: count, bytes: count, writes: count, writeBytes: count, reason: str })
])

export type ErrorBody = Static<typeof ErrorSchema>
export type Health = Static<typeof HealthSchema>
export type NodeInfo = Static<typeof NodeSchema>
export type Subscriber = Static<typeof SubscriberSchema>
export type Region = Static<typeof RegionSchema>
export type FaultAction = typeof FAULT_ACTIONS[number]
export type FaultPlan = Static<typeof FaultPlanSchema>
export type PeerFaults = Static<typeof PeerFaultsSchema>
export type Peer = Static<typeof PeerSchema>
export type PeerState = Peer['state']
export type Window = Static<typeof WindowSchema>
export type WindowRequest = Static<typeof WindowRequestSchema>
export type WriteResult = Static<typeof WriteResultSchema>
export type Doorbell = Static<typeof DoorbellSchema>
export type RingResult = Static<typeof RingResultSchema>
export type NodeEvent = Static<typeof NodeEventSchema>
