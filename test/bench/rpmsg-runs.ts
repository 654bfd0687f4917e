// The in-daemon rpmsg measurement both topologies share. Each has a virtio
// side (virtio_rpmsg_bus: the PCIe rc, NTB HOST2) and a vhost side
// (vhost_rpmsg_bus: the PCIe ep's function, NTB HOST1), nodes in this
// process on loopback. The buses are used directly: a channel on the vhost
// bus and an endpoint on the virtio bus; bus.send() in a loop, counted by
// the receiving callback.

import type { SoclinkNode } from '../../daemon/src/node.js'
import { VirtioRpmsgBus } from '../../daemon/src/rpmsg/virtio-rpmsg.js'
import { VhostRpmsgBus } from '../../daemon/src/rpmsg/vhost-rpmsg.js'
import type { RpmsgBusCore, RpmsgChannel } from '../../daemon/src/rpmsg/core.js'
import { RPMSG_ADDR_ANY } from '../../daemon/src/rpmsg/wire.js'
import { until, within } from '../support/daemon.js'
import { Arrivals } from './arrivals.js'
import { ratePerSecond } from './stats.js'
import { rate, type Rate } from './figures.js'
import { RPMSG_PAYLOAD, WARM_UP } from './sizes.js'
import { claimAnnounced } from '../support/rpmsg-pair.js'

const CHANNEL = 'bench'

export interface RpmsgSides { virtio: SoclinkNode, vhost: SoclinkNode }

/** The first bus of `kind` attached to a node's rpmsg driver table. */
function attached<B extends RpmsgBusCore> (node: SoclinkNode, kind: abstract new (...args: never[]) => B): B | undefined {
  return node.rpmsg!.attachedBuses().map((a) => a.bus).find((b): b is B => b instanceof kind)
}

/** Both sides' rpmsg buses, once the vhost one has seen DRIVER_OK. */
export async function rpmsgBuses (sides: RpmsgSides, ms = 15_000): Promise<{ virtio: VirtioRpmsgBus, vhost: VhostRpmsgBus }> {
  const vhost = await until('vhost rpmsg bus running', () => { const b = attached(sides.vhost, VhostRpmsgBus); return b?.running === true ? b : undefined }, ms)
  const virtio = await until('virtio rpmsg bus probed', () => attached(sides.virtio, VirtioRpmsgBus), ms)
  return { virtio, vhost }
}

/** Sends `count` messages with `send`, one awaited at a time, timed until as many have arrived. */
async function oneWay (count: number, send: () => Promise<void>, arrivals: Arrivals, what: string): Promise<Rate> {
  const t0 = performance.now()
  const done = within(arrivals.reach(arrivals.count + count), what, 300_000)
  for (let i = 0; i < count; i++) await send()
  await done
  return rate(ratePerSecond(count, t0), 'msg/s', RPMSG_PAYLOAD)
}

/** In-daemon one-way messages/s, virtio side -> vhost side and back. */
export async function busOneWay (sides: RpmsgSides, count: number): Promise<{ toVhost: Rate, toVirtio: Rate }> {
  const buses = await rpmsgBuses(sides)
  const payload = Buffer.alloc(RPMSG_PAYLOAD, 0xab)
  const atVhost = new Arrivals()
  const atVirtio = new Arrivals()
  const ch: RpmsgChannel = buses.vhost.createChannel(CHANNEL)
  ch.on('message', () => { atVhost.hit() })
  const ept = buses.virtio.createEndpoint(RPMSG_ADDR_ANY, () => { atVirtio.hit() })
  // Claimed by a test driver (rpmsgBind kernel binds a channel only then: AS ASSIGN).
  await until('the channel announced on the virtio side', () => claimAnnounced(buses.virtio, CHANNEL))
  await until('the channel bound on the vhost side', () => ch.dst !== RPMSG_ADDR_ANY ? true : undefined)
  try {
    const warm = Math.min(WARM_UP, count)
    await oneWay(warm, async () => { await buses.virtio.send(ept.addr, ch.src, payload) }, atVhost, 'warming up')
    await oneWay(warm, async () => { await buses.vhost.send(ch.src, ept.addr, payload) }, atVirtio, 'warming up')
    const toVhost = await oneWay(count, async () => { await buses.virtio.send(ept.addr, ch.src, payload) }, atVhost, 'in-daemon virtio -> vhost')
    const toVirtio = await oneWay(count, async () => { await buses.vhost.send(ch.src, ept.addr, payload) }, atVirtio, 'in-daemon vhost -> virtio')
    return { toVhost, toVirtio }
  } finally {
    buses.virtio.destroyEndpoint(ept)
    buses.vhost.destroyChannel(CHANNEL)
  }
}
