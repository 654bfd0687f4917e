// The PCIe roles' control API plugins: the endpoint's pci_ep configfs tree,
// its vhost configfs tree and its vhost device; the root complex's bus and
// its virtio devices (with the test device's runs). Routes of other roles
// answer 404 saying what this daemon is (not-served.ts).

import type { RoleApi } from '../role.js'
import type { PcieEndpointRole } from './pcie-ep.js'
import type { PcieRootComplexRole } from './pcie-rc.js'
import { VhostCfs } from '../vhost/cfs.js'
import { deviceRoutes, type DeviceSource } from '../api/routes/devices.js'
import { deviceMetrics } from '../api/metrics/device-metrics.js'
import { vhostCfsRoutes } from '../api/routes/vhost-cfs.js'
import { EpfVhostTransports } from './pcie-ep-vhost-cfs.js'
import { pciEpRoutes } from './pci-ep-routes.js'
import { pciRoutes } from './pci-routes.js'
import { epDeviceViews, epVirtqueueViews, rcDeviceViews, rcVirtqueueViews } from './pcie-views.js'
import { notServed } from './not-served.js'

export function pcieEpApi (role: PcieEndpointRole): RoleApi {
  const devices: DeviceSource = { devices: () => epDeviceViews(role), virtqueues: () => epVirtqueueViews(role), testDevice: () => undefined }
  return {
    tags: ['pci-ep', 'devices', 'virtqueues', 'vhost'],
    routes: async (app) => {
      pciEpRoutes(app, role)
      deviceRoutes(app, devices)
      vhostCfsRoutes(app, new VhostCfs([new EpfVhostTransports(role)]))
    },
    notServed: (url) => notServed(role.name, role.node.settings.name, url),
    metrics: (registry) => { deviceMetrics(registry, devices) }
  }
}

export function pcieRcApi (role: PcieRootComplexRole): RoleApi {
  const devices: DeviceSource = {
    devices: () => rcDeviceViews(role),
    virtqueues: () => rcVirtqueueViews(role),
    testDevice: (name) => {
      const device = [...role.transports.values()].map((t) => t.device).find((d) => d.name === name)
      return device !== undefined && device.driver === role.testDriver ? { device, driver: role.testDriver } : undefined
    }
  }
  return {
    tags: ['pci', 'devices', 'virtqueues'],
    routes: async (app) => {
      pciRoutes(app, role)
      deviceRoutes(app, devices)
    },
    notServed: (url) => notServed(role.name, role.node.settings.name, url),
    metrics: (registry) => { deviceMetrics(registry, devices) }
  }
}
