// In-process daemons (SoclinkNode with real sockets on loopback) for
// integration tests that need to drive memory and doorbells directly.

import pino from 'pino'
import { loadSettings } from '../../daemon/src/config/settings.js'
import { SoclinkNode } from '../../daemon/src/node.js'
import { VIRTIO_CONFIG_S_DRIVER_OK } from '../../daemon/src/uapi/virtio-config.js'
import type { VirtioDevice } from '../../daemon/src/virtio/virtio.js'
import type { VirtioRpmsgBus } from '../../daemon/src/rpmsg/virtio-rpmsg.js'
import type { VhostRpmsgBus } from '../../daemon/src/rpmsg/vhost-rpmsg.js'
import { until } from './daemon.js'

export async function startNode (name: string, args: string[] = []): Promise<SoclinkNode> {
  const loaded = loadSettings({ argv: ['--name', name, '--listen', '127.0.0.1:0', '--api', '127.0.0.1:0', ...args], env: {}, readFile: () => '' })
  if (loaded.kind !== 'run') throw new Error('unexpected help')
  const node = new SoclinkNode(loaded.settings, pino({ level: process.env.SOCLINK_TEST_LOG ?? 'silent' }))
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
