// What the client rows measure, with applications in this process talking
// to daemons through RpmsgClient and each daemon's rpmsg gateway
// (ws://API/v1/rpmsg). An application pair is a virtio-side application
// (PCIe rc, NTB HOST2) with an endpoint and a vhost-side one (PCIe ep, NTB
// HOST1) with an announced sink endpoint, each its own RpmsgClient.
//
// How an application sends is a SendMode: one awaited send() at a time, or
// WINDOW send()s in flight. SEND_MODES makes the one-way client rows, one
// per mode and direction: a posted mode (ept.post() then flush(), when the
// client has it) is one more entry there and nothing else.

import { ApiError, RpmsgClient, type RpmsgChannelEvent, type RpmsgEndpoint } from '../../client/src/index.js'
import { within } from '../support/daemon.js'
import { Arrivals, counter } from './arrivals.js'
import { Samples, ratePerSecond } from './stats.js'
import { rate, rtt, type Rate, type Rtt } from './figures.js'
import { WINDOW } from './sizes.js'

export interface AppPair {
  virtioApp: RpmsgClient
  vhostApp: RpmsgClient
  /** On the virtio side: sends up, counts what comes down. */
  mine: RpmsgEndpoint
  /** On the vhost side, announced: counts what goes up, sends down. */
  sink: RpmsgEndpoint
  atMine: Arrivals
  atSink: Arrivals
}

/** One direction of a pair: the sending endpoint, the address it sends to, where arrivals are counted. */
export interface Lane { from: RpmsgEndpoint, to: number, arrivals: Arrivals }
export const up = (p: AppPair): Lane => ({ from: p.mine, to: p.sink.addr, arrivals: p.atSink })
export const down = (p: AppPair): Lane => ({ from: p.sink, to: p.mine.addr, arrivals: p.atMine })

export interface SendMode {
  /** In row ids: client-ID-up, client-ID-down. */
  id: string
  label: string
  /** How many messages a row sends. */
  messages: 'awaitedMessages' | 'windowedMessages'
  /** Whether each send() is recorded (p50, p99 until it resolves). */
  latency: boolean
  /** Sends `count` messages down `lane`; `latency`, when given, records each send() until it resolves. */
  send: (lane: Lane, payload: Uint8Array, count: number, latency?: Samples) => Promise<void>
}

export const AWAITED: SendMode = {
  id: 'awaited',
  label: 'one awaited send() at a time',
  messages: 'awaitedMessages',
  latency: true,
  async send (lane, payload, count, latency) {
    for (let i = 0; i < count; i++) {
      if (latency === undefined) await lane.from.send(lane.to, payload)
      else await latency.time(async () => { await lane.from.send(lane.to, payload) })
    }
  }
}

export const WINDOWED: SendMode = {
  id: 'window',
  label: `${WINDOW} send()s in flight`,
  messages: 'windowedMessages',
  latency: false,
  async send (lane, payload, count) {
    // A connection's sends complete in order: waiting for the oldest keeps
    // WINDOW in flight at no cost per send (Promise.race over the window
    // would cost the client WINDOW reactions a send).
    const inFlight: Array<Promise<void>> = []
    for (let i = 0; i < count; i++) {
      inFlight.push(lane.from.send(lane.to, payload))
      if (inFlight.length >= WINDOW) await inFlight.shift()
    }
    await Promise.all(inFlight)
  }
}

export const POSTED: SendMode = {
  id: 'posted',
  label: 'posted (ept.post(), then flush())',
  messages: 'windowedMessages',
  latency: false,
  async send (lane, payload, count) {
    for (let i = 0; i < count; i++) lane.from.post(lane.to, payload)
    await lane.from.flush()
  }
}

/** The one-way client rows' modes, in row order. */
export const SEND_MODES: SendMode[] = [AWAITED, WINDOWED, POSTED]

/** `n` application pairs, each two RpmsgClients of their own, the sinks bound. */
export async function openPairs (virtioApi: string, vhostApi: string, n: number): Promise<AppPair[]> {
  return await Promise.all(Array.from({ length: n }, async (_, k) => {
    const vhostApp = await RpmsgClient.connect(vhostApi)
    const virtioApp = await RpmsgClient.connect(virtioApi)
    const sink = await vhostApp.createEndpoint({ name: `bench-sink-${k}`, announce: true })
    // The virtio-side application claims the channel, as a kernel driver binds it (rpmsgBind kernel): its endpoint is the channel's.
    const mine = await claimWhenAnnounced(virtioApp, `bench-sink-${k}`)
    await within(sink.whenBound(), `sink ${k} bound`, 60_000)
    return { virtioApp, vhostApp, mine, sink, atMine: counter(mine), atSink: counter(sink) }
  }))
}

/** Claims channel `name` once the name service has announced it on the application's daemon. */
async function claimWhenAnnounced (app: RpmsgClient, name: string): Promise<RpmsgEndpoint> {
  let on = (_ev: RpmsgChannelEvent): void => {}
  const announced = new Promise<void>((resolve) => {
    on = (ev) => { if (ev.name === name && ev.created) resolve() }
    app.on('channel', on)
  })
  try {
    try {
      return await app.claimChannel(name)
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== 'ERR_NOT_FOUND') throw err
    }
    await within(announced, `channel ${name} announced`, 60_000)
    return await app.claimChannel(name)
  } finally {
    app.off('channel', on)
  }
}

export async function closePairs (pairs: AppPair[]): Promise<void> {
  await Promise.all(pairs.flatMap((p) => [p.virtioApp.close(), p.vhostApp.close()]))
}

/**
 * Messages/s over every lane at once, each lane sending `total / lanes`
 * messages with `mode`; timed until every one has arrived. With `latency`
 * (one lane), each send() is recorded too.
 */
export async function oneWay (lanes: Lane[], mode: SendMode, payload: Uint8Array, total: number, latency?: Samples): Promise<Rate> {
  const each = Math.max(1, Math.ceil(total / lanes.length))
  const t0 = performance.now()
  const arrived = Promise.all(lanes.map(async (l) => { await l.arrivals.reach(l.arrivals.count + each) }))
  await Promise.all(lanes.map(async (l) => { await mode.send(l, payload, each, latency) }))
  await within(arrived, `${each * lanes.length} messages arriving (${mode.label})`, 300_000)
  return rate(ratePerSecond(each * lanes.length, t0), 'msg/s', payload.length, latency?.summary())
}

/** Ping-pong: a virtio-side application sends to an echoing vhost-side one, `rounds` times, each round trip recorded. */
export async function pingPong (virtioApp: RpmsgClient, vhostApp: RpmsgClient, payload: Uint8Array, rounds: number): Promise<Rtt> {
  const echo = await vhostApp.createEndpoint({ name: 'bench-echo', announce: true })
  void (async () => { for await (const m of echo) await echo.send(m.src, m.payload) })().catch(() => {})
  const pinger = await claimWhenAnnounced(virtioApp, 'bench-echo')
  try {
    await within(echo.whenBound(), 'the echo bound', 60_000)
    const it = pinger[Symbol.asyncIterator]()
    const samples = new Samples(rounds)
    for (let i = 0; i < rounds; i++) {
      await samples.time(async () => {
        await pinger.send(echo.addr, payload)
        if ((await within(it.next(), `round trip ${i}`, 60_000)).done === true) throw new Error('the pinger closed')
      })
    }
    return rtt(samples.summary())
  } finally {
    pinger.destroy()
    echo.destroy()
  }
}
