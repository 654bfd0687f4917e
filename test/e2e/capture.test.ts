// Frame capture end to end: two real daemons (rc and ep), the real
// `soclink capture` recording the rc's links from before the ep dials, while
// an rpmsg channel is announced and a message sent on it, a doorbell rung and
// a window written; then Ctrl-C (SIGINT) ends the capture with a valid
// pcapng file, which capinfos and tshark read without complaint, and
// tshark with the Lua dissector (proto/wireshark/soclink.lua) decodes: the
// handshake (Hello in, Welcome out), Writes and Updates, the doorbell, the
// name service announcement and the rpmsg header of the message sent, with
// its src, dst and len.

import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { ChildProcess } from 'node:child_process'
import { cli, startDaemon, until, within, SOCLINK, type Daemon } from '../support/daemon.js'
import { getJson, startRpmsgEp, type EndpointsBody } from '../support/rpmsg-procs.js'
import { run, spawn } from '../support/children.js'
import { scaled } from '../support/time.js'

const DISSECTOR = new URL('../../proto/wireshark/soclink.lua', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'soclink-capture-'))
const file = join(dir, 'links.pcapng')
const children: ChildProcess[] = []
let ep: Daemon | undefined
const rc = await startDaemon('rc', ['--role', 'rc'])
t.teardown(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  await ep?.stop()
  await rc.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** Starts `soclink --api API ...args` in the background; its output lines as they come. */
function background (api: string, ...args: string[]): { proc: ChildProcess, out: string[], err: string[], exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [SOCLINK, '--api', api, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(proc)
  const out: string[] = []
  const err: string[] = []
  createInterface({ input: proc.stdout! }).on('line', (l) => { out.push(l) })
  createInterface({ input: proc.stderr! }).on('line', (l) => { err.push(l) })
  // 'close', not 'exit': by then the output still in the pipes is in out and err (the capture's summary line).
  return { proc, out, err, exited: new Promise((resolve) => proc.once('close', (code) => { resolve(code) })) }
}

const tshark = async (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> =>
  await run('tshark', ['-X', `lua_script:${DISSECTOR}`, '-r', file, ...args], scaled(60_000))

let packets = 0
let src = -1
let dst = -1

t.test('a capture while rpmsg messages, a doorbell and a window write flow; SIGINT ends it', async (t) => {
  // The capture starts first, so it sees the ep's link from its Hello.
  const capture = background(rc.api, 'capture', '-w', file)
  await until('soclink capture subscribed', () => capture.err.some((l) => l.startsWith('capturing')), 20_000, () => capture.err.join('\n'))
  ep = await startRpmsgEp(rc)

  // An echo announced by name on the ep (the name service), a message to it from the rc.
  const echo = background(ep.api, 'rpmsg', 'echo', '--announce', '--name', 'capture-echo', '--quiet')
  const sent = await cli(rc.api, 'rpmsg', 'send', '--channel', 'capture-echo', '--timeout', String(scaled(20_000)), 'hello-capture')
  t.equal(sent.code, 0, `rpmsg send: ${sent.stderr}`)
  const addrs = /from (\d+) to (\d+)/.exec(sent.stdout)
  t.ok(addrs !== null, `the sender says its addresses: ${sent.stdout}`)
  src = Number(addrs![1])
  dst = Number(addrs![2])
  // The echo's reply leaves the ep after the send returned: once the ep counts it sent (after its NS CREATE), the
  // window write below follows it on the same link, so the capture has it by the time that write is seen at the rc.
  await until('the echo\'s reply sent', async () => (await getJson<EndpointsBody>(ep!.api, '/v1/rpmsg/endpoints')).body.endpoints
    .some((e) => e.addr === dst && e.counters.sent >= 2) ? true : undefined, 20_000)

  // A doorbell the ep rings on the rc, and a window the ep writes through onto a region of the rc.
  t.equal((await cli(rc.api, 'doorbell', 'declare', 'capture-kick')).code, 0)
  t.equal((await cli(ep.api, 'ring', 'rc', 'capture-kick', '7')).code, 0)
  t.equal((await cli(rc.api, 'region', 'create', 'capture-mem', '4096')).code, 0)
  const opened = await cli(ep.api, '--json', 'window', 'open', 'rc', 'capture-mem', '4096')
  t.equal(opened.code, 0, `window open: ${opened.stdout} ${opened.stderr}`)
  const windowId = (JSON.parse(opened.stdout) as { id: number }).id
  t.equal((await cli(ep.api, 'window', 'write', String(windowId), '0x10', 'c0ffee')).code, 0)
  // The rc's link saw the write once the window's owner has applied it.
  await until('the window write at the rc', async () => {
    const r = await fetch(`${rc.api}/v1/regions/capture-mem/memory?offset=16&length=3`)
    return r.status === 200 && Buffer.from(await r.arrayBuffer()).toString('hex') === 'c0ffee' ? true : undefined
  }, 20_000)

  capture.proc.kill('SIGINT')
  t.equal(await within(capture.exited, 'soclink capture ends on SIGINT', 20_000), 0, `capture exits 0 on SIGINT: ${capture.err.join('\n')}`)
  echo.proc.kill('SIGINT')
  const summary = capture.out.join('\n')
  packets = Number(/^(\d+) packets of 1 peer links \(ep\) written to /.exec(summary)?.[1])
  t.ok(packets > 10, `the summary: ${summary}`)
})

t.test('capinfos and tshark read the file without complaint', async (t) => {
  // File type, encapsulation and packet count, tab-separated.
  const info = await run('capinfos', ['-t', '-E', '-c', '-T', '-r', file], scaled(30_000))
  t.equal(info.code, 0, info.stderr)
  t.equal(info.stdout.trim(), `${file}\tpcapng\tuser0\t${packets}`, `pcapng, LINKTYPE_USER0, ${packets} packets`)
  const plain = await run('tshark', ['-r', file], scaled(60_000))
  t.equal(plain.code, 0)
  t.notMatch(plain.stderr, /appears to be damaged|corrupt|error/i, plain.stderr)
})

t.test('tshark with the dissector: frame types, both ways', async (t) => {
  const r = await tshark('-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'frame.packet_flags_direction', '-e', 'soclink.peer', '-e', 'soclink.type')
  t.equal(r.code, 0, r.stderr)
  t.notMatch(r.stderr, /Lua: Error|Malformed/, r.stderr)
  const rows = r.stdout.trim().split('\n').map((l) => l.split('\t'))
  t.equal(rows.length, packets, 'one line per packet')
  t.ok(rows.every((row) => row[1] === 'ep'), 'every packet on the ep\'s link')
  const seen = new Set(rows.flatMap(([flags, , types]) => (types ?? '').split(',').map((ty) => `${flags === '0x00000001' ? 'in' : 'out'} ${ty}`)))
  for (const want of ['out challenge', 'in hello', 'out welcome', 'in subscribe', 'out subscribed', 'in write', 'out update', 'in doorbell', 'in link_event', 'out ordered']) {
    t.ok(seen.has(want), want)
  }
})

t.test('tshark with the dissector: the handshake, the doorbell, the name service and the message\'s rpmsg header', async (t) => {
  const r = await tshark('-V')
  t.equal(r.code, 0, r.stderr)
  t.notMatch(r.stdout, /Malformed/, 'nothing malformed')
  t.match(r.stdout, /hello \(11\): Hello\n\s+version \(1\): VERSION_1 \(1\)\n\s+role \(2\): ROLE_EP \(2\)\n\s+name \(3\): ep/, 'a Hello from the ep')
  t.match(r.stdout, /welcome \(12\): Welcome\n(\s+.*\n)*?\s+name \(3\): rc/, 'a Welcome from the rc')
  t.match(r.stdout, /target \(1\): capture-kick\n\s+value \(2\): 7/, 'the doorbell, its target and value')
  const cols = await tshark('-T', 'fields', '-e', '_ws.col.Source', '-e', '_ws.col.Destination', '-e', '_ws.col.Info')
  t.ok(cols.stdout.split('\n').includes('ep\trc\tDoorbell capture-kick=7'), 'its summary line: from ep to rc')
  t.match(r.stdout, /region_name \(2\): capture-mem/, 'the window\'s Subscribe names the region')
  t.match(r.stdout, /Name service announcement \(struct rpmsg_ns_msg\)\n\s+name: capture-echo\n\s+addr: \d+\n\s+flags: RPMSG_AS_ANNOUNCE/, 'the name service announcement of the echo channel')
  const fields = await tshark('-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'rpmsg.src', '-e', 'rpmsg.dst', '-e', 'rpmsg.len', '-e', 'rpmsg.text', '-Y', 'rpmsg.text')
  const messages = fields.stdout.trim().split('\n').map((l) => l.split('\t'))
  t.ok(messages.some(([s, d, len, text]) => s === String(src) && d === String(dst) && len === '13' && text === 'hello-capture'),
    `the message sent: rpmsg header src ${src}, dst ${dst}, len 13 (${fields.stdout.trim()})`)
  t.ok(messages.some(([s, d, len, text]) => s === String(dst) && d === String(src) && len === '13' && text === 'hello-capture'), 'and the echo\'s reply')
})

t.test('--count and --duration stop the capture by themselves; --peer keeps one link', async (t) => {
  // The link's heartbeat (Ping, Pong each way) keeps packets coming.
  const counted = join(dir, 'counted.pcapng')
  const c = await run(process.execPath, [SOCLINK, '--api', rc.api, '--json', 'capture', '--peer', 'ep', '--count', '3', '-w', counted], scaled(60_000))
  t.equal(c.code, 0, c.stderr)
  t.match(JSON.parse(c.stdout), { file: counted, packets: 3, peers: ['ep'], droppedByDaemon: 0, stoppedBy: 'count' })
  const info = await run('capinfos', ['-c', '-T', '-r', counted], scaled(30_000))
  t.equal(info.stdout.trim(), `${counted}\t3`, 'three packets in the file')

  const none = join(dir, 'none.pcapng')
  const d = await run(process.execPath, [SOCLINK, '--api', rc.api, '--json', 'capture', '--peer', 'nobody', '--duration', '0.5', '-w', none], scaled(60_000))
  t.equal(d.code, 0, d.stderr)
  t.match(JSON.parse(d.stdout), { packets: 0, peers: [], stoppedBy: 'duration' })
  const empty = await run('capinfos', ['-c', '-T', '-r', none], scaled(30_000))
  t.equal(empty.stdout.trim(), `${none}\t0`, 'a valid file with no packets: no other link\'s packets')
})
