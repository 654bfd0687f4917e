// rpmsg over the NTB topology, in one process over loopback: a board
// (--role ntb) and two hosts that dial it, HOST1 (ntb-vhost: ntb_vhost,
// vhost_rpmsg_bus) and HOST2 (ntb-virtio: ntb_virtio, virtio_rpmsg_bus).
// The measurements are rpmsg-runs.ts's, with HOST2 the virtio side and
// HOST1 the vhost side.

import type { SoclinkNode } from '../../daemon/src/node.js'
import { startNode, linkUrl } from '../support/nodes.js'
import { until } from '../support/daemon.js'
import { busOneWay, pingPong, rpmsgBuses, withApps, type RpmsgSides } from './rpmsg-runs.js'

export interface NtbRpmsgBench {
  /** In-daemon one-way messages/s, HOST2 -> HOST1 and HOST1 -> HOST2. */
  busToHost1: number
  busToHost2: number
  /** Client library ping-pong round trip (HOST2 app to an echoing HOST1 app), microseconds. */
  clientRttUs: number
}

/** The board, then HOST1 and HOST2 (paired by the board in link order), once both transports are up and the buses there. */
async function startNtb (): Promise<{ board: SoclinkNode, sides: RpmsgSides }> {
  const board = await startNode('bench-ntb-board', ['--role', 'ntb'])
  const host1 = await startNode('bench-ntb-host1', ['--role', 'ntb-vhost', '--peer', linkUrl(board)])
  await until('HOST1 linked to the board', () => board.ntbBoard!.view().pairs.length === 1 ? true : undefined)
  const host2 = await startNode('bench-ntb-host2', ['--role', 'ntb-virtio', '--peer', linkUrl(board)])
  await until('both NTB transports up', () => host1.ntbHost!.vhost?.state === 'up' && host2.ntbHost!.virtio?.state === 'up' ? true : undefined, 30_000)
  const sides = { virtio: host2, vhost: host1 }
  await rpmsgBuses(sides)
  return { board, sides }
}

export async function benchRpmsgNtb (busMessages: number, rounds: number): Promise<NtbRpmsgBench> {
  const { board, sides } = await startNtb()
  try {
    const bus = await busOneWay(sides, busMessages)
    const clientRttUs = await withApps(sides, async (apps) => await pingPong(apps, rounds))
    return { busToHost1: bus.toVhost, busToHost2: bus.toVirtio, clientRttUs }
  } finally {
    await sides.vhost.stop('bench')
    await sides.virtio.stop('bench')
    await board.stop('bench')
  }
}
