// rpmsg in-daemon over the NTB topology, in this process over loopback: a
// board (--role ntb) and two hosts that dial it, HOST1 (ntb-vhost:
// ntb_vhost, vhost_rpmsg_bus) and HOST2 (ntb-virtio: ntb_virtio,
// virtio_rpmsg_bus); rpmsg-runs.ts measures, HOST2 the virtio side.

import { startNode, linkUrl } from '../support/nodes.js'
import { until } from '../support/daemon.js'
import { busOneWay, rpmsgBuses } from './rpmsg-runs.js'
import type { Rate } from './figures.js'

/** In-daemon one-way messages/s, HOST2 -> HOST1 and HOST1 -> HOST2. */
export async function benchRpmsgNtbBus (count: number): Promise<{ toHost1: Rate, toHost2: Rate }> {
  const board = await startNode('bench-ntb-board', ['--role', 'ntb'])
  const host1 = await startNode('bench-ntb-host1', ['--role', 'ntb-vhost', '--peer', linkUrl(board)])
  await until('HOST1 linked to the board', () => board.ntbBoard!.view().pairs.length === 1 ? true : undefined)
  const host2 = await startNode('bench-ntb-host2', ['--role', 'ntb-virtio', '--peer', linkUrl(board)])
  try {
    await until('both NTB transports up', () => host1.ntbHost!.vhost?.state === 'up' && host2.ntbHost!.virtio?.state === 'up' ? true : undefined, 30_000)
    const sides = { virtio: host2, vhost: host1 }
    await rpmsgBuses(sides)
    const bus = await busOneWay(sides, count)
    return { toHost1: bus.toVhost, toHost2: bus.toVirtio }
  } finally {
    await host2.stop('bench')
    await host1.stop('bench')
    await board.stop('bench')
  }
}
