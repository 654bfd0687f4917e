// Contracts of the PCIe and virtio resources: the endpoint's configfs tree
// (functions, controllers), the root complex's view, virtio and vhost
// devices and their virtqueues, and the test device's runs.

import { VHOST_DRIVERS } from './names.js'
import { Type, bool, count, countOf, counters, int, nullable, oneOf, record, ref, str, type Static } from './schema.js'

/** Names of configfs entries (functions, controllers, vhost drivers): the rule region names follow. */
export const ENTRY_NAME = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'

const between = (minimum: number, maximum: number, description: string): ReturnType<typeof Type.Integer> => Type.Integer({ minimum, maximum, description })

/** The attributes of a function, bounded by the widths of the registers they fill (PCI Local Bus 6.2.1). */
export const FUNCTION_ATTRS = {
  type: oneOf(['vhost'], 'the function driver: pci-epf-vhost'),
  vendorId: between(0, 0xffff, 'Vendor ID (16 bits)'),
  deviceId: between(0, 0xffff, 'Device ID (16 bits)'),
  revisionId: between(0, 0xff, 'Revision ID (8 bits)'),
  classCode: between(0, 0xff_ffff, 'class, subclass, prog-if (24 bits)'),
  subsysVendorId: between(0, 0xffff, 'Subsystem Vendor ID: the virtio vendor id'),
  subsysId: between(0, 0xffff, 'Subsystem ID: the virtio device id'),
  interruptPin: between(0, 4, '0 none, 1..4 INTA..INTD'),
  msiInterrupts: between(1, 32, 'MSI vectors asked for (1..32)'),
  numVrings: between(1, 8, 'virtqueues of the vhost device (BAR0 has room for 8)'),
  vringSize: between(0, 32768, 'buffers in each virtqueue; 0 (the default): as many as the vhost driver asks (rpmsg: rpmsgNumBufs; a function running rpmsg must leave 0 or equal rpmsgNumBufs, else 400 ERR_CONFIG)'),
  vhostDriver: oneOf(VHOST_DRIVERS, 'the vhost-client driver linked to the function (also set by linking in /v1/vhost/vhost-transport): ' +
    'rpmsg (subsysId set to 7, VIRTIO_ID_RPMSG, when the function starts), soclink-test (subsysId set to 0xffe0, the test device) ' +
    'or none (no client linked: the subsystem ids stay as configured)')
}

type Attrs = typeof FUNCTION_ATTRS
const optionalAttrs = Object.fromEntries(Object.entries(FUNCTION_ATTRS).map(([k, v]) => [k, Type.Optional(v)])) as {
  [K in keyof Attrs]: ReturnType<typeof Type.Optional<Attrs[K]>>
}

export const PciEpFunctionSchema = record({ name: str, ...FUNCTION_ATTRS }, {
  $id: 'PciEpFunction', description: 'An endpoint function: functions/pci_epf_vhost/<name> in pci_ep configfs.'
})

/** POST /v1/pci-ep/functions: a name, and any attributes. */
export const PciEpFunctionCreateSchema = record({ name: Type.String({ pattern: ENTRY_NAME }), ...optionalAttrs })

/** PATCH /v1/pci-ep/functions/:name: at least one attribute. */
export const PciEpFunctionAttrsSchema = record(optionalAttrs, { minProperties: 1 })

const FUNCTION_IDS = ['vendorId', 'deviceId', 'revisionId', 'classCode', 'subsystemVendorId', 'subsystemId', 'interruptPin'] as const

export const PciEndpointStateSchema = record({
  name: str,
  rcPeer: Type.String({ description: 'the root complex\'s node name' }),
  started: bool,
  header: counters(FUNCTION_IDS),
  command: Type.Integer({ description: 'the Command register as the rc left it' }),
  bars: Type.Array(record({ index: count, size: count, flags: count, region: str, busAddress: count })),
  outbound: Type.Array(record({ window: int, pciAddr: count, size: count, state: str })),
  intx: Type.Boolean({ description: 'INTx asserted' }),
  counters: counters(['msi', 'intxAssert', 'intxDeassert', 'outboundMaps', 'outboundUnmaps', 'linkEventErrors'])
}, { $id: 'PciEndpointState', description: 'A started controller (pci_epc): the header it shows, BARs, outbound windows onto the rc\'s memory, interrupts.' })

export const PciEpControllerSchema = record({
  name: str,
  function: nullable(str, 'the linked function (the configfs symlink), or null'),
  started: bool,
  lastError: Type.String({ description: 'why the last start failed; empty after a start' }),
  endpoint: Type.Union([ref(PciEndpointStateSchema), Type.Null()], { description: 'null while stopped' })
}, { $id: 'PciEpController', description: 'An endpoint controller: controllers/<epc>/ in pci_ep configfs, the function linked into it, and its state.' })

export const PciEpTreeSchema = record({ functions: Type.Array(ref(PciEpFunctionSchema)), controllers: Type.Array(ref(PciEpControllerSchema)) })

const nullableIds = Object.fromEntries(FUNCTION_IDS.map((k) => [k, nullable(count)])) as { [K in typeof FUNCTION_IDS[number]]: ReturnType<typeof nullable<typeof count>> }

export const PciFunctionSchema = record({
  peer: str,
  state: oneOf(['enumerating', 'ready', 'failed']),
  lastError: str,
  retrying: Type.Boolean({ description: 'failed, and enumeration will be tried again: it timed out (the endpoint did not answer), and is retried with backoff while the link is up' }),
  ...nullableIds,
  bars: Type.Array(record({ index: count, size: count, flags: count, busAddress: count, window: Type.Integer({ description: 'the rc\'s window onto the BAR' }) })),
  msi: Type.Integer({ minimum: 0, description: 'MSIs received' }),
  intx: Type.Boolean({ description: 'INTx level' })
}, { $id: 'PciFunction', description: 'A function the root complex found behind an endpoint peer. Header fields are null until it is enumerated.' })

export const PciRootComplexSchema = record({
  memorySize: Type.Integer({ minimum: 0, description: 'bytes of system memory' }),
  region: Type.String({ description: 'the region holding it (pcie.sysmem)' }),
  spurious: Type.Integer({ minimum: 0, description: 'interrupts from peers with no enumerated function' }),
  functions: Type.Array(ref(PciFunctionSchema))
})

export const STATUS_BITS = ['ACKNOWLEDGE', 'DRIVER', 'DRIVER_OK', 'FEATURES_OK', 'NEEDS_RESET', 'FAILED'] as const
const hexString = (description: string): ReturnType<typeof Type.String> => Type.String({ pattern: '^0x[0-9a-f]+$', description })

export const TestCountersSchema = counters(['sent', 'received', 'verified', 'errors', 'bytes'])

export const DeviceSchema = record({
  name: Type.String({ description: 'virtio<n> or vhost<n>' }),
  side: oneOf(['virtio', 'vhost']),
  peer: Type.String({ description: 'the node on the other side: PCIe, the ep or rc; NTB, the board whose NTB function carries the device' }),
  transport: oneOf(['virtio-pci-epf', 'pci-epf-vhost', 'ntb-virtio', 'ntb-vhost']),
  deviceId: count,
  vendorId: count,
  status: Type.Integer({ minimum: 0, maximum: 255, description: 'the device status byte' }),
  statusBits: Type.Array(oneOf(STATUS_BITS)),
  deviceFeatures: hexString('what the device offers'),
  driverFeatures: hexString('what was negotiated (0x0 before FEATURES_OK)'),
  driver: nullable(str, 'the driver bound, or null'),
  needsReset: Type.String({ description: 'vhost: why the device asked for a reset, until the virtio side resets it; virtio: empty' }),
  lastError: str,
  retrying: Type.Boolean({ description: 'virtio: the last probe timed out (the other side did not answer its commands) and the device will be probed again, with backoff, while it is there; vhost: false' }),
  test: nullable(TestCountersSchema, 'the test device\'s counters (buffers checked on this side), or null when another driver is bound')
}, { $id: 'Device', description: 'A virtio device (rc, ntb-virtio: the driver side) or a vhost device (ep, ntb-vhost: the device side).' })

export const DeviceListSchema = record({ devices: Type.Array(ref(DeviceSchema)) })

export const VirtqueueSchema = record({
  device: str,
  side: oneOf(['virtio', 'vhost']),
  index: count,
  name: str,
  layout: oneOf(['split', 'packed']),
  size: count,
  region: Type.String({ description: 'rc, ntb-virtio: pcie.sysmem; ep: <rc>:pcie.sysmem, through the outbound window; ntb-vhost: <board>:pcie.bar2, the peer memory window onto the virtio host\'s MW0' }),
  desc: nullable(count, 'null on the device side until the driver activates the queue'),
  driverArea: nullable(count, 'split: the avail ring'),
  deviceArea: nullable(count, 'split: the used ring'),
  availIdx: nullable(count, 'null when the ring cannot be read'),
  usedIdx: nullable(count, 'null when the ring cannot be read'),
  availWrap: nullable(bool),
  usedWrap: nullable(bool),
  lastSeenAvail: nullable(count, 'device side: the avail index (split) or slot (packed) it reads next; null on the driver side'),
  ready: bool,
  counters: record({
    kicks: countOf('driver: notifications sent; device: received'),
    kicksSuppressed: nullable(count, 'driver: kicks the device asked not to get; null on the device side'),
    interrupts: countOf('used-buffer notifications received (driver) or sent (device)'),
    buffers: countOf('driver: used buffers taken back; device: buffers completed'),
    errors: countOf('driver: 1 once the ring is broken; device: ring errors')
  }),
  lastError: str
}, {
  $id: 'Virtqueue',
  description: 'A virtqueue of a device, as its side sees it. Addresses are bus addresses in `region`. ' +
    'Split: availIdx and usedIdx are avail->idx and used->idx read from the ring; wrap fields are null. ' +
    'Packed: availIdx/availWrap is the next slot the driver makes available (driver side) or reads (device side), ' +
    'usedIdx/usedWrap the next slot where a used descriptor appears.'
})

export const VirtqueueListSchema = record({ virtqueues: Type.Array(ref(VirtqueueSchema)) })

/** The test device's run: POST /v1/devices/:name/test. */
export const DEFAULT_TEST_TIMEOUT_MS = 120_000
const buffers = (description: string): ReturnType<typeof Type.Integer> => Type.Integer({ minimum: 0, maximum: 1_000_000_000, description })
export const TestRunRequestSchema = record({
  tx: buffers('buffers to send on vq0 "tx"'),
  rx: buffers('buffers to receive on vq1 "rx"'),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000, description: `default ${DEFAULT_TEST_TIMEOUT_MS}` }))
})
export const TestRunResultSchema = record({ sent: int, received: int, verified: int, errors: int, bytes: int, seconds: Type.Number() })

export type PciEpFunction = Static<typeof PciEpFunctionSchema>
export type PciEpFunctionAttrs = Static<typeof PciEpFunctionAttrsSchema>
export type PciEpFunctionCreate = Static<typeof PciEpFunctionCreateSchema>
export type PciEndpointState = Static<typeof PciEndpointStateSchema>
export type PciFunctionIds = PciEndpointState['header']
export type PciEpController = Static<typeof PciEpControllerSchema>
export type PciEpTree = Static<typeof PciEpTreeSchema>
export type PciFunction = Static<typeof PciFunctionSchema>
export type PciRootComplex = Static<typeof PciRootComplexSchema>
export type VirtioStatusBit = typeof STATUS_BITS[number]
export type Device = Static<typeof DeviceSchema>
export type Virtqueue = Static<typeof VirtqueueSchema>
export type TestRunRequest = Static<typeof TestRunRequestSchema>
export type TestRunResult = Static<typeof TestRunResultSchema>
