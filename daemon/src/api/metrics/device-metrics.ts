// The virtio and vhost devices' metrics, PCIe and NTB alike: each device's
// status byte, and each virtqueue's indices (read from the ring's memory as
// this side sees it, as GET /v1/virtqueues shows them), kicks, interrupts,
// buffers and ring errors. Read through the same DeviceSource as GET
// /v1/devices and /v1/virtqueues (the role gives it), so the two never tell
// different stories.

import type { Registry } from 'prom-client'
import type { VirtqueueView } from '../pcie-views.js'
import type { DeviceSource } from '../routes/devices.js'
import { counter, gauge, type Sample } from './families.js'

const QUEUE = ['device', 'side', 'queue', 'name'] as const

export function deviceMetrics (registry: Registry, source: Pick<DeviceSource, 'devices' | 'virtqueues'>): void {
  gauge(registry, {
    name: 'soclink_device_status',
    help: 'The virtio device status byte (VIRTIO_CONFIG_S_*: 15 is ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK)',
    labels: ['device', 'side', 'transport', 'peer']
  }, function * () {
    for (const d of source.devices()) yield [{ device: d.name, side: d.side, transport: d.transport, peer: d.peer }, d.status]
  })
  const queues = (read: (q: VirtqueueView) => number | null) => function * (): Iterable<Sample> {
    for (const q of source.virtqueues()) {
      const v = read(q)
      if (v !== null) yield [{ device: q.device, side: q.side, queue: q.index, name: q.name }, v]
    }
  }
  gauge(registry, { name: 'soclink_virtqueue_size', help: 'Entries in the ring (queue size)', labels: QUEUE }, queues((q) => q.size))
  gauge(registry, { name: 'soclink_virtqueue_ready', help: 'Whether the queue is usable (1): driver side DRIVER_OK and not broken, device side enabled', labels: QUEUE }, queues((q) => q.ready ? 1 : 0))
  gauge(registry, { name: 'soclink_virtqueue_avail_index', help: 'The available ring\'s idx (split rings) or the next available slot (packed), as this side reads it', labels: QUEUE }, queues((q) => q.availIdx))
  gauge(registry, { name: 'soclink_virtqueue_used_index', help: 'The used ring\'s idx (split rings) or the next used slot (packed), as this side reads it', labels: QUEUE }, queues((q) => q.usedIdx))
  counter(registry, { name: 'soclink_virtqueue_kicks_total', help: 'Notifications of the device (driver side: sent; device side: received)', labels: QUEUE }, queues((q) => q.counters.kicks))
  counter(registry, { name: 'soclink_virtqueue_kicks_suppressed_total', help: 'Kicks the driver side left out because the device asked for none (VRING_USED_F_NO_NOTIFY, event idx)', labels: QUEUE }, queues((q) => q.counters.kicksSuppressed))
  counter(registry, { name: 'soclink_virtqueue_interrupts_total', help: 'Interrupts of the driver (driver side: taken; device side: raised)', labels: QUEUE }, queues((q) => q.counters.interrupts))
  counter(registry, { name: 'soclink_virtqueue_buffers_total', help: 'Buffers completed (driver side: taken from the used ring; device side: put in it)', labels: QUEUE }, queues((q) => q.counters.buffers))
  // The driver side's ring breaks once (virtio_break_device) and stays broken until reset: soclink_virtqueue_ready shows it.
  counter(registry, { name: 'soclink_virtqueue_ring_errors_total', help: 'Malformed rings the device side found (bad descriptors, indices, loops)', labels: QUEUE }, queues((q) => q.side === 'vhost' ? q.counters.errors : null))
}
