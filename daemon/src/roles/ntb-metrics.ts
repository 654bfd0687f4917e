// The NTB metrics. On the board (role ntb): each pair's two interfaces of
// the NTB function (pci-epf-ntb.c), their link, doorbell slot writes, MSIs
// raised and commands. On a host (ntb-virtio, ntb-vhost): its NTB device as
// ntb_hw_epf drives it (link, doorbells each way, scratchpad writes, MSIs,
// commands) and the transport above it (sessions, doorbells handled, polls).
// Read from the counters GET /v1/ntb shows.

import type { Registry } from 'prom-client'
import type { EpfNtbCounters } from '../hw/ntb/epf-ntb-interface.js'
import type { NtbHwEpf, NtbHwEpfCounters } from '../hw/ntb/ntb-hw-epf.js'
import type { NtbLinkCounters } from '../transport/ntb-link-client.js'
import { tryRead } from '../api/pcie-views.js'
import { counter, gauge, type Labels, type Sample } from '../api/metrics/families.js'
import type { NtbBoardRole } from './ntb-board.js'
import type { NtbHostRole } from './ntb-host.js'

const IFACE = ['pair', 'host', 'side'] as const
const DEVICE = ['ntb', 'peer'] as const

const BOARD_COUNTERS: Array<{ name: string, help: string, key: keyof EpfNtbCounters }> = [
  { name: 'doorbell_writes', help: 'Writes by the host into its doorbell slots (peer_db_set)', key: 'doorbellWrites' },
  { name: 'doorbells_dropped', help: 'Doorbell slot writes that raised nothing (no doorbell configured there, or no vector)', key: 'doorbellsDropped' },
  { name: 'link_events', help: 'Link changes raised on the host (MSI vector 0)', key: 'linkEvents' },
  { name: 'commands', help: 'Commands the host wrote to the function\'s ctrl registers', key: 'commands' },
  { name: 'command_errors', help: 'Of those, commands refused', key: 'commandErrors' }
]

const DEVICE_COUNTERS: Array<{ name: string, help: string, key: keyof NtbHwEpfCounters }> = [
  { name: 'doorbell_events', help: 'Doorbells from the other host taken (db_event)', key: 'dbEvents' },
  { name: 'peer_doorbell_rings', help: 'Doorbell slots written toward the other host (peer_db_set)', key: 'peerDbRings' },
  { name: 'msis', help: 'MSIs taken from the board', key: 'msis' },
  { name: 'spurious_msis', help: 'MSIs for no vector this host configured', key: 'spuriousMsis' },
  { name: 'link_events', help: 'Link changes taken (MSI vector 0)', key: 'linkEvents' },
  { name: 'commands', help: 'Commands sent to the NTB function', key: 'sent' },
  { name: 'command_refusals', help: 'Commands the function refused', key: 'refused' },
  { name: 'command_timeouts', help: 'Commands the function did not answer in time', key: 'timedOut' }
]

const TRANSPORT_COUNTERS: Array<{ name: string, help: string, key: keyof NtbLinkCounters }> = [
  { name: 'sessions', help: 'Sessions the NTB virtio/vhost transport brought up', key: 'sessions' },
  { name: 'doorbells', help: 'Doorbells the transport handled', key: 'doorbells' },
  { name: 'doorbell_errors', help: 'Doorbells the transport could not handle', key: 'doorbellErrors' },
  { name: 'polls', help: 'Polls of the rings the transport made instead of waiting for a doorbell', key: 'polls' }
]

/** The board: one series per interface of each pair's function. */
export function ntbBoardMetrics (registry: Registry, board: NtbBoardRole): void {
  const interfaces = function * (): Iterable<readonly [Labels, { linkup: boolean, counters: EpfNtbCounters, msi: number[] }]> {
    for (const p of board.view().pairs) {
      for (const i of p.function.interfaces) yield [{ pair: p.name, host: i.host, side: i.side }, i]
    }
  }
  const perIface = (read: (i: { linkup: boolean, counters: EpfNtbCounters, msi: number[] }) => number) => function * (): Iterable<Sample> {
    for (const [labels, i] of interfaces()) yield [labels, read(i)]
  }
  gauge(registry, { name: 'soclink_ntb_function_link_up', help: 'Board: whether the NTB function\'s link to the host is up', labels: IFACE }, perIface((i) => i.linkup ? 1 : 0))
  counter(registry, { name: 'soclink_ntb_function_msis_total', help: 'Board: MSIs raised on the host, all vectors', labels: IFACE }, perIface((i) => i.msi.reduce((a, b) => a + b, 0)))
  for (const m of BOARD_COUNTERS) counter(registry, { name: `soclink_ntb_function_${m.name}_total`, help: `Board: ${m.help}`, labels: IFACE }, perIface((i) => i.counters[m.key]))
}

/** A host: its NTB device, while it has one, and the transport above it. */
export function ntbHostMetrics (registry: Registry, host: NtbHostRole): void {
  const perDevice = (read: (d: NtbHwEpf) => number) => function * (): Iterable<Sample> {
    const d = host.device
    if (d !== null) yield [{ ntb: d.name, peer: d.peer }, read(d)]
  }
  gauge(registry, { name: 'soclink_ntb_link_up', help: 'Host: whether the NTB link is up (ntb_link_is_up)', labels: DEVICE }, perDevice((d) => tryRead(() => d.linkIsUp(), false) ? 1 : 0))
  counter(registry, { name: 'soclink_ntb_spad_writes_total', help: 'Host: writes to its own scratchpads (spad_write)', labels: DEVICE }, perDevice((d) => d.spadWrites.own))
  counter(registry, { name: 'soclink_ntb_peer_spad_writes_total', help: 'Host: writes to the other host\'s scratchpads (peer_spad_write)', labels: DEVICE }, perDevice((d) => d.spadWrites.peer))
  for (const m of DEVICE_COUNTERS) counter(registry, { name: `soclink_ntb_${m.name}_total`, help: `Host: ${m.help}`, labels: DEVICE }, perDevice((d) => d.counters[m.key]))

  const TRANSPORT = ['transport'] as const
  const transport = (): readonly [Labels, NtbLinkCounters] | null => {
    const t = host.virtio ?? host.vhost ?? null
    if (t === null) return null
    return [{ transport: host.virtio !== null ? 'ntb-virtio' : 'ntb-vhost' }, t.counters]
  }
  for (const m of TRANSPORT_COUNTERS) {
    counter(registry, { name: `soclink_ntb_transport_${m.name}_total`, help: `Host: ${m.help}`, labels: TRANSPORT }, function * () {
      const t = transport()
      if (t !== null) yield [t[0], t[1][m.key]]
    })
  }
}
