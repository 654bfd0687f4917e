// rpmsg in-daemon over the PCIe pair, in this process over loopback: an rc
// node (virtio_rpmsg_bus) and an ep node whose function runs the rpmsg
// vhost driver (vhost_rpmsg_bus); rpmsg-runs.ts measures.

import { linkUrl, rpmsgReady, startNode } from '../support/nodes.js'
import { busOneWay, type RpmsgSides } from './rpmsg-runs.js'
import type { Rate } from './figures.js'

/** The rc as the virtio side, the ep as the vhost side, once the rpmsg device is at DRIVER_OK and both buses are there. */
async function startPair (): Promise<RpmsgSides> {
  const rc = await startNode('bench-rpmsg-rc', ['--role', 'rc'])
  const ep = await startNode('bench-rpmsg-ep', ['--role', 'ep', '--peer', linkUrl(rc)])
  await rpmsgReady(rc, ep)
  return { virtio: rc, vhost: ep }
}

/** In-daemon one-way messages/s, rc -> ep (up) and ep -> rc (down). */
export async function benchRpmsgBus (count: number): Promise<{ up: Rate, down: Rate }> {
  const p = await startPair()
  try {
    const bus = await busOneWay(p, count)
    return { up: bus.toVhost, down: bus.toVirtio }
  } finally {
    await p.vhost.stop('bench')
    await p.virtio.stop('bench')
  }
}
