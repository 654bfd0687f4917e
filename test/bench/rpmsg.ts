// rpmsg over the PCIe pair, in one process over loopback: an rc node
// (virtio_rpmsg_bus) and an ep node whose function runs the rpmsg vhost
// driver (vhost_rpmsg_bus). The measurements are rpmsg-runs.ts's; the
// client rows here add one-way sends, one awaited send() at a time, then
// WINDOW in flight (the daemon keeps a connection's sends in order).

import { VIRTIO_CONFIG_S_DRIVER_OK } from '../../daemon/src/uapi/virtio-config.js'
import { startNode, linkUrl } from '../support/nodes.js'
import { until, within } from '../support/daemon.js'
import { RPMSG_PAYLOAD, WINDOW, busOneWay, counter, oneWay, oneWayWindowed, pingPong, rpmsgBuses, withApps, type RpmsgApps, type RpmsgSides } from './rpmsg-runs.js'

export interface RpmsgBench {
  /** In-daemon one-way messages/s, rc -> ep and ep -> rc. */
  busUp: number
  busDown: number
  /** Client library one-way messages/s, rc app -> ep app and ep app -> rc app. */
  clientUp: number
  clientDown: number
  /** The same with up to WINDOW sends in flight (the daemon keeps them in order). */
  windowUp: number
  windowDown: number
  /** Client library ping-pong round trip, microseconds. */
  clientRttUs: number
}

/** The rc as the virtio side, the ep as the vhost side, once the rpmsg device is at DRIVER_OK and both buses are there. */
async function startPair (): Promise<RpmsgSides> {
  const rc = await startNode('bench-rpmsg-rc', ['--role', 'rc'])
  const ep = await startNode('bench-rpmsg-ep', ['--role', 'ep', '--peer', linkUrl(rc)])
  await until('rpmsg device at DRIVER_OK', () => {
    const tr = rc.pcieRc!.transports.get('bench-rpmsg-ep')
    return tr !== undefined && (tr.device.status & VIRTIO_CONFIG_S_DRIVER_OK) !== 0 ? true : undefined
  }, 15_000)
  const sides = { virtio: rc, vhost: ep }
  await rpmsgBuses(sides)
  return sides
}

/** One-way client rows: an rc application and an announced ep sink, each way, one send() at a time and then windowed. */
async function clientOneWay (apps: RpmsgApps, count: number): Promise<Pick<RpmsgBench, 'clientUp' | 'clientDown' | 'windowUp' | 'windowDown'>> {
  const payload = Buffer.alloc(RPMSG_PAYLOAD, 0xcd)
  const sink = await apps.vhost.createEndpoint({ name: 'bench-sink', announce: true })
  const mine = await apps.virtio.createEndpoint()
  try {
    await within(sink.whenBound(), 'the sink bound')
    const atEp = counter(sink)
    const atRc = counter(mine)
    const up = async (): Promise<void> => { await mine.send(sink.addr, payload) }
    const down = async (): Promise<void> => { await sink.send(mine.addr, payload) }
    const clientUp = await oneWay(count, up, atEp, 'client rc -> ep')
    const clientDown = await oneWay(count, down, atRc, 'client ep -> rc')
    const windowUp = await oneWayWindowed(count, WINDOW, up, atEp, 'windowed client rc -> ep')
    const windowDown = await oneWayWindowed(count, WINDOW, down, atRc, 'windowed client ep -> rc')
    return { clientUp, clientDown, windowUp, windowDown }
  } finally {
    sink.destroy()
    mine.destroy()
  }
}

export async function benchRpmsg (busMessages: number, clientMessages: number, rounds: number): Promise<RpmsgBench> {
  const p = await startPair()
  try {
    const bus = await busOneWay(p, busMessages)
    const client = await withApps(p, async (apps) => ({ ...await clientOneWay(apps, clientMessages), clientRttUs: await pingPong(apps, rounds) }))
    return { busUp: bus.toVhost, busDown: bus.toVirtio, ...client }
  } finally {
    await p.vhost.stop('bench')
    await p.virtio.stop('bench')
  }
}
