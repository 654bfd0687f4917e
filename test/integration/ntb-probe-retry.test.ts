// NTB: a virtio probe that times out is retried. The ntb-virtio host links
// to the board through a relay that holds everything the board sends it
// from the moment its virtio device is added (so the probe's commands to the
// vhost host get no answer), until the device shows failed and retrying;
// then the board's bytes flow again and the next probe binds the rpmsg
// driver by itself (the symptom: after a host restarted on a loaded machine,
// host2's probe came back failed and stayed so).

import t from 'tap'
import { startNode, linkUrl } from '../support/nodes.js'
import { until } from '../support/daemon.js'
import { startHoldRelay } from '../support/hold-relay.js'
import type { SoclinkNode } from '../../daemon/src/node.js'

t.test('an NTB virtio probe that timed out is tried again while the link is up', async (t) => {
  const nodes: SoclinkNode[] = []
  t.teardown(async () => { for (const n of nodes.reverse()) await n.stop('test over') })
  const patient = ['--dead-after-ms', '600000', '--resume-window-ms', '600000']
  const board = await startNode('board', ['--role', 'ntb', ...patient])
  nodes.push(board)
  const relay = await startHoldRelay(board.listenAddress!.port)
  t.teardown(async () => { await relay.close() })
  nodes.push(await startNode('h1', ['--role', 'ntb-vhost', '--peer', linkUrl(board), ...patient]))
  const h2 = await startNode('h2', ['--role', 'ntb-virtio', '--peer', `ws://127.0.0.1:${relay.port}/v1/link`, ...patient])
  nodes.push(h2)
  const bus = h2.ntbHost!.virtioBus!
  // Nothing from the board reaches h2 once its probe begins.
  bus.once('added', () => { relay.hold('toClient') })

  const dev = await until('the probe failed and is retried', () => bus.devices.find((d) => d.retrying), 60_000)
  t.equal(dev.lastError?.code, 'ERR_TIMEOUT', 'it failed on a timeout')
  relay.release('toClient')
  await until('the probe done', () => !dev.retrying && !dev.failed && dev.driver !== undefined, 60_000)
  t.equal(dev.driver?.name, 'virtio_rpmsg_bus', 'the rpmsg driver is bound')
  t.same(h2.rpmsg!.attachedBuses().map((b) => b.parent.side), ['virtio'], 'its rpmsg bus is attached')
})
