// BENCHMARKS.md: how the run was made, its tables, and what each row is.

import type { Machine } from './machine.js'
import type { BenchOptions } from './options.js'
import { COUNT_VARIABLES } from './options.js'
import { baselineTable, goalTable, rowTable } from './report.js'
import { goals } from './goals.js'
import { rows, type Results } from './results.js'
import { WINDOW } from './sizes.js'
import { REGION_ARG } from './startup.js'
import { soakSection } from './soak-report.js'

const n = (x: number): string => x.toLocaleString('en-US')

export function document (opts: BenchOptions, m: Machine, r: Results, seconds: number): string {
  const c = opts.counts
  const all = rows(r)
  return `# Benchmarks

Produced by \`${opts.command}\`${opts.quick ? ' (the quick run: the same rows with fewer messages)' : ''} in ${Math.round(seconds)} s,
from the built JavaScript (\`dist/\`), on loopback.
Machine: ${m.cores} cores (${m.cpu}), Node ${m.node}, ${m.date}, load average ${m.load} at the start.
Counts: ${n(c.messages)} raw and window-write messages (${n(c.bigMessages)} of 64 KiB), ${n(c.rounds)} round trips per ping-pong,
${n(c.buffers)} test-device buffers, ${n(c.busMessages)} in-daemon rpmsg messages each way, ${n(c.awaitedMessages)} awaited and
${n(c.windowedMessages)} windowed client messages per row; ${c.spawns} daemon starts per role; a ${c.soakSeconds} s soak. Each can be set with
${COUNT_VARIABLES.map((v) => `\`${v}\``).join(', ')}.

Only ratios taken in one run are comparable: the machine is shared and noisy. Every row is read against both
raw WebSocket baselines measured in this run, with the same payload size: one message per \`send()\`, and the
socket corked around each event-loop turn's sends. Rows whose daemons run in the bench process are read
against baselines in one process; rows with daemons in child processes and applications in the bench process
against baselines between two processes (the raw peer a child process). Rates: the ratio is rate / baseline
(above 1 is faster). Round trips: every one is recorded; the ratio is p50 / baseline p50, with p99 / p99 beside it
(below 1 is faster).

## Goals

${goalTable(goals(all, r.baselines))}

The remaining goals (every existing test passes, the property test of write-combining passes) are checked by
\`npm test\`, not by the bench.

## Baselines

${baselineTable(r.baselines)}

## Rows

${rowTable(all, r.baselines)}

${soakSection(r.soak)}
## What each row is

- *raw ws*: a \`ws\` client sending binary messages to a \`ws\` peer (compression off, as the daemon has it),
  up to 500 (at most 1 MiB) per event-loop turn, timed until the peer has had them all; *corked*: the same
  with the socket corked around each turn's sends (ws's best case). *Ping-pong*: one message echoed back,
  each round trip recorded. *Two processes*: the peer is a child process.
- *window writes*: two daemons in the bench process; posted writes through a replica window onto the
  other's 16 MiB region (bytes applied locally, sent to the owner, applied there in order), batched per
  turn as the raw baseline is; timed until a doorbell rung after the last write arrives (a doorbell is
  never seen before the writes that preceded it).
- *doorbell ping-pong*: daemon a rings a doorbell on b; b's handler rings one back on a.
- *virtio test device*: an rc and an ep daemon in the bench process; the rc's virtio test driver sends
  ${n(c.buffers)} buffers (1 to 4096 bytes, 2 KiB on average) to the ep's vhost test driver and receives as many
  back, contents checked on both sides: ring and data writes through the rc's memory, kicks through the
  BAR0 register block, MSIs. Buffers/s against raw 2 KiB messages/s.
- *rpmsg in-daemon*: an rc and an ep daemon in the bench process, the ep's function running the rpmsg vhost
  driver; the rc's virtio_rpmsg_bus and the ep's vhost_rpmsg_bus used directly (an ep channel, an rc
  endpoint), 496-byte messages (the most a 512-byte buffer carries), \`bus.send()\` in a loop, timed until
  the receiving callback has had them all.
- *rpmsg client*: the rc and the ep daemons are child processes (the built \`soclinkd\`), the applications
  \`RpmsgClient\`s in the bench process, each through its daemon's rpmsg gateway (ws://API/v1/rpmsg): an rc
  application and an announced ep sink. *One awaited send() at a time*: each waits for the gateway's answer
  (the message is in a buffer); every \`send()\` is recorded (p50, p99). *${WINDOW} in flight*: up to ${WINDOW}
  \`send()\`s outstanding (the daemon keeps a connection's sends in order). *Ping-pong*: the rc application
  sends one message to an ep application that echoes it. Each message crosses app → daemon → daemon → app:
  three crossings against the raw baseline's one.
- *rpmsg over NTB*: *in-daemon*: a board (role ntb) and two hosts in the bench process, HOST1 (ntb-vhost,
  vhost_rpmsg_bus) and HOST2 (ntb-virtio, virtio_rpmsg_bus), measured as the PCIe in-daemon rows. Messages
  cross as buffers in MW0, HOST2's memory, which HOST1 reaches through the board (address translation);
  kicks and interrupts are NTB doorbells. *Client*: a board and four host pairs as child processes, each pair
  joined by its own NTB function (\`--ntb-pair\`); ping-pong and windowed sends through pair 0, read against
  the PCIe figure of this run as well.
- *scaling*: windowed rc → ep client sends as above: 16-byte payloads; 4080-byte payloads between a second
  rc and ep pair both started with \`--rpmsg-buf-size 4096\`; 1, 8 and 64 application pairs at once (each
  application its own \`RpmsgClient\` and endpoint, ${n(c.windowedMessages)} messages in all, ${WINDOW} in flight per
  application), aggregate messages/s; over NTB, one sending application per host pair, 1 pair and 4 pairs at
  once on one board.
- *start-up*: the built \`soclinkd\` started as a user would, \`--region ${REGION_ARG}\` (with the bench's
  few-line preload that ends it if the bench dies): time from \`spawn()\` to the first
  200 from \`GET /healthz\` (polled every 5 ms; median of ${c.spawns} starts), and VmRSS from /proc once it has
  settled (no change over 1% for a second after /healthz answered).
`
}
