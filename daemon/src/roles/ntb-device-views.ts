// The NTB hosts' virtio and vhost devices and their rings, in the same
// shapes as the PCIe ones (pcie-views.ts), for GET /v1/devices and GET
// /v1/virtqueues. The peer is the NTB board: the node whose function
// carries the device. The other host sits behind the board and its name
// never reaches this one, as an NTB shows a host nothing of its peer but
// scratchpads, doorbells and memory windows.
//   - ntb-virtio (HOST2): the device the transport presents while a vhost
//     side is there; rings in this host's system memory (MW0 is part of it);
//   - ntb-vhost (HOST1): the vhost device while it is registered; rings in
//     the virtio host's MW0, by its addresses, read through this host's
//     peer memory window (MW1 of the board's function, BAR2 on the board).

import type { NtbHostRole } from './ntb-host.js'
import { barRegion } from '../hw/pcie/endpoint-controller.js'
import { mwBar } from '../hw/ntb/epf-ntb-regs.js'
import { TestVirtioDriver } from '../virtio/virtio-soclink-test.js'
import { TestVhostDriver } from '../vhost/vhost-soclink-test.js'
import { tryRead, vhostDeviceView, vhostQueues, virtioDeviceView, virtioQueues, type DeviceView, type VirtqueueView } from '../api/pcie-views.js'

/** An NTB host's device: ntb-virtio's while presented, ntb-vhost's while registered. */
export function ntbDeviceViews (role: NtbHostRole): DeviceView[] {
  const board = role.board ?? ''
  const v = role.virtio
  const d = v?.device ?? null
  if (v !== null && d !== null) {
    const drv = d.driver
    const test = drv instanceof TestVirtioDriver ? tryRead(() => drv.counters(d), null) : null
    return [virtioDeviceView({ device: d, peer: board, transport: 'ntb-virtio', getFeatures: () => v.getFeatures() }, test)]
  }
  const h = role.vhost
  if (h === null || role.vhostBus?.devices.includes(h.device) !== true) return []
  const drv = h.device.driver
  const test = drv instanceof TestVhostDriver ? tryRead(() => drv.counters(h.device), null) : null
  return [vhostDeviceView(h.device, board, 'ntb-vhost', test)]
}

/** Their rings, as each side reads them. */
export function ntbVirtqueueViews (role: NtbHostRole): VirtqueueView[] {
  const v = role.virtio
  if (v !== null && v.device !== null) return virtioQueues(v.device, v.vqs, role.rc.sysmem, role.rc.sysmem.name)
  const h = role.vhost
  if (h === null || role.vhostBus?.devices.includes(h.device) !== true) return []
  return vhostQueues(h, `${role.board ?? ''}:${barRegion(mwBar(0))}`)
}
