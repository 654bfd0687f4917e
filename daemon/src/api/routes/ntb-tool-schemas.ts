// JSON Schemas of ntb_tool and ntb_perf over REST (ntb-tool.ts): closed
// objects, as in schemas.ts. Doorbell bits and scratchpad values are u32
// integers (ntb_hw_epf has at most 31 doorbell bits).

import { fields, record } from '../schemas.js'

const count = { type: 'integer', minimum: 0 } as const
const str = { type: 'string' } as const
export const u32 = (description: string): Record<string, unknown> => ({ type: 'integer', minimum: 0, maximum: 0xffff_ffff, description })
const nullable = (s: Record<string, unknown>, description: string): Record<string, unknown> => ({ ...s, nullable: true, description })
export const force = { type: 'boolean', description: 'do it even though the transport or ntb_perf owns it (default false)' } as const

/** Path indices: digits, parsed by the handler. */
export const indexParams = (name: string, description: string): Record<string, unknown> =>
  fields({ [name]: { type: 'string', pattern: '^[0-9]{1,4}$', description } })

const owners = {
  type: 'array',
  description: 'what the transport and ntb_perf use here: touching it needs force',
  items: record({ bit: count, owner: str })
} as const

export const LinkBody = record({ up: { type: 'boolean', description: 'true: link_enable; false: link_disable' }, force }, { required: ['up'] })

export const LinkReply = record({
  enabled: { type: 'boolean', description: 'what was asked: link_enable (true) or link_disable (false)' },
  link: { type: 'boolean', description: 'ntb_link_is_up after the command: up once both hosts have enabled it' }
})

export const DbReply = record({
  bits: u32('db_read: bits rung and not cleared'),
  mask: u32('db_read_mask: masked bits raise no db_event'),
  validMask: u32('db_valid_mask'),
  vectorCount: { ...count, description: 'db_vector_count' },
  owned: owners
})

/** No set: ntb_hw_epf has no db_set, so a body naming it is refused as any unknown field is. */
export const DbBody = record({
  clear: u32('db_clear'),
  mask: u32('db_set_mask'),
  unmask: u32('db_clear_mask'),
  force
}, { required: [], minProperties: 1 })

export const PeerDbBody = record({ bits: u32('peer_db_set: the bits to ring on the peer'), force }, { required: ['bits'] })
export const PeerDbReply = record({ rang: u32('the bits rung') })

export const SpadReply = record({
  count: { ...count, description: 'spad_count' },
  spads: { type: 'array', items: count, description: 'spad_read of each of this host\'s scratchpads' },
  peerSpads: { type: 'array', items: count, description: 'peer_spad_read of each of the peer\'s' },
  owned: {
    type: 'array',
    description: 'scratchpad ranges the transport uses, on both hosts: writing them needs force',
    items: record({ from: count, to: count, owner: str })
  }
})

export const SpadBody = record({ value: u32('the u32 to write'), force }, { required: ['value'] })
export const SpadWriteReply = record({ idx: count, value: u32('read back after the write') })

const Window = record({
  widx: count,
  addrAlign: count,
  sizeAlign: count,
  sizeMax: count,
  translation: nullable(record({ addr: count, size: count }), 'mw_set_trans: where the peer\'s writes to this window land in this host\'s memory; null: none'),
  owner: nullable(str, 'the transport (MW0) or ntb_perf (MW1); null: free')
})

export const MwReply = record({
  count: { ...count, description: 'mw_count' },
  windows: { type: 'array', items: Window, description: 'inbound windows this host translates into its own memory' },
  peerWindows: {
    type: 'array',
    description: 'peer_mw_get_addr: the peer\'s windows as this host writes them',
    items: record({ widx: count, base: count, size: count })
  }
})

export const MwBody = record({
  addr: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'in this host\'s memory; aligned to addrAlign' },
  size: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'up to sizeMax' },
  force
}, { required: ['addr', 'size'] })

export const WindowReply = Window

export const MwDeleteQuery = fields({ force: { type: 'string', enum: ['true', 'false'], description: 'true: clear it even though the transport or ntb_perf owns it' } }, [])

export const PerfState = record({
  state: { type: 'string', enum: ['stopped', 'down', 'mapping', 'ready', 'unavailable'], description: 'ready: answering the peer and able to run' },
  reason: { type: 'string', description: 'why ntb_perf is unavailable here' },
  widx: { ...count, description: 'the memory window ntb_perf translates and writes' },
  bits: nullable(record({ request: count, answer: count }), 'its doorbell bits: a request rung on the peer, answered on this host'),
  buffer: nullable(record({ addr: count, size: count }), 'where the peer\'s writes land in this host\'s memory'),
  running: { type: 'boolean' },
  run: nullable(record({ bytes: count, written: count, pings: count, pinged: count }), 'the run going on: bytes written of bytes, then round trips done of pings; null when none is'),
  lastError: str,
  counters: record({
    answered: count,
    strayAnswers: { ...count, description: 'answers while nothing was asked or owed' },
    lateAnswers: { ...count, description: 'answers to requests whose ping had timed out: dropped, never taken for a later ping\'s' },
    runs: count,
    failedRuns: count
  })
})

const upTo = (max: number, description: string): Record<string, unknown> => ({ type: 'integer', minimum: 1, maximum: max, description })

export const PerfBody = record({
  bytes: upTo(1 << 30, 'bytes to write into the peer\'s MW 1, wrapping round it (default 16 MiB)'),
  chunk: upTo(1 << 30, 'bytes per write (default 64 KiB); at most the window'),
  pings: upTo(100_000, 'doorbell round trips (default 1000)')
}, { required: [] })

export const PerfResult = record({
  bytes: count,
  chunk: count,
  seconds: { type: 'number', description: 'from the first write to the answer after the last' },
  mbps: { type: 'number', description: '10^6 bytes per second' },
  pings: count,
  rtt: record({ min: { type: 'number' }, avg: { type: 'number' }, p99: { type: 'number' } }, { description: 'doorbell round trips, microseconds' })
})
