// rpmsg over the PCIe pair, in one process over loopback: an rc node
// (virtio_rpmsg_bus) and an ep node whose function runs the rpmsg vhost
// driver (vhost_rpmsg_bus).
//
//   in-daemon      the buses used directly: an ep-side channel and an
//                  rc-side endpoint; bus.send() in a loop, counted by the
//                  receiving callback
//   client library applications through RpmsgClient and each node's rpmsg
//                  gateway (ws://API/v1/rpmsg), one awaited send() per message
//                  as the client documents for in-order delivery; and
//                  ping-pong round trips to an echoing ep application

import pino from 'pino'
import { loadSettings } from '../../daemon/src/config/settings.js'
import { SoclinkNode } from '../../daemon/src/node.js'
import { buildApi } from '../../daemon/src/api/server.js'
import { VIRTIO_CONFIG_S_DRIVER_OK } from '../../daemon/src/uapi/virtio-config.js'
import type { VirtioRpmsgBus } from '../../daemon/src/rpmsg/virtio-rpmsg.js'
import type { VhostRpmsgBus } from '../../daemon/src/rpmsg/vhost-rpmsg.js'
import type { RpmsgChannel } from '../../daemon/src/rpmsg/core.js'
import { RPMSG_ADDR_ANY } from '../../daemon/src/rpmsg/wire.js'
import { RpmsgClient, type RpmsgEndpoint } from '../../client/src/index.js'
import { startNode, linkUrl } from '../support/nodes.js'
import { until, within } from '../support/daemon.js'

export const RPMSG_PAYLOAD = 496
const CHANNEL = 'bench'
// The ep's endpoint function with the rpmsg vhost driver (a config-file setting).
const EP_CONFIG = 'pcieFunctions:\n  - name: vhost0\n    controller: pcie0\n    vhostDriver: rpmsg\n'

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

async function startEp (name: string, rc: SoclinkNode): Promise<SoclinkNode> {
  const loaded = loadSettings({
    argv: ['--name', name, '--role', 'ep', '--listen', '127.0.0.1:0', '--api', '127.0.0.1:0', '--peer', linkUrl(rc), '--config', 'bench-ep.yaml'],
    env: {},
    readFile: () => EP_CONFIG
  })
  if (loaded.kind !== 'run') throw new Error('unexpected help')
  const node = new SoclinkNode(loaded.settings, pino({ level: process.env.SOCLINK_TEST_LOG ?? 'silent' }))
  await node.start()
  return node
}

interface Pair { rc: SoclinkNode, ep: SoclinkNode, rcBus: VirtioRpmsgBus, epBus: VhostRpmsgBus }

async function startPair (): Promise<Pair> {
  const rc = await startNode('bench-rpmsg-rc', ['--role', 'rc'])
  const ep = await startEp('bench-rpmsg-ep', rc)
  await until('rpmsg device at DRIVER_OK', () => {
    const tr = rc.pcieRc!.transports.get('bench-rpmsg-ep')
    return tr !== undefined && (tr.device.status & VIRTIO_CONFIG_S_DRIVER_OK) !== 0 ? true : undefined
  }, 15_000)
  const epBus = await until('vhost rpmsg bus running', () => { const b = ep.pcieEp!.rpmsgDriver.allBuses()[0]; return b?.running === true ? b : undefined })
  const rcBus = await until('virtio rpmsg bus probed', () => rc.pcieRc!.rpmsgDriver.allBuses()[0])
  return { rc, ep, rcBus, epBus }
}

async function stopPair (p: Pair): Promise<void> {
  await p.ep.stop('bench')
  await p.rc.stop('bench')
}

/** Messages counted as they arrive; reach(n) resolves once n have. */
class Arrivals {
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

/** Sends in flight at once in the windowed client rows. */
export const WINDOW = 256

/** Like oneWay, with up to `window` sends outstanding at once. */
async function oneWayWindowed (count: number, window: number, send: () => Promise<void>, arrivals: Arrivals, what: string): Promise<number> {
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

/** Sends `count` messages with `send`, timed until as many have arrived; messages/s. */
async function oneWay (count: number, send: () => Promise<void>, arrivals: Arrivals, what: string): Promise<number> {
  const t0 = performance.now()
  const done = within(arrivals.reach(arrivals.count + count), what, 120_000)
  for (let i = 0; i < count; i++) await send()
  await done
  return count / ((performance.now() - t0) / 1000)
}

async function busBench (p: Pair, count: number): Promise<{ up: number, down: number }> {
  const payload = Buffer.alloc(RPMSG_PAYLOAD, 0xab)
  const atEp = new Arrivals()
  const atRc = new Arrivals()
  const ch: RpmsgChannel = p.epBus.createChannel(CHANNEL)
  ch.on('message', () => { atEp.hit() })
  const rcEpt = p.rcBus.createEndpoint(RPMSG_ADDR_ANY, () => { atRc.hit() })
  await until('the channel announced on the rc', () => p.rcBus.channel(CHANNEL))
  await until('the channel bound on the ep', () => ch.dst !== RPMSG_ADDR_ANY ? true : undefined)
  try {
    const up = await oneWay(count, async () => { await p.rcBus.send(rcEpt.addr, ch.src, payload) }, atEp, 'in-daemon rc -> ep')
    const down = await oneWay(count, async () => { await p.epBus.send(ch.src, rcEpt.addr, payload) }, atRc, 'in-daemon ep -> rc')
    return { up, down }
  } finally {
    p.rcBus.destroyEndpoint(rcEpt)
    p.epBus.destroyChannel(CHANNEL)
  }
}

/** Counts what arrives at an endpoint (its iterator) until it closes. */
function counter (ept: RpmsgEndpoint): Arrivals {
  const a = new Arrivals()
  const it = ept[Symbol.asyncIterator]()
  void (async () => { while ((await it.next()).done !== true) a.hit() })()
  return a
}

async function clientBench (p: Pair, count: number, rounds: number): Promise<{ up: number, down: number, windowUp: number, windowDown: number, rttUs: number }> {
  const rcApi = await buildApi(p.rc)
  const epApi = await buildApi(p.ep)
  const apps: RpmsgClient[] = []
  try {
    const rcApp = await RpmsgClient.connect(await rcApi.listen({ host: '127.0.0.1', port: 0 }))
    const epApp = await RpmsgClient.connect(await epApi.listen({ host: '127.0.0.1', port: 0 }))
    apps.push(rcApp, epApp)
    const payload = Buffer.alloc(RPMSG_PAYLOAD, 0xcd)

    const sink = await epApp.createEndpoint({ name: CHANNEL + '-sink', announce: true })
    const mine = await rcApp.createEndpoint()
    await within(sink.whenBound(), 'the sink bound')
    const atEp = counter(sink)
    const atRc = counter(mine)
    const up = await oneWay(count, async () => { await mine.send(sink.addr, payload) }, atEp, 'client rc -> ep')
    const down = await oneWay(count, async () => { await sink.send(mine.addr, payload) }, atRc, 'client ep -> rc')
    const windowUp = await oneWayWindowed(count, WINDOW, async () => { await mine.send(sink.addr, payload) }, atEp, 'windowed client rc -> ep')
    const windowDown = await oneWayWindowed(count, WINDOW, async () => { await sink.send(mine.addr, payload) }, atRc, 'windowed client ep -> rc')
    sink.destroy()
    mine.destroy()

    const echo = await epApp.createEndpoint({ name: CHANNEL + '-echo', announce: true })
    void (async () => { for await (const m of echo) await echo.send(m.src, m.payload) })().catch(() => {})
    const pinger = await rcApp.createEndpoint()
    await within(echo.whenBound(), 'the echo bound')
    const it = pinger[Symbol.asyncIterator]()
    const t0 = performance.now()
    for (let i = 0; i < rounds; i++) {
      await pinger.send(echo.addr, payload)
      if ((await within(it.next(), `round trip ${i}`)).done === true) throw new Error('the pinger closed')
    }
    const rttUs = (performance.now() - t0) * 1000 / rounds
    return { up, down, windowUp, windowDown, rttUs }
  } finally {
    for (const a of apps) await a.close()
    await rcApi.close()
    await epApi.close()
  }
}

export async function benchRpmsg (busMessages: number, clientMessages: number, rounds: number): Promise<RpmsgBench> {
  const p = await startPair()
  try {
    const bus = await busBench(p, busMessages)
    const client = await clientBench(p, clientMessages, rounds)
    return { busUp: bus.up, busDown: bus.down, clientUp: client.up, clientDown: client.down, windowUp: client.windowUp, windowDown: client.windowDown, clientRttUs: client.rttUs }
  } finally {
    await stopPair(p)
  }
}
