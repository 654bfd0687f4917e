// The roles a daemon can run, by the name of the role setting.

import type { Role, RoleHost } from '../role.js'
import { PcieEndpointRole } from './pcie-ep.js'
import { PcieRootComplexRole } from './pcie-rc.js'
import { NtbBoardRole } from './ntb-board.js'
import { NtbHostRole } from './ntb-host.js'

/** The role `node.settings.role` names, on `node`. */
export function createRole (node: RoleHost): Role {
  const role = node.settings.role
  switch (role) {
    case 'ep': return new PcieEndpointRole(node)
    case 'rc': return new PcieRootComplexRole(node)
    case 'ntb': return new NtbBoardRole(node)
    case 'ntb-virtio': return new NtbHostRole(node, 'virtio')
    case 'ntb-vhost': return new NtbHostRole(node, 'vhost')
  }
}
