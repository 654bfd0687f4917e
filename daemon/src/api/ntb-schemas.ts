// JSON Schemas of the NTB resources: the board's pairs and each host's
// interface of the NTB function, and a host's NTB device and transport.
// Closed objects, as in schemas.ts; registered with the shared ones so
// OpenAPI lists them under components by $id.

import type { FastifyInstance } from 'fastify'
import { record, ref } from './schemas.js'

const int = { type: 'integer' } as const
const count = { type: 'integer', minimum: 0 } as const
const str = { type: 'string' } as const
const bool = { type: 'boolean' } as const
const counts = { type: 'array', items: count } as const
const nullable = (s: Record<string, unknown>, description: string): Record<string, unknown> => ({ ...s, nullable: true, description })
const counters = (names: string[]): Record<string, unknown> => record(Object.fromEntries(names.map((k) => [k, count])))

/** A node name as pairs name hosts (what --ntb-pair accepts). */
export const HOST_NAME = '^[^\\s:/]{1,128}$'

const FunctionConfig = record({
  numMws: { type: 'integer', description: 'memory windows per host (num_mws)' },
  mwSizes: { type: 'array', items: count, description: 'mw1..mw4' },
  dbCount: { type: 'integer', description: 'MSI vectors per host, the link vector included (db_count)' },
  spadCount: { type: 'integer', description: 'scratchpads per host (spad_count)' }
})

export const NtbInterfaceSchema = {
  $id: 'NtbInterface',
  description: 'One host\'s interface of an NTB function (pci-epf-ntb.c struct epf_ntb_epc): its controller, link, doorbells, memory windows and scratchpads.',
  ...record({
    side: { type: 'string', enum: ['primary', 'secondary'] },
    host: str,
    peer: nullable(str, 'the host on the other side; null until one joins'),
    controller: { type: 'string', description: 'the endpoint controller serving this host (its BARs are pcie.barN@HOST)' },
    started: { type: 'boolean', description: 'the controller runs: the host has enumerated, or may enumerate, the function' },
    linkup: { type: 'boolean', description: 'the host sent LINK_UP (and not LINK_DOWN since)' },
    linkStatus: { type: 'boolean', description: 'LINK_STATUS_UP as the host reads it: both hosts sent LINK_UP' },
    doorbells: record({ configured: bool, count: { type: 'integer', description: 'vectors the other host\'s doorbell slots reach here (CONFIGURE_DOORBELL)' } }),
    msi: { ...counts, description: 'MSIs raised on this host, per vector (0: link events)' },
    memoryWindows: {
      type: 'array',
      description: 'this host\'s memory windows: MW1 in BAR2 after the doorbell slots, MW2.. in BAR3..',
      items: record({
        idx: count,
        bar: count,
        offset: { type: 'integer', description: 'where the window starts in its BAR' },
        size: count,
        translation: nullable(record({
          addr: { type: 'integer', description: 'in the other host\'s memory' },
          size: count,
          state: { type: 'string', enum: ['mapping', 'mapped'] },
          attached: { type: 'boolean', description: 'the window reaches it now' }
        }), 'the other host\'s CONFIGURE_MW for this window; null: untranslated, writes are refused')
      })
    },
    spads: { ...counts, description: 'this host\'s own scratchpads (BAR0 at spad_offset); the other host writes them through its BAR1' },
    peerSpadBacked: { type: 'boolean', description: 'BAR1 reaches the other host\'s scratchpads' },
    lastError: str,
    counters: counters(['commands', 'commandErrors', 'doorbellWrites', 'doorbellsDropped', 'linkEvents'])
  })
}

export const NtbPairSchema = {
  $id: 'NtbPair',
  description: 'Two hosts joined by one NTB function.',
  ...record({
    name: { type: 'string', description: 'the function: ntb0, ntb1, ...' },
    a: { type: 'string', description: 'the primary interface\'s host' },
    b: nullable(str, 'the secondary interface\'s host; null while a host paired in link order waits for a partner'),
    configured: { type: 'boolean', description: 'named by --ntb-pair or POST /v1/ntb/pairs (false: paired in link order)' },
    layout: record({
      spadOffset: { type: 'integer', description: 'where the scratchpads start in BAR0 (SPAD_OFFSET)' },
      mw1Offset: { type: 'integer', description: 'where MW1 starts in BAR2, after the doorbell slots (MW1_OFFSET)' },
      dbEntrySize: { type: 'integer', description: 'bytes per doorbell slot (DB_ENTRY_SIZE)' },
      spadSize: count,
      configBar: { type: 'integer', description: 'BAR0 size: epf_ntb_ctrl and the host\'s own scratchpads' },
      peerSpadBar: { type: 'integer', description: 'BAR1 size: the other host\'s scratchpads' },
      mwBars: { type: 'array', items: count, description: 'BAR2 (doorbells + MW1), BAR3.. sizes' }
    }),
    interfaces: { type: 'array', items: ref('NtbInterface') }
  })
}

export const NtbBoardSchema = {
  $id: 'NtbBoard',
  description: 'The NTB board: its function settings, pairs of hosts, and linked hosts no pair names.',
  ...record({
    role: { type: 'string', enum: ['ntb'] },
    autoPairing: { type: 'boolean', description: 'no pairs were configured: hosts are paired in the order they link' },
    config: FunctionConfig,
    pairs: { type: 'array', items: ref('NtbPair') },
    unpaired: { type: 'array', items: str, description: 'linked hosts no pair names; they wait' }
  })
}

const DeviceState = record({
  name: str,
  peer: { type: 'string', description: 'the board' },
  ready: { type: 'boolean', description: 'init done: layout read, doorbells configured' },
  link: { type: 'boolean', description: 'ntb_link_is_up' },
  vectors: { type: 'integer', description: 'MSI vectors, vector 0 the link' },
  dbCount: int,
  dbValidMask: int,
  dbBits: { type: 'integer', description: 'doorbell bits rung and not cleared (db_read)' },
  dbMask: { type: 'integer', description: 'db_read_mask' },
  mwCount: int,
  mwAlign: nullable(record({ addrAlign: count, sizeAlign: count }), 'mw_get_align'),
  translations: { type: 'array', description: 'inbound translations this host set (mw_set_trans)', items: record({ widx: count, addr: count, size: count }) },
  peerMws: { type: 'array', description: 'the peer\'s windows as this host reaches them (peer_mw_get_addr)', items: record({ widx: count, bar: count, base: count, size: count }) },
  spadCount: int,
  spads: counts,
  peerSpads: counts,
  counters: counters(['sent', 'refused', 'timedOut', 'msis', 'spuriousMsis', 'linkEvents', 'dbEvents', 'peerDbRings'])
})

const Queue = record({
  index: count,
  name: str,
  size: count,
  // An enum that admits null must list it (ajv's nullable does not extend enum).
  layout: nullable({ type: 'string', enum: ['split', 'packed', null] }, 'null until the rings are set up'),
  desc: nullable(int, 'ring addresses are the virtio host\'s (inside its MW0)'),
  driverArea: nullable(int, 'split: the avail ring'),
  deviceArea: nullable(int, 'split: the used ring'),
  availIdx: nullable(int, 'split rings only'),
  usedIdx: nullable(int, 'split rings only'),
  ready: bool,
  counters: counters(['kicks', 'interrupts', 'buffers'])
})

const Transport = record({
  transport: { type: 'string', enum: ['ntb-virtio', 'ntb-vhost'] },
  state: { type: 'string', description: 'stopped, down (no link), waiting (for the other side\'s TYPE), configuring, up' },
  peerType: { type: 'string', description: 'the TYPE the other side wrote into scratchpad 0: none, virtio, vhost' },
  lastError: str,
  virtioAddr: nullable(int, 'MW0\'s address in the virtio host\'s memory'),
  mwSize: nullable(int, 'MW0\'s size'),
  device: nullable(record({
    name: str, deviceId: count, vendorId: count, status: count, statusBits: { type: 'array', items: str }, features: str, driver: { type: 'string', nullable: true }
  }), 'the virtio or vhost device above the transport'),
  queues: { type: 'array', items: Queue },
  counters: { type: 'object', additionalProperties: count }
})

export const NtbHostSchema = {
  $id: 'NtbHost',
  description: 'An NTB host: the NTB device bound to the board\'s function and the transport above it.',
  ...record({
    role: { type: 'string', enum: ['ntb-virtio', 'ntb-vhost'] },
    side: { type: 'string', enum: ['virtio', 'vhost'] },
    board: nullable(str, 'the board whose function is bound'),
    memorySize: count,
    lastError: str,
    retrying: { type: 'boolean', description: 'the bring-up (ntb_hw_epf init, the transport\'s start) timed out and is tried again, with backoff, while the board\'s function is there' },
    device: nullable(DeviceState, 'ntb_hw_epf, while the function is enumerated'),
    transport: nullable(Transport, 'ntb_virtio or ntb_vhost, once the device is ready')
  })
}

export function addNtbSchemas (app: FastifyInstance): void {
  for (const s of [NtbInterfaceSchema, NtbPairSchema, NtbBoardSchema, NtbHostSchema]) app.addSchema(s)
}
