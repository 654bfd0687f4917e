// The progress line of long work, on a real pseudo-terminal (script(1))
// and piped: `soclink test-device run`, `soclink rpmsg perf`, `soclink ntb
// perf` and the demo's burst draw a line in place (\r, cleared with \e[K)
// with a count, a rate and an ETA on a terminal, and write not one byte
// more when their output is a pipe, so what scripts parse stays the same.

import t from 'tap'
import { fileURLToPath } from 'node:url'
import { ControlClient } from '../../client/src/index.js'
import { cli, SOCLINK, startDaemon, until } from '../support/daemon.js'
import { startRpmsgPair } from '../support/rpmsg-daemons.js'
import { rpmsgBus } from '../support/rpmsg-procs.js'
import { hostUp, startNtbTopology } from '../support/ntb-daemons.js'
import type { Daemon } from '../support/daemon.js'
import { getJson } from '../support/rpmsg-procs.js'
import { onTerminal } from '../support/tty.js'
import { scaled } from '../support/time.js'

const CLEAR = '\r\x1b[K'

/** The progress lines drawn in `out`: what follows each \r\e[K up to the next \r. */
const drawn = (out: string, label: string): string[] =>
  out.split(CLEAR).slice(1).map((s) => s.split('\r')[0]!).filter((s) => s.startsWith(label))

const soclink = async (api: string, ...args: string[]): ReturnType<typeof onTerminal> =>
  await onTerminal(process.execPath, [SOCLINK, '--api', api, ...args], scaled(120_000))

t.test('soclink test-device run: buffers, rate and ETA on a terminal; nothing more piped', async (t) => {
  const rc = await startDaemon('rc', ['--role', 'rc'])
  const ep = await startDaemon('ep', ['--role', 'ep', '--vhost-driver', 'soclink-test', '--peer', rc.link])
  t.teardown(async () => { await ep.stop(); await rc.stop() })
  const rcApi = new ControlClient(rc.api)
  const dev = await until('DRIVER_OK', async () => (await rcApi.devices()).find((d) => d.statusBits.includes('DRIVER_OK')), 20_000)

  const tty = await soclink(rc.api, 'test-device', 'run', dev.name, '20000')
  t.equal(tty.code, 0, `exit 0 (${tty.stdout})`)
  const lines = drawn(tty.stdout, `${dev.name} test buffers: `)
  t.ok(lines.length > 0, 'a progress line was drawn')
  t.match(lines.at(-1), /^virtio\d test buffers: [\d,]+\/40,000 buf \(\d+%\), [\d.]+k? buf\/s, ETA \S+/, 'count of the total, rate, ETA')
  t.match(tty.stdout, new RegExp(`${CLEAR.replace('[', '\\[')}${dev.name}: sent 20000, received 20000, verified 20000, errors 0;`), 'cleared, then the result on its line')

  const piped = await cli(rc.api, 'test-device', 'run', dev.name, '2000')
  t.equal(piped.code, 0)
  t.match(piped.stdout, /^virtio\d: sent 2000, received 2000, verified 2000, errors 0; \d+ bytes in [\d.]+ s \(\d+ buffers\/s, [\d.]+ MB\/s\)\n$/, 'the result line only')
  t.equal(piped.stderr, '', 'no progress on a pipe')
})

t.test('soclink rpmsg perf: each run\'s messages on a terminal', async (t) => {
  const { rc, ep, stop } = await startRpmsgPair()
  t.teardown(stop)
  await rpmsgBus(rc)
  await rpmsgBus(ep)
  const tty = await soclink(rc.api, 'rpmsg', 'perf', '--peer-api', ep.api, '--count', '5000', '--rounds', '2000')
  t.equal(tty.code, 0, `exit 0 (${tty.stdout})`)
  t.match(drawn(tty.stdout, 'rc -> ep messages: ').at(-1), /^rc -> ep messages: [\d,]+\/5,000 msg \(\d+%\), \S+ msg\/s, ETA \S+/, 'the first run')
  t.match(drawn(tty.stdout, 'round trips: ').at(-1), /^round trips: [\d,]+\/2,000 msg/, 'the round trips')
  t.ok(tty.stdout.includes(`${CLEAR}rpmsg perf rc <-> ep: `), 'cleared before the table')
})

t.test('soclink ntb perf: bytes written, then round trips, on a terminal; nothing more piped', async (t) => {
  const daemons: Daemon[] = []
  t.teardown(async () => { for (const d of [...daemons].reverse()) await d.stop() })
  const { host1, host2 } = await startNtbTopology(daemons)
  await hostUp(host1)
  await hostUp(host2)
  for (const h of [host1, host2]) {
    await until(`${h.name}'s ntb_perf ready`, async () => (await getJson<{ state: string }>(h.api, '/v1/ntb/perf')).body.state === 'ready' ? true : undefined, 30_000)
  }
  const tty = await soclink(host2.api, 'ntb', 'perf', '--size', '256M', '--pings', '3000')
  t.equal(tty.code, 0, `exit 0 (${tty.stdout})`)
  t.match(drawn(tty.stdout, 'ntb perf writes: ').at(-1), /^ntb perf writes: [\d.]+[kMG]?B\/268MB \(\d+%\), [\d.]+[kMG]?B\/s, ETA \S+/, 'bytes of the total, in MB')
  t.match(drawn(tty.stdout, 'ntb perf round trips: ').at(-1), /^ntb perf round trips: [\d,]+\/3,000 ping/, 'then the round trips')
  const piped = await cli(host2.api, 'ntb', 'perf', '--size', '1M', '--pings', '10')
  t.equal(piped.code, 0)
  t.equal(piped.stderr, '', 'no progress on a pipe')
  t.notMatch(piped.stdout, /\r/, 'and none in the table')
})

// Piped, the demo runs in demo.test.ts; its line is the same Progress as the commands' above.
t.test('the demo\'s burst: its echoes counted on a terminal', async (t) => {
  const demo = fileURLToPath(new URL('../../scripts/demo.mjs', import.meta.url))
  const tty = await onTerminal(process.execPath, [demo], scaled(120_000))
  t.equal(tty.code, 0, `exit 0 (${tty.stdout})`)
  t.match(drawn(tty.stdout, '  burst echoes: ').at(-1), /^ {2}burst echoes: [\d,]+\/10,000 msg \(\d+%\), \S+ msg\/s, ETA \S+/)
})
