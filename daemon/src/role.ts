// What a node and its role know of each other. The node (node.ts) runs the
// links, regions, windows and doorbells every daemon has; a role (roles/:
// the PCIe endpoint or root complex, the NTB board or an NTB host) is what
// the role setting adds above them, with its own control API routes. The
// node holds one Role and knows nothing of which; a role sees the node
// only through RoleHost. The composition root (daemon.ts) is the one place
// that knows both, and makes a node with the role its settings name.

import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import type { Logger } from 'pino'
import type { Settings } from './config/settings.js'
import type { LinkTable } from './link/link-table.js'
import type { DoorbellTable } from './link/doorbells.js'
import type { RegionTable } from './mem/region-table.js'
import type { Requester } from './mem/requester.js'
import type { RpmsgDriverTable } from './rpmsg/driver.js'

/** What a role uses of the node it runs on. */
export interface RoleHost {
  readonly settings: Settings
  readonly logger: Logger
  readonly links: LinkTable
  readonly regions: RegionTable
  readonly requester: Requester
  readonly doorbells: DoorbellTable
  /** The node's rpmsg drivers and buses; null on a node that runs no rpmsg (the NTB board). */
  readonly rpmsg: RpmsgDriverTable | null
  /** Rings a doorbell target on a peer (ERR_UNAVAILABLE while its link is down). */
  ring: (peer: string, target: string, value: number) => void
  /** Tells a peer's hardware model that a modelled link changed. */
  sendLinkEvent: (peer: string, link: string, up: boolean, reason: string) => void
  /** A peer's LinkEvent: a change of a link that its hardware model drives. */
  onLinkEvent: (listener: (peer: string, link: string, up: boolean, reason: string) => void) => void
}

/** A role's part of the control API. */
export interface RoleApi {
  /** The OpenAPI tags of its routes (/docs lists the common ones, then these). */
  readonly tags: readonly string[]
  /** Registers its routes: a fastify plugin, registered after the common routes. */
  readonly routes: (app: FastifyInstance) => Promise<void>
  /**
   * The answer to a request that no route of this daemon serves but another
   * role's does: a 404 that says what this daemon is; null: not such a route.
   */
  readonly notServed: (url: string) => Error | null
  /** Adds the role's own metric families (devices, virtqueues, NTB) to the daemon's registry (GET /metrics). */
  readonly metrics: (registry: Registry) => void
}

export interface Role {
  /** The role setting it runs: ep, rc, ntb, ntb-virtio or ntb-vhost. */
  readonly name: string
  /** Builds what the role runs above the node; called once, before the node listens. */
  start: () => Promise<void>
  /** Called as the node stops, before its links close. */
  stop: (reason: string) => Promise<void>
  readonly api: RoleApi
}

/** Makes a node's role, given what it may use of the node. */
export type RoleFactory = (host: RoleHost) => Role
