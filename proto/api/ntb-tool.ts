// Contracts of ntb_tool and ntb_perf over REST (daemon/src/api/routes/ntb-tool.ts).
// Doorbell bits and scratchpad values are u32 integers (ntb_hw_epf has at
// most 31 doorbell bits).

import { Type, count, countOf, nullable, oneOf, record, str, type Static } from './schema.js'

const u32 = (description: string): ReturnType<typeof Type.Integer> => Type.Integer({ minimum: 0, maximum: 0xffff_ffff, description })
export const force = Type.Boolean({ description: 'do it even though the transport or ntb_perf owns it (default false)' })
const optional = <S extends Parameters<typeof Type.Optional>[0]>(s: S): ReturnType<typeof Type.Optional<S>> => Type.Optional(s)

const BitOwner = record({ bit: count, owner: str })

export const NtbLinkRequestSchema = record({ up: Type.Boolean({ description: 'true: link_enable; false: link_disable' }), force: optional(force) })

export const NtbLinkResultSchema = record({
  enabled: Type.Boolean({ description: 'what was asked: link_enable (true) or link_disable (false)' }),
  link: Type.Boolean({ description: 'ntb_link_is_up after the command: up once both hosts have enabled it' })
})

export const NtbDoorbellsSchema = record({
  bits: u32('db_read: bits rung and not cleared'),
  mask: u32('db_read_mask: masked bits raise no db_event'),
  validMask: u32('db_valid_mask'),
  vectorCount: countOf('db_vector_count'),
  owned: Type.Array(BitOwner, { description: 'what the transport and ntb_perf use here: touching it needs force' })
})

/** No set: ntb_hw_epf has no db_set, so a body naming it is refused as any unknown field is. */
export const NtbDbRequestSchema = record({
  clear: optional(u32('db_clear')),
  mask: optional(u32('db_set_mask')),
  unmask: optional(u32('db_clear_mask')),
  force: optional(force)
}, { minProperties: 1 })

export const NtbPeerDbRequestSchema = record({ bits: u32('peer_db_set: the bits to ring on the peer'), force: optional(force) })
export const NtbPeerDbResultSchema = record({ rang: u32('the bits rung') })

export const NtbSpadsSchema = record({
  count: countOf('spad_count'),
  spads: Type.Array(count, { description: 'spad_read of each of this host\'s scratchpads' }),
  peerSpads: Type.Array(count, { description: 'peer_spad_read of each of the peer\'s' }),
  owned: Type.Array(record({ from: count, to: count, owner: str }), { description: 'scratchpad ranges the transport uses, on both hosts: writing them needs force' })
})

export const NtbSpadRequestSchema = record({ value: u32('the u32 to write'), force: optional(force) })
export const NtbSpadWriteSchema = record({ idx: count, value: u32('read back after the write') })

export const NtbWindowSchema = record({
  widx: count,
  addrAlign: count,
  sizeAlign: count,
  sizeMax: count,
  translation: nullable(record({ addr: count, size: count }), 'mw_set_trans: where the peer\'s writes to this window land in this host\'s memory; null: none'),
  owner: nullable(str, 'the transport (MW0) or ntb_perf (MW1); null: free')
})

export const NtbWindowsSchema = record({
  count: countOf('mw_count'),
  windows: Type.Array(NtbWindowSchema, { description: 'inbound windows this host translates into its own memory' }),
  peerWindows: Type.Array(record({ widx: count, base: count, size: count }), { description: 'peer_mw_get_addr: the peer\'s windows as this host writes them' })
})

export const NtbWindowRequestSchema = record({
  addr: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'in this host\'s memory; aligned to addrAlign' }),
  size: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'up to sizeMax' }),
  force: optional(force)
})

export const NtbPerfStateSchema = record({
  state: oneOf(['stopped', 'down', 'mapping', 'ready', 'unavailable'], 'ready: answering the peer and able to run'),
  reason: Type.String({ description: 'why ntb_perf is unavailable here' }),
  widx: countOf('the memory window ntb_perf translates and writes'),
  bits: nullable(record({ request: count, answer: count }), 'its doorbell bits: a request rung on the peer, answered on this host'),
  buffer: nullable(record({ addr: count, size: count }), 'where the peer\'s writes land in this host\'s memory'),
  running: Type.Boolean(),
  run: nullable(record({ bytes: count, written: count, pings: count, pinged: count }), 'the run going on: bytes written of bytes, then round trips done of pings; null when none is'),
  lastError: str,
  counters: record({
    answered: count,
    strayAnswers: countOf('answers while nothing was asked or owed'),
    lateAnswers: countOf('answers to requests whose ping had timed out: dropped, never taken for a later ping\'s'),
    runs: count,
    failedRuns: count
  })
})

const upTo = (max: number, description: string): ReturnType<typeof Type.Integer> => Type.Integer({ minimum: 1, maximum: max, description })

export const NtbPerfRequestSchema = record({
  bytes: optional(upTo(1 << 30, 'bytes to write into the peer\'s MW 1, wrapping round it (default 16 MiB)')),
  chunk: optional(upTo(1 << 30, 'bytes per write (default 64 KiB); at most the window')),
  pings: optional(upTo(100_000, 'doorbell round trips (default 1000)'))
})

export const NtbPerfResultSchema = record({
  bytes: count,
  chunk: count,
  seconds: Type.Number({ description: 'from the first write to the answer after the last' }),
  mbps: Type.Number({ description: '10^6 bytes per second' }),
  pings: count,
  rtt: record({ min: Type.Number(), avg: Type.Number(), p99: Type.Number() }, { description: 'doorbell round trips, microseconds' })
})

export type NtbLinkRequest = Static<typeof NtbLinkRequestSchema>
export type NtbLinkResult = Static<typeof NtbLinkResultSchema>
export type NtbBitOwner = Static<typeof BitOwner>
export type NtbDoorbells = Static<typeof NtbDoorbellsSchema>
export type NtbDbRequest = Static<typeof NtbDbRequestSchema>
export type NtbPeerDbRequest = Static<typeof NtbPeerDbRequestSchema>
export type NtbPeerDbResult = Static<typeof NtbPeerDbResultSchema>
export type NtbSpadRequest = Static<typeof NtbSpadRequestSchema>
export type NtbWindowRequest = Static<typeof NtbWindowRequestSchema>
export type NtbSpads = Static<typeof NtbSpadsSchema>
export type NtbSpadWrite = Static<typeof NtbSpadWriteSchema>
export type NtbWindow = Static<typeof NtbWindowSchema>
export type NtbWindows = Static<typeof NtbWindowsSchema>
export type NtbPerfState = Static<typeof NtbPerfStateSchema>
export type NtbPerfRequest = Static<typeof NtbPerfRequestSchema>
export type NtbPerfResult = Static<typeof NtbPerfResultSchema>
