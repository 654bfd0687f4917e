// The composition root: a node (node.ts) with the role its settings name
// (roles/). The one file that knows both; the node knows roles only as
// role.ts describes them, and the roles know the node only as RoleHost.

import type { Logger } from 'pino'
import type { Settings } from './config/settings.js'
import { SoclinkNode } from './node.js'
import { createRole } from './roles/index.js'

/** A daemon's node, not started; `readFile` reads the per-peer secret files (tests give their own). */
export function createNode (settings: Settings, logger: Logger, readFile?: (path: string) => string): SoclinkNode {
  return new SoclinkNode(settings, logger, { role: createRole, ...(readFile !== undefined ? { readFile } : {}) })
}
