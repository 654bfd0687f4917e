// A daemon's Prometheus metrics (GET /metrics): its own Registry, never
// prom-client's global one, so daemons in one process (in-process test
// nodes) each report their own. Made on the first scrape, so a daemon that
// is never scraped runs no collector (the default metrics' event-loop delay
// monitor and GC observer included); every value is read from the layers'
// own counters at scrape time (families.ts), so the hot paths never call
// into prom-client.

import type { Registry } from 'prom-client'
import { promClient } from './prom.js'
import { VERSION, type SoclinkNode } from '../../node.js'
import { gauge } from './families.js'
import { linkMetrics } from './link-metrics.js'
import { rpmsgMetrics } from './rpmsg-metrics.js'

const NAMED_LIKE_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']

export interface MetricsText { contentType: string, text: string }

/** What GET /metrics needs: the exposition text, in Prometheus' text format 0.0.4. */
export interface MetricsSource { scrape: () => Promise<MetricsText> }

export function buildRegistry (node: SoclinkNode): Registry {
  const prom = promClient()
  const registry = new prom.Registry()
  prom.collectDefaultMetrics({ register: registry })
  // Gauges whose names end in _total (promtool: non-counter metrics should not have "_total" suffix);
  // nodejs_active_handles, _requests and _resources, by type, say the same.
  for (const name of NAMED_LIKE_COUNTERS) registry.removeSingleMetric(name)
  gauge(registry, { name: 'soclink_info', help: 'This daemon: its name, role and version (always 1)', labels: ['name', 'role', 'version'] }, function * () {
    yield [{ name: node.settings.name, role: node.settings.role, version: VERSION }, 1]
  })
  linkMetrics(registry, node)
  rpmsgMetrics(registry, node)
  // The role's own: its devices and virtqueues, and the NTB function or device.
  node.role.api.metrics(registry)
  return registry
}

export class DaemonMetrics implements MetricsSource {
  private registry: Registry | null = null

  constructor (private readonly node: SoclinkNode) {}

  async scrape (): Promise<MetricsText> {
    this.registry ??= buildRegistry(this.node)
    return { contentType: this.registry.contentType, text: await this.registry.metrics() }
  }
}
