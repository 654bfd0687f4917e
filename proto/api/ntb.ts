// Contracts of the NTB resources: the board's pairs and each host's
// interface of the NTB function, and a host's NTB device and transport.

import { Type, bool, count, counters, int, list, nullable, oneOf, openCounters, record, ref, str, type Static } from './schema.js'

/** A node name as pairs name hosts (what --ntb-pair accepts). */
export const HOST_NAME = '^[^\\s:/]{1,128}$'

const counts = Type.Array(count)
const countsOf = (description: string): ReturnType<typeof Type.Array<typeof count>> => Type.Array(count, { description })
const integer = (description: string): ReturnType<typeof Type.Integer> => Type.Integer({ description })
const string = (description: string): ReturnType<typeof Type.String> => Type.String({ description })
const boolean = (description: string): ReturnType<typeof Type.Boolean> => Type.Boolean({ description })

const FunctionConfig = record({
  numMws: integer('memory windows per host (num_mws)'),
  mwSizes: countsOf('mw1..mw4'),
  dbCount: integer('MSI vectors per host, the link vector included (db_count)'),
  spadCount: integer('scratchpads per host (spad_count)')
})

export const NtbInterfaceSchema = record({
  side: oneOf(['primary', 'secondary']),
  host: str,
  peer: nullable(str, 'the host on the other side; null until one joins'),
  controller: string('the endpoint controller serving this host (its BARs are pcie.barN@HOST)'),
  started: boolean('the controller runs: the host has enumerated, or may enumerate, the function'),
  linkup: boolean('the host sent LINK_UP (and not LINK_DOWN since)'),
  linkStatus: boolean('LINK_STATUS_UP as the host reads it: both hosts sent LINK_UP'),
  doorbells: record({ configured: bool, count: integer('vectors the other host\'s doorbell slots reach here (CONFIGURE_DOORBELL)') }),
  msi: countsOf('MSIs raised on this host, per vector (0: link events)'),
  memoryWindows: list(record({
    idx: count,
    bar: count,
    offset: integer('where the window starts in its BAR'),
    size: count,
    translation: nullable(record({
      addr: integer('in the other host\'s memory'),
      size: count,
      state: oneOf(['mapping', 'mapped']),
      attached: boolean('the window reaches it now')
    }), 'the other host\'s CONFIGURE_MW for this window; null: untranslated, writes are refused')
  }), 'this host\'s memory windows: MW1 in BAR2 after the doorbell slots, MW2.. in BAR3..'),
  spads: countsOf('this host\'s own scratchpads (BAR0 at spad_offset); the other host writes them through its BAR1'),
  peerSpadBacked: boolean('BAR1 reaches the other host\'s scratchpads'),
  lastError: str,
  counters: counters(['commands', 'commandErrors', 'doorbellWrites', 'doorbellsDropped', 'linkEvents'])
}, { $id: 'NtbInterface', description: 'One host\'s interface of an NTB function (pci-epf-ntb.c struct epf_ntb_epc): its controller, link, doorbells, memory windows and scratchpads.' })

export const NtbLayoutSchema = record({
  spadOffset: integer('where the scratchpads start in BAR0 (SPAD_OFFSET)'),
  mw1Offset: integer('where MW1 starts in BAR2, after the doorbell slots (MW1_OFFSET)'),
  dbEntrySize: integer('bytes per doorbell slot (DB_ENTRY_SIZE)'),
  spadSize: count,
  configBar: integer('BAR0 size: epf_ntb_ctrl and the host\'s own scratchpads'),
  peerSpadBar: integer('BAR1 size: the other host\'s scratchpads'),
  mwBars: countsOf('BAR2 (doorbells + MW1), BAR3.. sizes')
})

export const NtbPairSchema = record({
  name: string('the function: ntb0, ntb1, ...'),
  a: string('the primary interface\'s host'),
  b: nullable(str, 'the secondary interface\'s host; null while a host paired in link order waits for a partner'),
  configured: boolean('named by --ntb-pair or POST /v1/ntb/pairs (false: paired in link order)'),
  layout: NtbLayoutSchema,
  interfaces: Type.Array(ref(NtbInterfaceSchema))
}, { $id: 'NtbPair', description: 'Two hosts joined by one NTB function.' })

export const NtbBoardSchema = record({
  role: oneOf(['ntb']),
  autoPairing: boolean('no pairs were configured: hosts are paired in the order they link'),
  config: FunctionConfig,
  pairs: Type.Array(ref(NtbPairSchema)),
  unpaired: Type.Array(str, { description: 'linked hosts no pair names; they wait' })
}, { $id: 'NtbBoard', description: 'The NTB board: its function settings, pairs of hosts, and linked hosts no pair names.' })

export const NtbDeviceStateSchema = record({
  name: str,
  peer: string('the board'),
  ready: boolean('init done: layout read, doorbells configured'),
  link: boolean('ntb_link_is_up'),
  vectors: integer('MSI vectors, vector 0 the link'),
  dbCount: int,
  dbValidMask: int,
  dbBits: integer('doorbell bits rung and not cleared (db_read)'),
  dbMask: integer('db_read_mask'),
  mwCount: int,
  mwAlign: nullable(record({ addrAlign: count, sizeAlign: count }), 'mw_get_align'),
  translations: list(record({ widx: count, addr: count, size: count }), 'inbound translations this host set (mw_set_trans)'),
  peerMws: list(record({ widx: count, bar: count, base: count, size: count }), 'the peer\'s windows as this host reaches them (peer_mw_get_addr)'),
  spadCount: int,
  spads: counts,
  peerSpads: counts,
  counters: counters(['sent', 'refused', 'timedOut', 'msis', 'spuriousMsis', 'linkEvents', 'dbEvents', 'peerDbRings'])
})

export const NtbQueueSchema = record({
  index: count,
  name: str,
  size: count,
  // An enum that admits null must list it (ajv's nullable does not extend enum).
  layout: Type.Unsafe<'split' | 'packed' | null>({ type: 'string', enum: ['split', 'packed', null], nullable: true, description: 'null until the rings are set up' }),
  desc: nullable(int, 'ring addresses are the virtio host\'s (inside its MW0)'),
  driverArea: nullable(int, 'split: the avail ring'),
  deviceArea: nullable(int, 'split: the used ring'),
  availIdx: nullable(int, 'split rings only'),
  usedIdx: nullable(int, 'split rings only'),
  ready: bool,
  counters: counters(['kicks', 'interrupts', 'buffers'])
})

export const NtbTransportStateSchema = record({
  transport: oneOf(['ntb-virtio', 'ntb-vhost']),
  state: string('stopped, down (no link), waiting (for the other side\'s TYPE), configuring, up'),
  peerType: string('the TYPE the other side wrote into scratchpad 0: none, virtio, vhost'),
  lastError: str,
  virtioAddr: nullable(int, 'MW0\'s address in the virtio host\'s memory'),
  mwSize: nullable(int, 'MW0\'s size'),
  device: nullable(record({
    name: str, deviceId: count, vendorId: count, status: count, statusBits: Type.Array(str), features: str, driver: nullable(str)
  }), 'the virtio or vhost device above the transport'),
  queues: Type.Array(NtbQueueSchema),
  counters: openCounters
})

export const NtbHostSchema = record({
  role: oneOf(['ntb-virtio', 'ntb-vhost']),
  side: oneOf(['virtio', 'vhost']),
  board: nullable(str, 'the board whose function is bound'),
  memorySize: count,
  lastError: str,
  retrying: boolean('the bring-up (ntb_hw_epf init, the transport\'s start) timed out and is tried again, with backoff, while the board\'s function is there'),
  device: nullable(NtbDeviceStateSchema, 'ntb_hw_epf, while the function is enumerated'),
  transport: nullable(NtbTransportStateSchema, 'ntb_virtio or ntb_vhost, once the device is ready')
}, { $id: 'NtbHost', description: 'An NTB host: the NTB device bound to the board\'s function and the transport above it.' })

/** GET /v1/ntb: the board's (role ntb) or a host's (ntb-virtio, ntb-vhost). */
export const NtbStateSchema = Type.Union([ref(NtbBoardSchema), ref(NtbHostSchema)])

export const NtbPairRequestSchema = record({ a: Type.String({ pattern: HOST_NAME, description: 'a host\'s node name' }), b: Type.String({ pattern: HOST_NAME, description: 'a host\'s node name' }) })

export type NtbInterface = Static<typeof NtbInterfaceSchema>
export type NtbLayout = Static<typeof NtbLayoutSchema>
export type NtbPair = Static<typeof NtbPairSchema>
export type NtbBoard = Static<typeof NtbBoardSchema>
export type NtbDeviceState = Static<typeof NtbDeviceStateSchema>
export type NtbQueue = Static<typeof NtbQueueSchema>
export type NtbTransportState = Static<typeof NtbTransportStateSchema>
export type NtbHost = Static<typeof NtbHostSchema>
export type NtbState = NtbBoard | NtbHost
