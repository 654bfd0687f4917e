// JSON Schemas of the PCIe and virtio resources: the endpoint's configfs
// tree (functions, controllers), the root complex's view, virtio and vhost
// devices and their virtqueues. Registered with the shared ones, so OpenAPI
// lists them under components by $id. Closed objects, as in schemas.ts.

import type { FastifyInstance } from 'fastify'
import { record, ref } from './schemas.js'
import { VHOST_DRIVERS } from '../hw/pcie/function-table.js'

const int = { type: 'integer' } as const
const count = { type: 'integer', minimum: 0 } as const
const str = { type: 'string' } as const
const bool = { type: 'boolean' } as const
const nullable = (s: Record<string, unknown>, description?: string): Record<string, unknown> =>
  ({ ...s, nullable: true, ...(description !== undefined && { description }) })

/** Names of configfs entries (functions, controllers, vhost drivers): the rule region names follow. */
export const ENTRY_NAME = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'

/** The attributes of a function, bounded by the widths of the registers they fill (PCI Local Bus 6.2.1). */
export const FUNCTION_ATTRS: Record<string, Record<string, unknown>> = {
  type: { type: 'string', enum: ['vhost'], description: 'the function driver: pci-epf-vhost' },
  vendorId: { type: 'integer', minimum: 0, maximum: 0xffff, description: 'Vendor ID (16 bits)' },
  deviceId: { type: 'integer', minimum: 0, maximum: 0xffff, description: 'Device ID (16 bits)' },
  revisionId: { type: 'integer', minimum: 0, maximum: 0xff, description: 'Revision ID (8 bits)' },
  classCode: { type: 'integer', minimum: 0, maximum: 0xff_ffff, description: 'class, subclass, prog-if (24 bits)' },
  subsysVendorId: { type: 'integer', minimum: 0, maximum: 0xffff, description: 'Subsystem Vendor ID: the virtio vendor id' },
  subsysId: { type: 'integer', minimum: 0, maximum: 0xffff, description: 'Subsystem ID: the virtio device id' },
  interruptPin: { type: 'integer', minimum: 0, maximum: 4, description: '0 none, 1..4 INTA..INTD' },
  msiInterrupts: { type: 'integer', minimum: 1, maximum: 32, description: 'MSI vectors asked for (1..32)' },
  numVrings: { type: 'integer', minimum: 1, maximum: 8, description: 'virtqueues of the vhost device (BAR0 has room for 8)' },
  vringSize: { type: 'integer', minimum: 0, maximum: 32768, description: 'buffers in each virtqueue; 0 (the default): as many as the vhost driver asks (rpmsg: rpmsgNumBufs; a function running rpmsg must leave 0 or equal rpmsgNumBufs, else 400 ERR_CONFIG)' },
  vhostDriver: {
    type: 'string',
    enum: [...VHOST_DRIVERS],
    description: 'the vhost-client driver linked to the function (also set by linking in /v1/vhost/vhost-transport): ' +
      'rpmsg (subsysId set to 7, VIRTIO_ID_RPMSG, when the function starts), soclink-test (subsysId set to 0xffe0, the test device) ' +
      'or none (no client linked: the subsystem ids stay as configured)'
  }
}

export const PciFunctionConfigSchema = {
  $id: 'PciEpFunction',
  description: 'An endpoint function: functions/pci_epf_vhost/<name> in pci_ep configfs.',
  ...record({ name: str, ...FUNCTION_ATTRS })
}

const FUNCTION_IDS = ['vendorId', 'deviceId', 'revisionId', 'classCode', 'subsystemVendorId', 'subsystemId', 'interruptPin']

export const EndpointStateSchema = {
  $id: 'PciEndpointState',
  description: 'A started controller (pci_epc): the header it shows, BARs, outbound windows onto the rc\'s memory, interrupts.',
  ...record({
    name: str,
    rcPeer: { type: 'string', description: 'the root complex\'s node name' },
    started: bool,
    header: record(Object.fromEntries(FUNCTION_IDS.map((k) => [k, count]))),
    command: { type: 'integer', description: 'the Command register as the rc left it' },
    bars: { type: 'array', items: record({ index: count, size: count, flags: count, region: str, busAddress: count }) },
    outbound: { type: 'array', items: record({ window: int, pciAddr: count, size: count, state: str }) },
    intx: { type: 'boolean', description: 'INTx asserted' },
    counters: record(Object.fromEntries(['msi', 'intxAssert', 'intxDeassert', 'outboundMaps', 'outboundUnmaps', 'linkEventErrors'].map((k) => [k, count])))
  })
}

export const PciControllerSchema = {
  $id: 'PciEpController',
  description: 'An endpoint controller: controllers/<epc>/ in pci_ep configfs, the function linked into it, and its state.',
  ...record({
    name: str,
    function: nullable(str, 'the linked function (the configfs symlink), or null'),
    started: bool,
    lastError: { type: 'string', description: 'why the last start failed; empty after a start' },
    endpoint: { anyOf: [ref('PciEndpointState'), { type: 'null' }], description: 'null while stopped' }
  })
}

const BARS = { type: 'array', items: record({ index: count, size: count, flags: count, busAddress: count, window: { type: 'integer', description: 'the rc\'s window onto the BAR' } }) }

export const PciFunctionStateSchema = {
  $id: 'PciFunction',
  description: 'A function the root complex found behind an endpoint peer. Header fields are null until it is enumerated.',
  ...record({
    peer: str,
    state: { type: 'string', enum: ['enumerating', 'ready', 'failed'] },
    lastError: str,
    retrying: { type: 'boolean', description: 'failed, and enumeration will be tried again: it timed out (the endpoint did not answer), and is retried with backoff while the link is up' },
    ...Object.fromEntries(FUNCTION_IDS.map((k) => [k, nullable(count)])),
    bars: BARS,
    msi: { type: 'integer', minimum: 0, description: 'MSIs received' },
    intx: { type: 'boolean', description: 'INTx level' }
  })
}

export const STATUS_BITS = ['ACKNOWLEDGE', 'DRIVER', 'DRIVER_OK', 'FEATURES_OK', 'NEEDS_RESET', 'FAILED'] as const
const hexString = (description: string): Record<string, unknown> => ({ type: 'string', pattern: '^0x[0-9a-f]+$', description })

export const DeviceSchema = {
  $id: 'Device',
  description: 'A virtio device (rc, ntb-virtio: the driver side) or a vhost device (ep, ntb-vhost: the device side).',
  ...record({
    name: { type: 'string', description: 'virtio<n> or vhost<n>' },
    side: { type: 'string', enum: ['virtio', 'vhost'] },
    peer: { type: 'string', description: 'the node on the other side: PCIe, the ep or rc; NTB, the board whose NTB function carries the device' },
    transport: { type: 'string', enum: ['virtio-pci-epf', 'pci-epf-vhost', 'ntb-virtio', 'ntb-vhost'] },
    deviceId: count,
    vendorId: count,
    status: { type: 'integer', minimum: 0, maximum: 255, description: 'the device status byte' },
    statusBits: { type: 'array', items: { type: 'string', enum: [...STATUS_BITS] } },
    deviceFeatures: hexString('what the device offers'),
    driverFeatures: hexString('what was negotiated (0x0 before FEATURES_OK)'),
    driver: nullable(str, 'the driver bound, or null'),
    needsReset: { type: 'string', description: 'vhost: why the device asked for a reset, until the virtio side resets it; virtio: empty' },
    lastError: str,
    retrying: { type: 'boolean', description: 'virtio: the last probe timed out (the other side did not answer its commands) and the device will be probed again, with backoff, while it is there; vhost: false' },
    test: nullable(record({ sent: count, received: count, verified: count, errors: count, bytes: count }), 'the test device\'s counters (buffers checked on this side), or null when another driver is bound')
  })
}

export const VirtqueueSchema = {
  $id: 'Virtqueue',
  description: 'A virtqueue of a device, as its side sees it. Addresses are bus addresses in `region`. ' +
    'Split: availIdx and usedIdx are avail->idx and used->idx read from the ring; wrap fields are null. ' +
    'Packed: availIdx/availWrap is the next slot the driver makes available (driver side) or reads (device side), ' +
    'usedIdx/usedWrap the next slot where a used descriptor appears.',
  ...record({
    device: str,
    side: { type: 'string', enum: ['virtio', 'vhost'] },
    index: count,
    name: str,
    layout: { type: 'string', enum: ['split', 'packed'] },
    size: count,
    region: { type: 'string', description: 'rc, ntb-virtio: pcie.sysmem; ep: <rc>:pcie.sysmem, through the outbound window; ntb-vhost: <board>:pcie.bar2, the peer memory window onto the virtio host\'s MW0' },
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
      kicks: { type: 'integer', minimum: 0, description: 'driver: notifications sent; device: received' },
      kicksSuppressed: nullable(count, 'driver: kicks the device asked not to get; null on the device side'),
      interrupts: { type: 'integer', minimum: 0, description: 'used-buffer notifications received (driver) or sent (device)' },
      buffers: { type: 'integer', minimum: 0, description: 'driver: used buffers taken back; device: buffers completed' },
      errors: { type: 'integer', minimum: 0, description: 'driver: 1 once the ring is broken; device: ring errors' }
    }),
    lastError: str
  })
}

const PCIE_SHARED = [PciFunctionConfigSchema, EndpointStateSchema, PciControllerSchema, PciFunctionStateSchema, DeviceSchema, VirtqueueSchema]

export function addPcieSchemas (app: FastifyInstance): void {
  for (const s of PCIE_SHARED) app.addSchema(s)
}
