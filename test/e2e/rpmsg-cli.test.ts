// The `soclink rpmsg` verbs between a real rc and ep daemon process, typed
// as a user would: an echo announced on the ep, found and pinged by name on
// the rc; listen and send both ways; --json output; errors with their exit
// status and message; Ctrl-C, SIGTERM and SIGKILL ending an application and
// taking its endpoint (and channel) with it.

import t from 'tap'
import type { ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'
import { cli, startDaemon, until, within, SOCLINK, type Daemon } from '../support/daemon.js'
import { getJson, startRpmsgEp } from '../support/rpmsg-procs.js'
import { spawn } from '../support/children.js'

interface Running {
  proc: ChildProcess
  lines: string[]
  stderr: () => string
  /** Resolves with the exit code once the process has exited and its output is all in `lines`. */
  exited: Promise<number | null>
  /** The first line matching `re` (waiting for it). */
  line: (re: RegExp) => Promise<string>
}

const running: Running[] = []

/** Starts `soclink --api API ...args` in the background. */
function start (api: string, ...args: string[]): Running {
  const proc = spawn(process.execPath, [SOCLINK, '--api', api, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  let stderr = ''
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  createInterface({ input: proc.stdout! }).on('line', (l) => { lines.push(l) })
  // 'close', not 'exit': the output still in the pipe has been read by then, so lines are complete.
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => { resolve(code) }))
  const r: Running = {
    proc,
    lines,
    stderr: () => stderr,
    exited,
    line: async (re) => await until(`a line like ${String(re)} from soclink ${args.join(' ')} (stderr: ${stderr})`, () => lines.find((l) => re.test(l)))
  }
  running.push(r)
  return r
}

const rc = await startDaemon('rc', ['--role', 'rc'])
let ep: Daemon | undefined
t.teardown(async () => {
  for (const r of running) if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGKILL')
  await ep?.stop()
  await rc.stop()
})

t.test('before any rpmsg: no daemon, and a daemon with no rpmsg bus, are errors that say so', async (t) => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
  const nobody = await cli(`http://127.0.0.1:${port}`, 'rpmsg', 'send', '--dst', '1024', 'hello')
  t.equal(nobody.code, 1, 'no daemon: exit 1')
  t.match(nobody.stderr, /^soclink: ERR_CONNECT: cannot open the rpmsg gateway at ws:\/\/127\.0\.0\.1:\d+\/v1\/rpmsg/, 'and why')

  for (const verb of [['channels'], ['listen'], ['echo'], ['send', '--dst', '1024', 'hello']]) {
    const r = await cli(rc.api, 'rpmsg', ...verb)
    t.equal(r.code, 1, `rpmsg ${verb[0]!} on an rc with no ep: exit 1`)
    t.match(r.stderr, /^soclink: ERR_NOT_FOUND: no rpmsg bus/, 'no rpmsg bus')
  }
})

t.test('echo on the ep, channels and ping on the rc', async (t) => {
  ep = await startRpmsgEp(rc)
  const echo = start(ep.api, 'rpmsg', 'echo', '--announce', '--name', 'echo')
  const first = await echo.line(/^echo on/)
  const m = /^echo on rpmsg address (\d+), channel echo announced \(max payload 496 bytes\)$/.exec(first)
  t.ok(m, `echo prints its address: ${first}`)
  const addr = Number(m?.[1])

  const channels = await until('the rc lists channel echo', async () => {
    const r = await cli(rc.api, 'rpmsg', 'channels')
    return r.stdout.includes('echo') ? r : undefined
  })
  t.equal(channels.code, 0)
  t.match(channels.stdout, new RegExp(`^NAME +SRC +DST +SIDE +DEVICE +DRIVER\\necho +- +${addr} +virtio +virtio0 +-$`, 'm'), 'rpmsg channels: the rc\'s table shows the ep\'s address as dst, the channel unbound (no src, no driver)')

  const ping = await cli(rc.api, 'rpmsg', 'ping', '--channel', 'echo', '--count', '5')
  t.equal(ping.code, 0, `ping exits 0 ${ping.stderr}`)
  const lines = ping.stdout.trimEnd().split('\n')
  t.match(lines[0], new RegExp(`^PING rpmsg ${addr} \\(channel echo\\) from \\d+: 56 bytes of payload$`), 'a header like ping(8)')
  for (let seq = 1; seq <= 5; seq++) t.match(lines[seq], new RegExp(`^56 bytes from ${addr}: seq=${seq} time=\\d+\\.\\d{3} ms$`), `reply ${seq}`)
  t.equal(lines[6], `--- rpmsg ${addr} ping statistics ---`)
  t.match(lines[7], /^5 sent, 5 received, 0% loss, time \d+ ms$/, 'nothing lost')
  t.match(lines[8], /^rtt min\/avg\/max\/mdev = \d+\.\d{3}\/\d+\.\d{3}\/\d+\.\d{3}\/\d+\.\d{3} ms$/, 'the summary')
  t.equal(lines.length, 9, 'and nothing else')
  const src = Number(/from (\d+):/.exec(lines[0]!)?.[1])
  await echo.line(/"5 abc/)
  t.same(echo.lines.filter((l) => l.startsWith('from ')).map((l) => l.replace(/abc.*"/, '"')),
    [1, 2, 3, 4, 5].map((seq) => `from ${src} (56 bytes): "${seq} " echoed`), 'echo prints a line per message, the ping\'s text payload')

  const json = await cli(rc.api, '--json', 'rpmsg', 'ping', '--channel', 'echo', '--count', '2', '--interval', '0', '--size', '496')
  t.equal(json.code, 0)
  const records = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string, [k: string]: unknown })
  t.same(records.map((r) => r.type), ['ping', 'reply', 'reply', 'summary'], '--json: one JSON object per line')
  t.match(records[1], { seq: 1, src: addr, size: 496 })
  t.match(records[3], { dst: addr, sent: 2, received: 2, lossPercent: 0, rttMs: { min: Number, avg: Number, max: Number, mdev: Number } })

  const listed = JSON.parse((await cli(rc.api, '--json', 'rpmsg', 'channels')).stdout) as unknown[]
  t.match(listed, [{ name: 'echo', dst: addr, side: 'virtio', device: 'virtio0' }], 'rpmsg channels --json parses')
  const epEndpoints = await cli(ep.api, 'rpmsg', 'endpoints')
  t.match(epEndpoints.stdout, new RegExp(`^ADDR +SIDE +DEVICE +CHANNEL +SERVICE`), 'rpmsg endpoints: a table')
  t.match(epEndpoints.stdout, new RegExp(`^ *${addr} +vhost +vhost0 +echo `, 'm'), 'with the echo endpoint, named after its channel')
  t.match(epEndpoints.stdout, /\n\nDEVICE +SIDE +SENT +RECEIVED/, 'then the bus counters')
  const endpointsJson = JSON.parse((await cli(ep.api, '--json', 'rpmsg', 'endpoints')).stdout) as { endpoints: unknown[], buses: unknown[] }
  t.match(endpointsJson.endpoints, [{ addr: 54, service: 'as' }, { addr, channel: 'echo' }], 'rpmsg endpoints --json parses')

  const big = await cli(rc.api, 'rpmsg', 'send', '--channel', 'echo', 'x'.repeat(497))
  t.equal(big.code, 1, 'an oversized send exits 1')
  t.match(big.stderr, /^soclink: ERR_RPMSG_SIZE: message 1 is 497 bytes, over the rpmsg bus's max payload of 496 bytes; nothing was sent$/m, 'naming the limit')
  const bigPing = await cli(rc.api, 'rpmsg', 'ping', '--channel', 'echo', '--size', '497')
  t.equal(bigPing.code, 1)
  t.match(bigPing.stderr, /ERR_RPMSG_SIZE: --size 497 is over the rpmsg bus's max payload of 496 bytes/)

  echo.proc.kill('SIGINT')
  t.equal(await within(echo.exited, 'echo ends on Ctrl-C'), 0, 'Ctrl-C ends echo with status 0')
  await until('the channel goes with it', async () => (await cli(rc.api, 'rpmsg', 'channels')).stdout.includes('echo') ? undefined : true)
  t.pass('the rc no longer lists channel echo')
})

t.test('listen and send, both ways', async (t) => {
  const epApi = ep!.api
  const sink = start(epApi, 'rpmsg', 'listen', '--announce', '--name', 'sink', '--count', '2')
  const sinkAddr = Number(/address (\d+)/.exec(await sink.line(/^listening on/))?.[1])
  const sent = await cli(rc.api, 'rpmsg', 'send', '--channel', 'sink', 'hello', 'wörld')
  t.equal(sent.code, 0, `send exits 0 ${sent.stderr}`)
  const m = new RegExp(`^sent 2 messages \\(11 bytes\\) from (\\d+) to ${sinkAddr}\\n$`).exec(sent.stdout)
  t.ok(m, `send says what it sent: ${sent.stdout}`)
  t.equal(await within(sink.exited, 'listen --count 2 exits'), 0, 'listen exits 0 after 2 messages')
  t.same(sink.lines.filter((l) => l.startsWith('from ')), [`from ${m?.[1]} (5 bytes): "hello"`, `from ${m?.[1]} (6 bytes): "wörld"`], 'a line per message: source, length, text')

  const listen = start(rc.api, '--json', 'rpmsg', 'listen', '--count', '2')
  const ready = JSON.parse(await listen.line(/listening/)) as { addr: number, maxPayload: number }
  t.match(ready, { type: 'listening', announced: false, maxPayload: 496 })
  const hex = await cli(epApi, '--json', 'rpmsg', 'send', '--hex', '--dst', String(ready.addr), 'de:ad:be:ef', '00')
  t.equal(hex.code, 0, hex.stderr)
  const result = JSON.parse(hex.stdout) as { src: number }
  t.match(result, { dst: ready.addr, messages: 2, bytes: 5 }, 'send --json')
  t.equal(await within(listen.exited, 'listen exits'), 0)
  const got = listen.lines.slice(1).map((l) => JSON.parse(l) as Record<string, unknown>)
  t.same(got, [
    { type: 'message', src: result.src, length: 4, hex: 'deadbeef' },
    { type: 'message', src: result.src, length: 1, hex: '00' }
  ], 'listen --json: JSON lines; binary payloads as hex only')

  const stray = await cli(rc.api, 'rpmsg', 'send', '--channel', 'nope', '--timeout', '200', 'hi')
  t.equal(stray.code, 1)
  t.match(stray.stderr, /ERR_TIMEOUT: no rpmsg channel named "nope"/, 'a channel that never appears: timeout, named')
  const usage = await cli(rc.api, 'rpmsg', 'send', 'hi')
  t.equal(usage.code, 2, 'no --dst or --channel: usage error')
  t.match(usage.stderr, /give --dst ADDR or --channel NAME/)
  const badHex = await cli(rc.api, 'rpmsg', 'send', '--hex', '--dst', '1024', 'xyz')
  t.equal(badHex.code, 2, 'bad hex: usage error')
})

t.test('SIGTERM and SIGKILL end applications; their endpoints and channels go with them', async (t) => {
  const epApi = ep!.api
  const listed = async (api: string): Promise<string> => (await cli(api, 'rpmsg', 'endpoints')).stdout

  const listener = start(rc.api, 'rpmsg', 'listen', '--name', 'term')
  const addr = Number(/address (\d+)/.exec(await listener.line(/^listening on/))?.[1])
  t.match(await listed(rc.api), new RegExp(`^ *${addr} +virtio `, 'm'), 'the rc lists the listener\'s endpoint')
  listener.proc.kill('SIGTERM')
  t.equal(await within(listener.exited, 'listen ends on SIGTERM'), 0, 'SIGTERM ends listen with status 0')
  await until('the endpoint is gone', async () => new RegExp(`^ *${addr} +virtio `, 'm').test(await listed(rc.api)) ? undefined : true)
  t.pass('the rc no longer lists it')

  const victim = start(epApi, 'rpmsg', 'echo', '--announce', '--name', 'victim', '--quiet')
  await victim.line(/^echo on/)
  await until('the rc sees channel victim', async () => (await cli(rc.api, 'rpmsg', 'channels')).stdout.includes('victim') ? true : undefined)
  victim.proc.kill('SIGKILL')
  await within(victim.exited, 'killed')
  await until('the channel goes when its application is killed', async () => (await cli(rc.api, 'rpmsg', 'channels')).stdout.includes('victim') ? undefined : true)
  t.pass('a killed application\'s announced channel is destroyed on the rc')
})

t.test('the ep restarting: a listener on the rc is detached and attached again; an echo on the ep tries to connect again', async (t) => {
  const listener = start(rc.api, 'rpmsg', 'listen', '--name', 'steady', '--count', '1')
  const addr = Number(/address (\d+)/.exec(await listener.line(/^listening on/))?.[1])
  const orphan = start(ep!.api, 'rpmsg', 'echo', '--announce', '--name', 'orphan')
  await orphan.line(/^echo on/)

  await ep!.stop()
  t.match(await orphan.line(/connecting again/), /^the rpmsg gateway connection to ws:\/\/.* closed: connecting again$/, 'an echo whose daemon stops says so and connects again (rpmsg-echo-reconnect.test.ts)')
  await until('echo says why it waits', () => /^soclink: ERR_CONNECT: .*; trying again in \d+ ms$/m.test(orphan.stderr()) ? true : undefined)
  orphan.proc.kill('SIGINT')
  t.equal(await within(orphan.exited, 'echo ends on Ctrl-C while it waits'), 0, 'Ctrl-C while it waits ends it cleanly')
  t.match(await listener.line(/detached/), new RegExp(`^endpoint ${addr} detached: .+`), 'the rc listener is told its bus went')

  ep = await startRpmsgEp(rc)
  t.equal(await listener.line(/attached again/), `endpoint ${addr} attached again`, 'and that it is back, at the same address')
  const sent = await cli(ep.api, 'rpmsg', 'send', '--dst', String(addr), 'after the restart')
  t.equal(sent.code, 0, sent.stderr)
  t.equal(await within(listener.exited, 'listen --count 1 exits'), 0)
  t.match(listener.lines.at(-1), /^from \d+ \(17 bytes\): "after the restart"$/, 'the new ep reaches it')
})

t.test('ping --claim: claims the channel (the echo is bound to it), and claims it again after the ep restarts', async (t) => {
  const echo1 = start(ep!.api, '--json', 'rpmsg', 'echo', '--announce', '--name', 'claimed')
  await echo1.line(/"type":"echoing"/)
  const ping = start(rc.api, '--json', 'rpmsg', 'ping', '--channel', 'claimed', '--claim', '--interval', '100', '--timeout', '2000')
  const header = JSON.parse(await ping.line(/"type":"ping"/)) as { src: number, dst: number }
  await ping.line(/"type":"reply"/)
  const bound = JSON.parse(await echo1.line(/"type":"bound"/)) as { remote: number }
  t.equal(bound.remote, header.src, 'the echo is bound to the rc\'s claimed endpoint (AS ASSIGN)')
  const listed = (await getJson<{ channels: Array<{ name: string, src: number | null, driver: string | null }> }>(rc.api, '/v1/rpmsg/channels')).body.channels
  t.match(listed.find((c) => c.name === 'claimed'), { src: header.src, driver: 'soclink_gateway' }, 'the rc lists the claim')

  await ep!.stop()
  await ping.line(/"type":"detached"/)
  ep = await startRpmsgEp(rc)
  const echo2 = start(ep.api, '--json', 'rpmsg', 'echo', '--announce', '--name', 'claimed')
  const again = JSON.parse(await ping.line(/"type":"claimed"/)) as { addr: number, dst: number }
  const before = ping.lines.length
  await until('a reply after the restart', () => ping.lines.slice(before).find((l) => l.includes('"type":"reply"')))
  t.equal((JSON.parse(await echo2.line(/"type":"bound"/)) as { remote: number }).remote, again.addr, 'the new echo is bound to the new claim')
  ping.proc.kill('SIGINT')
  t.equal(await within(ping.exited, 'ping ends on SIGINT'), 0, 'and ends cleanly')
  echo2.proc.kill('SIGINT')
  await within(echo2.exited, 'echo ends')
})
