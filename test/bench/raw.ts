// The raw WebSocket baselines every row is read against: a ws client
// sending binary messages to a raw peer (raw-peer.ts), in this process or
// in a child process, measured in the same run as the rows.
//
//   one-way   `count` messages of one size; per event-loop turn up to 500
//             (at most 1 MiB), one send() each, or with the socket corked
//             around the turn's sends (ws's best case); timed until the peer
//             says it has them all
//   ping-pong one message, echoed by the peer, `rounds` times; every round
//             trip recorded

import { WebSocket } from 'ws'
import type { Socket } from 'node:net'
import { Samples, ratePerSecond } from './stats.js'
import { rate, rtt, type Baseline } from './figures.js'
import { WS_OPTIONS } from './raw-peer.js'

const tick = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }
/** A sender waits while more than this is queued in ws: memory stays bounded and the peer is what sets the pace. */
const HIGH_WATER = 16 << 20

/** Messages sent per event-loop turn: the raw baselines and the window writes batch alike. */
export function perTurn (size: number): number {
  return Math.max(1, Math.min(500, Math.floor((1 << 20) / size)))
}

export async function connectRaw (port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, WS_OPTIONS)
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  return ws
}

const socketOf = (ws: WebSocket): Socket => (ws as unknown as { _socket: Socket })._socket

async function nextText (ws: WebSocket): Promise<string> {
  return await new Promise((resolve) => {
    const on = (data: Buffer, isBinary: boolean): void => { if (!isBinary) { ws.off('message', on); resolve(data.toString()) } }
    ws.on('message', on)
  })
}

/** One-way messages/s of `size` bytes to the raw peer on `port`. */
export async function rawOneWay (port: number, size: number, count: number, corked: boolean): Promise<number> {
  const ws = await connectRaw(port)
  const message = Buffer.alloc(size, 0xab)
  const batch = perTurn(size)
  const sock = socketOf(ws)
  try {
    ws.send(`count ${count}`)
    const done = nextText(ws)
    const t0 = performance.now()
    for (let i = 0; i < count; i += batch) {
      if (corked) sock.cork()
      for (let k = i; k < Math.min(count, i + batch); k++) ws.send(message)
      if (corked) sock.uncork()
      await tick()
      while (ws.bufferedAmount > HIGH_WATER) await tick()
    }
    await done
    return ratePerSecond(count, t0)
  } finally {
    ws.close()
  }
}

/** Round trips of one `size`-byte message echoed by the raw peer on `port`. */
export async function rawPingPong (port: number, size: number, rounds: number, corked: boolean): Promise<Samples> {
  const ws = await connectRaw(port)
  const message = Buffer.alloc(size, 0xcd)
  const sock = socketOf(ws)
  const samples = new Samples(rounds)
  let back: () => void = () => {}
  ws.on('message', (_data: Buffer, isBinary: boolean) => { if (isBinary) back() })
  try {
    ws.send('echo')
    for (let i = 0; i < rounds; i++) {
      await samples.time(async () => {
        await new Promise<void>((resolve) => {
          back = resolve
          if (corked) sock.cork()
          ws.send(message)
          if (corked) sock.uncork()
        })
      })
    }
    return samples
  } finally {
    ws.close()
  }
}

/** Both one-way baselines for `size` bytes. */
export async function oneWayBaseline (port: number, label: string, size: number, count: number): Promise<Baseline> {
  const unit = 'msg/s'
  return {
    label,
    one: rate(await rawOneWay(port, size, count, false), unit, size),
    corked: rate(await rawOneWay(port, size, count, true), unit, size)
  }
}

/** Both ping-pong baselines (corking a lone message changes little; it is measured, not assumed). */
export async function pingPongBaseline (port: number, label: string, size: number, rounds: number): Promise<Baseline> {
  return {
    label,
    one: rtt((await rawPingPong(port, size, rounds, false)).summary()),
    corked: rtt((await rawPingPong(port, size, rounds, true)).summary())
  }
}
