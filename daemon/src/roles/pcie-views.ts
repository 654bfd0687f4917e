// What the API shows of the PCIe roles: the endpoint's pci_ep tree, the root
// complex's bus, and each role's devices and rings in the shapes of
// api/pcie-views.ts. Plain objects that match the reply schemas in
// api/pcie-schemas.ts.

import type { PcieEndpointRole } from './pcie-ep.js'
import type { PcieRootComplexRole } from './pcie-rc.js'
import type { ControllerState, FunctionConfig } from '../hw/pcie/function-table.js'
import { SYSMEM_REGION, type EndpointState } from '../hw/pcie/endpoint-controller.js'
import type { FunctionState } from '../hw/pcie/root-complex.js'
import { tryRead, vhostDeviceView, vhostQueues, virtioDeviceView, virtioQueues, type DeviceView, type VirtqueueView } from '../api/pcie-views.js'

// ------------------------------------------------------------ endpoint tree

export interface ControllerView extends ControllerState { endpoint: EndpointState | null }

export function controllerView (role: PcieEndpointRole, c: ControllerState): ControllerView {
  const epc = role.controller
  return { ...c, endpoint: c.started && epc !== null && epc.name === c.name ? epc.state() : null }
}

export function functionView (f: FunctionConfig): FunctionConfig { return { ...f } }

export function pciEpTree (role: PcieEndpointRole): { functions: FunctionConfig[], controllers: ControllerView[] } {
  const { functions, controllers } = role.functions.tree()
  return { functions: functions.map(functionView), controllers: controllers.map((c) => controllerView(role, c)) }
}

// ------------------------------------------------------------ root complex

const FUNCTION_IDS = ['vendorId', 'deviceId', 'revisionId', 'classCode', 'subsystemVendorId', 'subsystemId', 'interruptPin'] as const

export type PciFunctionView = Omit<FunctionState, typeof FUNCTION_IDS[number]> & Record<typeof FUNCTION_IDS[number], number | null>

export function pciView (role: PcieRootComplexRole): { memorySize: number, region: string, spurious: number, functions: PciFunctionView[] } {
  const s = role.rc.state()
  const functions = s.functions.map((f) => {
    const ids = Object.fromEntries(FUNCTION_IDS.map((k) => [k, f[k] ?? null])) as Record<typeof FUNCTION_IDS[number], number | null>
    return { peer: f.peer, state: f.state, lastError: f.lastError, retrying: f.retrying, ...ids, bars: f.bars, msi: f.msi, intx: f.intx }
  })
  return { memorySize: s.memorySize, region: s.region, spurious: s.spurious, functions }
}

// ------------------------------------------------------------ devices and rings

/** The rc's virtio devices (the driver side). */
export function rcDeviceViews (rc: PcieRootComplexRole): DeviceView[] {
  return [...rc.transports.values()].map((t) => virtioDeviceView(
    { device: t.device, peer: t.peer, transport: 'virtio-pci-epf', getFeatures: () => t.getFeatures() },
    t.device.driver === rc.testDriver ? tryRead(() => rc.testDriver.counters(t.device), null) : null))
}

/** The rc's rings, in its system memory. */
export function rcVirtqueueViews (rc: PcieRootComplexRole): VirtqueueView[] {
  return [...rc.transports.values()].flatMap((t) => virtioQueues(t.device, t.vqs, t.buffers.memory, rc.rc.sysmem.name))
}

/** The ep's started vhost device (the device side), or none. */
export function epDeviceViews (ep: PcieEndpointRole): DeviceView[] {
  const epf = ep.epf
  if (epf === null) return []
  const test = epf.device.driver === ep.testDriver ? tryRead(() => ep.testDriver.counters(epf.device), null) : null
  return [vhostDeviceView(epf.device, ep.controller?.rcPeer ?? '', 'pci-epf-vhost', test)]
}

/** The ep's rings: the rc's, read through the outbound window. */
export function epVirtqueueViews (ep: PcieEndpointRole): VirtqueueView[] {
  const epf = ep.epf
  if (epf === null) return []
  return vhostQueues(epf, `${ep.controller?.rcPeer ?? ''}:${SYSMEM_REGION}`)
}
