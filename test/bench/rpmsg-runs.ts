// The rpmsg measurements both topologies share. Each has a virtio side
// (virtio_rpmsg_bus: the PCIe rc, NTB HOST2) and a vhost side
// (vhost_rpmsg_bus: the PCIe ep's function, NTB HOST1), nodes in this
// process on loopback.
//
//   in-daemon      the buses used directly: a channel on the vhost bus and an
//                  endpoint on the virtio bus; bus.send() in a loop, counted
//                  by the receiving callback
//   client library applications through RpmsgClient and each node's rpmsg
//                  gateway (ws://API/v1/rpmsg); ping-pong round trips from a
//                  virtio-side application to an echoing vhost-side one

import type { SoclinkNode } from '../../daemon/src/node.js'
import { buildApi } from '../../daemon/src/api/server.js'
import { VirtioRpmsgBus } from '../../daemon/src/rpmsg/virtio-rpmsg.js'
import { VhostRpmsgBus } from '../../daemon/src/rpmsg/vhost-rpmsg.js'
import type { RpmsgBusCore, RpmsgChannel } from '../../daemon/src/rpmsg/core.js'
import { RPMSG_ADDR_ANY } from '../../daemon/src/rpmsg/wire.js'
import { RpmsgClient, type RpmsgEndpoint } from '../../client/src/index.js'
import { until, within } from '../support/daemon.js'

/** The most a 512-byte rpmsg buffer carries. */
export const RPMSG_PAYLOAD = 496
/** Sends in flight at once in the windowed client rows. */
export const WINDOW = 256
const CHANNEL = 'bench'

export interface RpmsgSides { virtio: SoclinkNode, vhost: SoclinkNode }
export interface RpmsgApps { virtio: RpmsgClient, vhost: RpmsgClient }

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

/** Messages counted as they arrive; reach(n) resolves once n have. */
export class Arrivals {
  count = 0
  private want = Infinity
  private wake: () => void = () => {}

  hit (): void { if (++this.count >= this.want) this.wake() }

  async reach (n: number): Promise<void> {
    if (this.count >= n) return
    this.want = n
    await new Promise<void>((resolve) => { this.wake = resolve })
  }
}

/** Sends `count` messages with `send`, timed until as many have arrived; messages/s. */
export async function oneWay (count: number, send: () => Promise<void>, arrivals: Arrivals, what: string): Promise<number> {
  const t0 = performance.now()
  const done = within(arrivals.reach(arrivals.count + count), what, 120_000)
  for (let i = 0; i < count; i++) await send()
  await done
  return count / ((performance.now() - t0) / 1000)
}

/** Like oneWay, with up to `window` sends outstanding at once. */
export async function oneWayWindowed (count: number, window: number, send: () => Promise<void>, arrivals: Arrivals, what: string): Promise<number> {
  const t0 = performance.now()
  const done = within(arrivals.reach(arrivals.count + count), what, 120_000)
  const inFlight = new Set<Promise<void>>()
  for (let i = 0; i < count; i++) {
    const p: Promise<void> = send().finally(() => { inFlight.delete(p) })
    inFlight.add(p)
    if (inFlight.size >= window) await Promise.race(inFlight)
  }
  await Promise.all(inFlight)
  await done
  return count / ((performance.now() - t0) / 1000)
}

/** In-daemon one-way messages/s, virtio side -> vhost side and back. */
export async function busOneWay (sides: RpmsgSides, count: number): Promise<{ toVhost: number, toVirtio: number }> {
  const buses = await rpmsgBuses(sides)
  const payload = Buffer.alloc(RPMSG_PAYLOAD, 0xab)
  const atVhost = new Arrivals()
  const atVirtio = new Arrivals()
  const ch: RpmsgChannel = buses.vhost.createChannel(CHANNEL)
  ch.on('message', () => { atVhost.hit() })
  const ept = buses.virtio.createEndpoint(RPMSG_ADDR_ANY, () => { atVirtio.hit() })
  await until('the channel announced on the virtio side', () => buses.virtio.channel(CHANNEL))
  await until('the channel bound on the vhost side', () => ch.dst !== RPMSG_ADDR_ANY ? true : undefined)
  try {
    const toVhost = await oneWay(count, async () => { await buses.virtio.send(ept.addr, ch.src, payload) }, atVhost, 'in-daemon virtio -> vhost')
    const toVirtio = await oneWay(count, async () => { await buses.vhost.send(ch.src, ept.addr, payload) }, atVirtio, 'in-daemon vhost -> virtio')
    return { toVhost, toVirtio }
  } finally {
    buses.virtio.destroyEndpoint(ept)
    buses.vhost.destroyChannel(CHANNEL)
  }
}

/** Counts what arrives at an endpoint (its iterator) until it closes. */
export function counter (ept: RpmsgEndpoint): Arrivals {
  const a = new Arrivals()
  const it = ept[Symbol.asyncIterator]()
  void (async () => { while ((await it.next()).done !== true) a.hit() })()
  return a
}

/** Runs `fn` with an RpmsgClient on each side's rpmsg gateway (an API of its own on loopback). */
export async function withApps<T> (sides: RpmsgSides, fn: (apps: RpmsgApps) => Promise<T>): Promise<T> {
  const virtioApi = await buildApi(sides.virtio)
  const vhostApi = await buildApi(sides.vhost)
  const apps: RpmsgClient[] = []
  try {
    const virtio = await RpmsgClient.connect(await virtioApi.listen({ host: '127.0.0.1', port: 0 }))
    apps.push(virtio)
    const vhost = await RpmsgClient.connect(await vhostApi.listen({ host: '127.0.0.1', port: 0 }))
    apps.push(vhost)
    return await fn({ virtio, vhost })
  } finally {
    for (const a of apps) await a.close()
    await virtioApi.close()
    await vhostApi.close()
  }
}

/** Client ping-pong: a virtio-side application sends to an echoing vhost-side one, `rounds` times; microseconds a round trip. */
export async function pingPong (apps: RpmsgApps, rounds: number): Promise<number> {
  const payload = Buffer.alloc(RPMSG_PAYLOAD, 0xcd)
  const echo = await apps.vhost.createEndpoint({ name: CHANNEL + '-echo', announce: true })
  void (async () => { for await (const m of echo) await echo.send(m.src, m.payload) })().catch(() => {})
  const pinger = await apps.virtio.createEndpoint()
  try {
    await within(echo.whenBound(), 'the echo bound')
    const it = pinger[Symbol.asyncIterator]()
    const t0 = performance.now()
    for (let i = 0; i < rounds; i++) {
      await pinger.send(echo.addr, payload)
      if ((await within(it.next(), `round trip ${i}`)).done === true) throw new Error('the pinger closed')
    }
    return (performance.now() - t0) * 1000 / rounds
  } finally {
    pinger.destroy()
    echo.destroy()
  }
}
