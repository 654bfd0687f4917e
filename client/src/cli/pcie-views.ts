// Human text for the PCIe and virtio resources: the endpoint's configfs
// tree, the root complex's bus, devices, virtqueues and test runs (pure;
// tables come from format.ts).

import type { Device, PciEpController, PciEpFunction, PciEpTree, PciRootComplex, TestRunResult, Virtqueue } from '../../../proto/api/index.js'
import { formatSize, table } from './format.js'

/** 0x-prefixed hex, zero-padded to `digits`. */
export const hex = (n: number | null, digits = 1): string | null => n === null ? null : `0x${n.toString(16).padStart(digits, '0')}`

const yesNo = (b: boolean): string => b ? 'yes' : 'no'

export function functionsTable (functions: PciEpFunction[]): string {
  if (functions.length === 0) return 'no functions'
  return table(['function', 'type', 'vendor', 'device', 'rev', 'class', 'subsys vendor', 'subsys', 'pin', 'msi', 'vrings', 'vring size', 'vhost driver'],
    functions.map((f) => [f.name, f.type, hex(f.vendorId, 4), hex(f.deviceId, 4), hex(f.revisionId, 2), hex(f.classCode, 6),
      hex(f.subsysVendorId, 4), hex(f.subsysId, 4), f.interruptPin, f.msiInterrupts, f.numVrings, f.vringSize, f.vhostDriver]))
}

export function controllersTable (controllers: PciEpController[]): string {
  if (controllers.length === 0) return 'no controllers'
  return table(['controller', 'function', 'started', 'rc', 'bars', 'outbound', 'msi', 'intx', 'last error'],
    controllers.map((c) => {
      const e = c.endpoint
      return [c.name, c.function, yesNo(c.started), e?.rcPeer,
        e?.bars.map((b) => `${b.index}:${formatSize(b.size)}@${hex(b.busAddress)}`).join(','),
        e?.outbound.map((o) => `${hex(o.pciAddr)}+${formatSize(o.size)} ${o.state}`).join(','),
        e?.counters.msi, e === null ? null : yesNo(e.intx), c.lastError]
    }))
}

export function pciEpText (tree: PciEpTree): string {
  return `${functionsTable(tree.functions)}\n\n${controllersTable(tree.controllers)}`
}

export function pciText (pci: PciRootComplex): string {
  const head = `system memory ${formatSize(pci.memorySize)} in region ${pci.region}; ${pci.spurious} spurious interrupts`
  if (pci.functions.length === 0) return `${head}\nno functions`
  return `${head}\n` + table(['peer', 'state', 'vendor', 'device', 'rev', 'class', 'subsys vendor', 'subsys', 'bars', 'msi', 'intx', 'last error'],
    pci.functions.map((f) => [f.peer, f.retrying ? `${f.state}, retrying` : f.state, hex(f.vendorId, 4), hex(f.deviceId, 4), hex(f.revisionId, 2), hex(f.classCode, 6),
      hex(f.subsystemVendorId, 4), hex(f.subsystemId, 4), f.bars.map((b) => `${b.index}:${formatSize(b.size)}@${hex(b.busAddress)}`).join(','),
      f.msi, yesNo(f.intx), f.lastError]))
}

export function devicesTable (devices: Device[]): string {
  if (devices.length === 0) return 'no devices'
  return table(['name', 'side', 'peer', 'transport', 'id', 'status', 'features', 'driver', 'last error'],
    devices.map((d) => [d.name, d.side, d.peer, d.transport, `${hex(d.vendorId, 4)}:${hex(d.deviceId, 4)}`,
      `${hex(d.status, 2)} ${d.statusBits.join(',')}`.trim(), d.driverFeatures, d.driver,
      d.needsReset !== '' ? `needs reset: ${d.needsReset}` : d.retrying ? `${d.lastError} (retrying)` : d.lastError]))
}

/** An index, with the packed ring's wrap counter after a slash. */
const idx = (n: number | null, wrap: boolean | null): string | number | null =>
  n === null || wrap === null ? n : `${n}/${wrap ? 1 : 0}`

export function virtqueuesTable (queues: Virtqueue[]): string {
  if (queues.length === 0) return 'no virtqueues'
  return table(['device', 'idx', 'name', 'layout', 'size', 'desc', 'avail', 'used', 'avail idx', 'used idx', 'last seen', 'kicks', 'interrupts', 'errors'],
    queues.map((q) => [q.device, q.index, q.name, q.layout, q.size, hex(q.desc), hex(q.driverArea), hex(q.deviceArea),
      idx(q.availIdx, q.availWrap), idx(q.usedIdx, q.usedWrap), q.lastSeenAvail, q.counters.kicks, q.counters.interrupts, q.counters.errors]))
}

export function testRunText (name: string, r: TestRunResult): string {
  const buffers = r.sent + r.received
  const rate = r.seconds > 0 ? `${Math.round(buffers / r.seconds)} buffers/s, ${(r.bytes / r.seconds / 1e6).toFixed(1)} MB/s` : 'rate -'
  return `${name}: sent ${r.sent}, received ${r.received}, verified ${r.verified}, errors ${r.errors}; ` +
    `${r.bytes} bytes in ${r.seconds.toFixed(3)} s (${rate})`
}
