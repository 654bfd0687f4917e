// In-process daemons (SoclinkNode with real sockets on loopback) for
// integration tests that need to drive memory and doorbells directly.

import pino from 'pino'
import { loadSettings } from '../../daemon/src/config/settings.js'
import { SoclinkNode } from '../../daemon/src/node.js'
import { createNode } from '../../daemon/src/daemon.js'
import { PcieEndpointRole } from '../../daemon/src/roles/pcie-ep.js'
import { PcieRootComplexRole } from '../../daemon/src/roles/pcie-rc.js'
import { NtbBoardRole } from '../../daemon/src/roles/ntb-board.js'
import { NtbHostRole } from '../../daemon/src/roles/ntb-host.js'
import { VIRTIO_CONFIG_S_DRIVER_OK } from '../../daemon/src/uapi/virtio-config.js'
import type { VirtioDevice } from '../../daemon/src/virtio/virtio.js'
import type { VirtioRpmsgBus } from '../../daemon/src/rpmsg/virtio-rpmsg.js'
import type { VhostRpmsgBus } from '../../daemon/src/rpmsg/vhost-rpmsg.js'
import { until } from './daemon.js'

// Tests reach a node's role by kind (node.pcieRc!.virtioBus, ...), as they
// did when the node had a field per role: the node knows roles only as
// role.ts's Role, so the test support adds the typed getters here.
declare module '../../daemon/src/node.js' {
  interface SoclinkNode {
    /** The role, if it is a PCIe endpoint (role ep); null otherwise. */
    readonly pcieEp: PcieEndpointRole | null
    readonly pcieRc: PcieRootComplexRole | null
    readonly ntbBoard: NtbBoardRole | null
    readonly ntbHost: NtbHostRole | null
  }
}

const roleOf = <R>(kind: abstract new (...args: never[]) => R): PropertyDescriptor => ({
  get (this: SoclinkNode): R | null { return this.role instanceof kind ? this.role : null }
})
Object.defineProperties(SoclinkNode.prototype, {
  pcieEp: roleOf(PcieEndpointRole),
  pcieRc: roleOf(PcieRootComplexRole),
  ntbBoard: roleOf(NtbBoardRole),
  ntbHost: roleOf(NtbHostRole)
})

export async function startNode (name: string, args: string[] = []): Promise<SoclinkNode> {
  const loaded = loadSettings({ argv: ['--name', name, '--listen', '127.0.0.1:0', '--api', '127.0.0.1:0', ...args], env: {}, readFile: () => '' })
  if (loaded.kind !== 'run') throw new Error('unexpected help')
  const node = createNode(loaded.settings, pino({ level: process.env.SOCLINK_TEST_LOG ?? 'silent' }))
  await node.start()
  return node
}

export function linkUrl (node: SoclinkNode, port = node.listenAddress!.port): string {
  return `ws://127.0.0.1:${port}/v1/link`
}

/**
 * Waits until an in-process rc has brought `ep`'s rpmsg device to DRIVER_OK
 * and both rpmsg buses are there: the vhost one running, the virtio one
 * probed (DRIVER_OK is set inside probe, a turn before the driver records
 * the bus).
 */
export async function rpmsgReady (rc: SoclinkNode, ep: SoclinkNode, ms = 15_000): Promise<{ dev: VirtioDevice, virtioBus: VirtioRpmsgBus, vhostBus: VhostRpmsgBus }> {
  const dev = await until('rpmsg device at DRIVER_OK', () => {
    const tr = rc.pcieRc!.transports.get(ep.settings.name)
    return tr !== undefined && (tr.device.status & VIRTIO_CONFIG_S_DRIVER_OK) !== 0 ? tr.device : undefined
  }, ms)
  const vhostBus = await until('vhost rpmsg bus running', () => {
    const b = ep.pcieEp!.rpmsgDriver.allBuses()[0]
    return b?.running === true ? b : undefined
  }, ms)
  const virtioBus = await until('virtio rpmsg bus probed', () => rc.pcieRc!.rpmsgDriver.allBuses().find((b) => b.dev === dev), ms)
  return { dev, virtioBus, vhostBus }
}
