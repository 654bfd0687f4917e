// The NTB roles' control API plugins: the board's state and its pairs (and
// its devices: none); a
// host's NTB device and transport, ntb_tool and ntb_perf, its devices and
// (ntb-vhost) its vhost configfs tree. Routes of other roles answer 404
// saying what this daemon is (not-served.ts).

import type { RoleApi } from '../role.js'
import type { NtbBoardRole } from './ntb-board.js'
import type { NtbHostRole } from './ntb-host.js'
import { VhostCfs } from '../vhost/cfs.js'
import { deviceRoutes, type DeviceSource } from '../api/routes/devices.js'
import { deviceMetrics } from '../api/metrics/device-metrics.js'
import { ntbBoardMetrics, ntbHostMetrics } from './ntb-metrics.js'
import { vhostCfsRoutes } from '../api/routes/vhost-cfs.js'
import { NtbVhostTransports } from './ntb-vhost-cfs.js'
import { ntbRoutes } from './ntb-routes.js'
import { ntbToolRoutes } from './ntb-tool-routes.js'
import { boardView, hostView } from './ntb-views.js'
import { ntbDeviceViews, ntbVirtqueueViews } from './ntb-device-views.js'
import { notServed } from './not-served.js'

export function ntbBoardApi (role: NtbBoardRole): RoleApi {
  return {
    tags: ['ntb', 'devices', 'virtqueues'],
    routes: async (app) => {
      ntbRoutes(app, () => boardView(role), role)
      // The board runs no virtio or vhost device: it lists none, as every daemon answers these.
      deviceRoutes(app, { devices: () => [], virtqueues: () => [], testDevice: () => undefined })
    },
    notServed: (url) => notServed(role.name, role.node.settings.name, url),
    metrics: (registry) => { ntbBoardMetrics(registry, role) }
  }
}

export function ntbHostApi (role: NtbHostRole): RoleApi {
  const devices: DeviceSource = { devices: () => ntbDeviceViews(role), virtqueues: () => ntbVirtqueueViews(role), testDevice: () => undefined }
  return {
    tags: role.side === 'vhost' ? ['ntb', 'devices', 'virtqueues', 'vhost'] : ['ntb', 'devices', 'virtqueues'],
    routes: async (app) => {
      ntbRoutes(app, () => hostView(role), null)
      ntbToolRoutes(app, role)
      deviceRoutes(app, devices)
      if (role.side === 'vhost') vhostCfsRoutes(app, new VhostCfs([new NtbVhostTransports(role)]))
    },
    notServed: (url) => notServed(role.name, role.node.settings.name, url),
    metrics: (registry) => {
      deviceMetrics(registry, devices)
      ntbHostMetrics(registry, role)
    }
  }
}
