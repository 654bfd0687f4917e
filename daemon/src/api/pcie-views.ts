// What the API shows of virtio and vhost devices and their rings, whichever
// transport runs them: plain objects of the contracts' types
// (proto/api/pcie.ts). The roles' own views (the pci_ep tree, the rc's bus,
// which devices a role has) are in roles/pcie-views.ts and roles/ntb-*views.ts.
// Feature sets (bigint) become "0x..." strings; ring indices are read from
// the ring's memory as each side sees it.

import type { MemoryAccess } from '../mem/access.js'
import type { RingAddrs } from '../uapi/ring-addrs.js'
import type { VirtioDevice } from '../virtio/virtio.js'
import type { Virtqueue } from '../virtio/virtqueue.js'
import type { VhostDevice } from '../vhost/vhost.js'
import type { VhostVirtqueue } from '../vhost/virtqueue.js'
import { PackedVirtqueue } from '../virtio/packed-virtqueue.js'
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_NEEDS_RESET, VIRTIO_F_RING_PACKED, hasFeature
} from '../uapi/virtio-config.js'
import type { Device, VirtioStatusBit, Virtqueue as VirtqueueReply } from '../../../proto/api/index.js'

// ------------------------------------------------------------ devices

export type DeviceView = Device

export type TestCountersView = NonNullable<Device['test']>

const BITS: Array<[VirtioStatusBit, number]> = [
  ['ACKNOWLEDGE', VIRTIO_CONFIG_S_ACKNOWLEDGE], ['DRIVER', VIRTIO_CONFIG_S_DRIVER], ['DRIVER_OK', VIRTIO_CONFIG_S_DRIVER_OK],
  ['FEATURES_OK', VIRTIO_CONFIG_S_FEATURES_OK], ['NEEDS_RESET', VIRTIO_CONFIG_S_NEEDS_RESET], ['FAILED', VIRTIO_CONFIG_S_FAILED]
]

export const statusBits = (status: number): VirtioStatusBit[] => BITS.filter(([, bit]) => (status & bit) !== 0).map(([name]) => name)

const hex = (n: bigint): string => `0x${n.toString(16)}`

/** A read that may fail by now (a window or region gone, a device its driver let go): `fallback` if it throws. */
export function tryRead<T> (read: () => T, fallback: T): T {
  try {
    return read()
  } catch {
    return fallback
  }
}

/** The driver side's transport: its device, who is on the other side, and what the device offers. */
export interface VirtioSideView { device: VirtioDevice, peer: string, transport: DeviceView['transport'], getFeatures: () => bigint }

export function virtioDeviceView (t: VirtioSideView, test: TestCountersView | null = null): DeviceView {
  const d = t.device
  const status = tryRead(() => d.status, 0)
  return {
    name: d.name,
    side: 'virtio',
    peer: t.peer,
    transport: t.transport,
    deviceId: d.id.device,
    vendorId: d.id.vendor,
    status,
    statusBits: statusBits(status),
    deviceFeatures: hex(tryRead(() => t.getFeatures(), 0n)),
    driverFeatures: hex(d.features),
    driver: d.driver?.name ?? null,
    needsReset: '',
    lastError: d.lastError?.message ?? '',
    retrying: d.retrying,
    test: test === null ? null : { ...test }
  }
}

export function vhostDeviceView (d: VhostDevice, peer: string, transport: DeviceView['transport'], test: TestCountersView | null = null): DeviceView {
  const status = tryRead(() => d.getStatus(), 0)
  return {
    name: d.name,
    side: 'vhost',
    peer,
    transport,
    deviceId: d.id.device,
    vendorId: d.id.vendor,
    status,
    statusBits: statusBits(status),
    deviceFeatures: hex(d.offered),
    driverFeatures: hex(d.features),
    driver: d.driver?.name ?? null,
    needsReset: d.needsReset?.message ?? '',
    lastError: d.lastError?.message ?? '',
    retrying: false,
    test: test === null ? null : { ...test }
  }
}

// ------------------------------------------------------------ virtqueues

export type VirtqueueView = VirtqueueReply

/** The driver side: rings in its system memory `mem` (region `region`), read directly. */
export function virtioQueues (d: VirtioDevice, vqs: ReadonlyArray<Virtqueue<unknown>>, mem: MemoryAccess, region: string): VirtqueueView[] {
  const driverOk = (tryRead(() => d.status, 0) & VIRTIO_CONFIG_S_DRIVER_OK) !== 0
  return vqs.map((vq) => {
    const a = vq.addrs
    const r = vq.ring
    const packed = r instanceof PackedVirtqueue
    return {
      device: d.name,
      side: 'virtio',
      index: vq.index,
      name: vq.name,
      layout: a.layout,
      size: vq.num,
      region,
      desc: a.desc,
      driverArea: a.driver,
      deviceArea: a.device,
      availIdx: packed ? r.nextAvail : tryRead(() => mem.read16(a.driver + 2), null),
      usedIdx: packed ? r.lastUsed : tryRead(() => mem.read16(a.device + 2), null),
      availWrap: packed ? r.availWrap === 1 : null,
      usedWrap: packed ? r.usedWrap === 1 : null,
      lastSeenAvail: null,
      ready: driverOk && !vq.broken,
      counters: { kicks: vq.counters.kicks, kicksSuppressed: vq.counters.kicksSuppressed, interrupts: vq.interrupts, buffers: vq.counters.used, errors: vq.broken ? 1 : 0 },
      lastError: vq.broken ? (d.lastError?.message ?? 'the ring is broken') : ''
    }
  })
}

const u16At = (bytes: Uint8Array): number => bytes[0]! | (bytes[1]! << 8)

/** A device side's rings: where each is and where the device is in it, and the driver's memory as the transport reaches it. */
export interface VhostRingsView {
  readonly device: VhostDevice
  readonly vqs: readonly VhostVirtqueue[]
  readonly addrs: ReadonlyArray<RingAddrs | undefined>
  ringPosition: (n: number) => { lastAvail: number, availWrap: boolean | null, nextUsed: number, usedWrap: boolean | null } | null
  read: (addr: number, length: number) => Uint8Array
}

/** The device side: rings in the driver's memory, read through the transport (an ep's outbound window, an NTB memory window). */
export function vhostQueues (epf: VhostRingsView, region: string): VirtqueueView[] {
  const d = epf.device
  return epf.vqs.map((vq) => {
    const a = epf.addrs[vq.index]
    const pos = epf.ringPosition(vq.index)
    const layout = a?.layout ?? (hasFeature(d.features, VIRTIO_F_RING_PACKED) ? 'packed' : 'split')
    const split = a !== undefined && a.layout === 'split'
    return {
      device: d.name,
      side: 'vhost',
      index: vq.index,
      name: vq.name,
      layout,
      size: vq.num,
      region,
      desc: a?.desc ?? null,
      driverArea: a?.driver ?? null,
      deviceArea: a?.device ?? null,
      availIdx: split ? tryRead(() => u16At(epf.read(a.driver + 2, 2)), null) : pos?.lastAvail ?? null,
      usedIdx: split ? tryRead(() => u16At(epf.read(a.device + 2, 2)), null) : pos?.nextUsed ?? null,
      availWrap: split ? null : pos?.availWrap ?? null,
      usedWrap: split ? null : pos?.usedWrap ?? null,
      lastSeenAvail: pos?.lastAvail ?? null,
      ready: vq.ready,
      counters: { kicks: vq.counters.kicks, kicksSuppressed: null, interrupts: vq.counters.interrupts, buffers: vq.counters.buffers, errors: vq.counters.errors },
      lastError: vq.lastError?.message ?? ''
    }
  })
}
