// npm run bench: link-layer and virtio throughput and latency beside a raw
// WebSocket baseline measured in the same run, on loopback. Writes BENCHMARKS.md.
//
//   raw ws one-way      496-byte binary messages, one per send
//   raw ws corked       the same, sends corked per event-loop turn (ws's best case)
//   raw ws ping-pong    round trips of one 496-byte message
//   window writes       496-byte posted writes through a replica window, until
//                       the owner has applied them all
//   doorbell ping-pong  a rings b, b's handler rings a back
//   rpmsg               rpmsg.ts: one-way 496-byte messages through the buses
//                       and through the client library, and client ping-pong
//   rpmsg over NTB      rpmsg-ntb.ts: the same between two NTB hosts, through
//                       the buses each way, and client ping-pong

import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { WebSocketServer, WebSocket } from 'ws'
import { startNode, linkUrl } from '../support/nodes.js'
import { until } from '../support/daemon.js'
import { benchVirtio } from './virtio.js'
import { benchRpmsg } from './rpmsg.js'
import { benchRpmsgNtb } from './rpmsg-ntb.js'
import { WINDOW } from './rpmsg-runs.js'

const SIZE = 496
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5_000)
const payload = Buffer.alloc(SIZE, 0xab)
const tick = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

async function rawPair (): Promise<{ server: WebSocketServer, client: WebSocket, peer: WebSocket }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 1 << 26 })
  await new Promise((resolve) => server.once('listening', resolve))
  const port = (server.address() as { port: number }).port
  const peerP = new Promise<WebSocket>((resolve) => server.once('connection', resolve))
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false })
  await new Promise((resolve) => client.once('open', resolve))
  return { server, client, peer: await peerP }
}

async function rawOneWay (corked: boolean, message: Buffer = payload): Promise<number> {
  const { server, client, peer } = await rawPair()
  let got = 0
  const done = new Promise<void>((resolve) => peer.on('message', () => { if (++got === MESSAGES) resolve() }))
  const t0 = performance.now()
  const sock = (client as unknown as { _socket: import('node:net').Socket })._socket
  for (let i = 0; i < MESSAGES; i += 500) {
    if (corked) sock.cork()
    for (let k = i; k < Math.min(MESSAGES, i + 500); k++) client.send(message)
    if (corked) sock.uncork()
    await tick()
  }
  await done
  const rate = MESSAGES / ((performance.now() - t0) / 1000)
  client.close(); server.close()
  return rate
}

async function rawPingPong (): Promise<number> {
  const { server, client, peer } = await rawPair()
  peer.on('message', (d: Buffer) => { peer.send(d) })
  const t0 = performance.now()
  for (let i = 0; i < ROUNDS; i++) {
    await new Promise((resolve) => { client.once('message', resolve); client.send(payload) })
  }
  const us = (performance.now() - t0) * 1000 / ROUNDS
  client.close(); server.close()
  return us
}

async function soclink (): Promise<{ writes: number, rttUs: number }> {
  const a = await startNode('bench-a')
  const b = await startNode('bench-b', ['--peer', linkUrl(a)])
  a.regions.create('mem', 1 << 24)
  await until('link', () => b.links.get('bench-a')?.state === 'up' ? true : undefined)
  const w = b.openWindow({ peer: 'bench-a', region: 'mem', offset: 0, size: 1 << 24, replica: true })
  await b.requester.opened(w)

  const t0 = performance.now()
  const slots = (1 << 24) / SIZE | 0
  for (let i = 0; i < MESSAGES; i += 500) {
    for (let k = i; k < Math.min(MESSAGES, i + 500); k++) w.write((k % slots) * SIZE, payload)
    await tick()
  }
  await until('applied', () => a.completer.counters.writesApplied >= MESSAGES ? true : undefined, 120_000)
  const writes = MESSAGES / ((performance.now() - t0) / 1000)

  let resolveRound: (() => void) | null = null
  b.doorbells.declare('ping', () => { b.ring('bench-a', 'pong', 0) })
  a.doorbells.declare('pong', () => { resolveRound?.() })
  const t1 = performance.now()
  for (let i = 0; i < ROUNDS; i++) {
    await new Promise<void>((resolve) => { resolveRound = resolve; a.ring('bench-b', 'ping', i) })
  }
  const rttUs = (performance.now() - t1) * 1000 / ROUNDS
  await b.stop('bench'); await a.stop('bench')
  return { writes, rttUs }
}

const rawOne = await rawOneWay(false)
const rawCorked = await rawOneWay(true)
const rawRtt = await rawPingPong()
const s = await soclink()
const VIRTIO_BUFFERS = Number(process.env.BENCH_BUFFERS ?? 50_000)
// The test device's payloads average 2 KiB (1..4096 bytes): the baseline sends 2 KiB messages.
const raw2k = await rawOneWay(false, Buffer.alloc(2048, 0xcd))
const split = await benchVirtio('split', VIRTIO_BUFFERS)
const packed = await benchVirtio('packed', VIRTIO_BUFFERS)
const RPMSG_MESSAGES = Number(process.env.BENCH_RPMSG_MESSAGES ?? 100_000)
const RPMSG_CLIENT_MESSAGES = Number(process.env.BENCH_RPMSG_CLIENT_MESSAGES ?? 20_000)
const rpmsg = await benchRpmsg(RPMSG_MESSAGES, RPMSG_CLIENT_MESSAGES, ROUNDS)
const NTB_MESSAGES = Number(process.env.BENCH_NTB_MESSAGES ?? 50_000)
const ntb = await benchRpmsgNtb(NTB_MESSAGES, ROUNDS)

const f = (n: number): string => Math.round(n).toLocaleString('en-US')
const rows = [
  ['raw ws one-way, 496 B', `${f(rawOne)} msg/s`, '1.00'],
  ['raw ws corked, 496 B', `${f(rawCorked)} msg/s`, (rawCorked / rawOne).toFixed(2)],
  ['soclink window writes, 496 B', `${f(s.writes)} writes/s`, (s.writes / rawOne).toFixed(2)],
  ['raw ws ping-pong RTT', `${rawRtt.toFixed(1)} us`, '1.00'],
  ['soclink doorbell ping-pong RTT', `${s.rttUs.toFixed(1)} us`, (s.rttUs / rawRtt).toFixed(2)],
  ['raw ws one-way, 2 KiB', `${f(raw2k)} msg/s`, '1.00'],
  ...[split, packed].map((v) => [`virtio test device, ${v.ring} ring`, `${f(v.buffers / v.seconds)} buffers/s (${(v.bytes / v.seconds / 1e6).toFixed(1)} MB/s)`,
    ((v.buffers / v.seconds) / raw2k).toFixed(2)]),
  ['rpmsg in-daemon one-way rc → ep, 496 B', `${f(rpmsg.busUp)} msg/s`, (rpmsg.busUp / rawOne).toFixed(2)],
  ['rpmsg in-daemon one-way ep → rc, 496 B', `${f(rpmsg.busDown)} msg/s`, (rpmsg.busDown / rawOne).toFixed(2)],
  ['rpmsg client library one-way rc → ep, 496 B', `${f(rpmsg.clientUp)} msg/s`, (rpmsg.clientUp / rawOne).toFixed(2)],
  ['rpmsg client library one-way ep → rc, 496 B', `${f(rpmsg.clientDown)} msg/s`, (rpmsg.clientDown / rawOne).toFixed(2)],
  [`rpmsg client library one-way rc → ep, 496 B, ${WINDOW} in flight`, `${f(rpmsg.windowUp)} msg/s`, (rpmsg.windowUp / rawOne).toFixed(2)],
  [`rpmsg client library one-way ep → rc, 496 B, ${WINDOW} in flight`, `${f(rpmsg.windowDown)} msg/s`, (rpmsg.windowDown / rawOne).toFixed(2)],
  ['rpmsg client library ping-pong RTT', `${rpmsg.clientRttUs.toFixed(1)} us`, (rpmsg.clientRttUs / rawRtt).toFixed(2)],
  ['rpmsg over NTB in-daemon one-way HOST2 → HOST1, 496 B', `${f(ntb.busToHost1)} msg/s`, (ntb.busToHost1 / rawOne).toFixed(2)],
  ['rpmsg over NTB in-daemon one-way HOST1 → HOST2, 496 B', `${f(ntb.busToHost2)} msg/s`, (ntb.busToHost2 / rawOne).toFixed(2)],
  ['rpmsg over NTB client library ping-pong RTT', `${ntb.clientRttUs.toFixed(1)} us`, (ntb.clientRttUs / rawRtt).toFixed(2)]
]
const table = ['| measurement | result | ratio to raw ws |', '|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
const text = `# Benchmarks

Produced by \`npm run bench\` (${MESSAGES.toLocaleString('en-US')} messages, ${ROUNDS.toLocaleString('en-US')} round trips; set
BENCH_MESSAGES / BENCH_ROUNDS / BENCH_BUFFERS / BENCH_RPMSG_MESSAGES / BENCH_RPMSG_CLIENT_MESSAGES /
BENCH_NTB_MESSAGES to change).
Loopback, one process, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}),
Node ${process.version}, ${new Date().toISOString().slice(0, 10)}. Only ratios taken in one run are comparable:
this machine is shared and noisy.

${table}

- *raw ws one-way*: a \`ws\` client sending 496-byte binary messages, one \`send\` each, to a \`ws\` server.
- *raw ws corked*: the same with the socket corked around each event-loop turn's sends.
- *soclink window writes*: 496-byte posted writes through a replica window (bytes applied locally, sent to
  the owner, applied there in order); timed until the owner has applied every one. Writes are batched per
  event-loop turn into one WebSocket message, with sequence numbers and acks for replay.
- *doorbell ping-pong*: daemon a rings a doorbell on b; b's handler rings one back on a.
- *virtio test device*: an rc and an ep daemon (one process, loopback); the rc's virtio test driver sends
  ${VIRTIO_BUFFERS.toLocaleString('en-US')} buffers (1 to 4096 bytes, 2 KiB on average) to the ep's vhost test driver and receives as many
  back, contents checked on both sides. Every buffer crosses as ring and data writes through the rc's memory,
  kicks through the BAR0 register block and MSI interrupts. Ratio: buffers/s against raw 2 KiB messages/s.
- *rpmsg*: an rc and an ep daemon (one process, loopback), the ep's function running the rpmsg vhost driver.
  *In-daemon*: the rc's virtio_rpmsg_bus and the ep's vhost_rpmsg_bus used directly (an ep channel, an rc
  endpoint), ${RPMSG_MESSAGES.toLocaleString('en-US')} messages of 496 bytes (the most a 512-byte buffer carries) each way, \`bus.send()\` in a
  loop, timed until the receiving callback has had them all. *Client library*: two \`RpmsgClient\`
  applications through each daemon's rpmsg gateway (ws://API/v1/rpmsg), ${RPMSG_CLIENT_MESSAGES.toLocaleString('en-US')} messages each way, first one awaited
  \`send()\` at a time (each waits for the gateway's Sent reply, so one gateway round trip per message bounds the
  rate), then with ${WINDOW} \`send()\`s in flight (the daemon keeps a connection's sends in order, waiting for
  buffers in rpmsg_send()'s FIFO); the ping-pong sends one 496-byte message to an ep application that
  echoes it, ${ROUNDS.toLocaleString('en-US')} times. Every message crosses as a buffer in rc memory (written by the rc, or by the ep
  through its outbound window), signalled by queue kicks (rc → ep) and MSIs (ep → rc).
  Ratios: msg/s against raw ws one-way 496 B; RTT against raw ws ping-pong.
- *rpmsg over NTB*: a board (role ntb) and two hosts that dial it (one process, loopback): HOST1 (ntb-vhost,
  vhost_rpmsg_bus) and HOST2 (ntb-virtio, virtio_rpmsg_bus), paired by the board. *In-daemon*: HOST2's
  virtio_rpmsg_bus and HOST1's vhost_rpmsg_bus used directly (a HOST1 channel, a HOST2 endpoint), as in the
  PCIe rows, ${NTB_MESSAGES.toLocaleString('en-US')} messages of 496 bytes each way. *Client library ping-pong*: a HOST2 \`RpmsgClient\`
  application sends one 496-byte message to an echoing HOST1 application, each through its host's rpmsg
  gateway, ${ROUNDS.toLocaleString('en-US')} times. Every message crosses as a buffer in MW0, which is HOST2's own memory: HOST1 reads
  and writes it through its peer memory window, the board forwarding with address translation; kicks and
  interrupts are NTB doorbells, rung through the board's doorbell BAR. Ratios as for the PCIe rows.
`
writeFileSync(new URL('../../BENCHMARKS.md', import.meta.url), text)
process.stdout.write(table + '\n')
