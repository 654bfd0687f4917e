// The rpmsg commands' pure formatting (ping(8) statistics, payloads as text
// or hex, tables), and `rpmsg channels` / `rpmsg endpoints` and usage errors
// against a stub control API. Expected text written by hand; the ping
// figures follow iputils ping: mdev = sqrt(mean(t²) - mean(t)²).

import t from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { getEventListeners } from 'node:events'
import type { AddressInfo } from 'node:net'
import { CommanderError } from 'commander'
import { buildProgram } from '../../client/src/cli/program.js'
import {
  busesTable, channelsTable, endpointsTable, messageRecord, messageText, payloadText, pingHeader, pingPayload, pingReplyText,
  pingSummaryText, printableText, RttStats, rttSummary, words
} from '../../client/src/cli/rpmsg-views.js'
import { Inbox, Stop } from '../../client/src/cli/rpmsg-ping.js'
import type { RpmsgBusInfo, RpmsgChannelInfo, RpmsgEndpointInfo, RpmsgEndpointList } from '../../proto/api/index.js'

const text = (s: string): Uint8Array => Buffer.from(s, 'utf8')

t.test('rttSummary: min, avg, max, mdev and loss as ping(8) computes them', async (t) => {
  t.same(rttSummary(RttStats.of([1, 2, 3, 4]), 5), { sent: 5, received: 4, lossPercent: 20, rttMs: { min: 1, avg: 2.5, max: 4, mdev: Math.sqrt(1.25) } })
  t.same(rttSummary(RttStats.of([2, 2, 2]), 3), { sent: 3, received: 3, lossPercent: 0, rttMs: { min: 2, avg: 2, max: 2, mdev: 0 } }, 'equal times: mdev 0')
  t.equal(rttSummary(RttStats.of([5]), 3).lossPercent, 66.7, 'loss to one decimal')
  t.same(rttSummary(RttStats.of([]), 2), { sent: 2, received: 0, lossPercent: 100, rttMs: null }, 'no replies: no times')
  t.same(rttSummary(RttStats.of([]), 0), { sent: 0, received: 0, lossPercent: 0, rttMs: null }, 'nothing sent: no loss')
})

t.test('rttSummary over 300,000 samples: running sums give what the samples give, and nothing overflows the stack', async (t) => {
  const n = 300_000
  // Spread over 0.05..100 ms, in an order that is neither rising nor falling.
  const sample = (i: number): number => 0.05 + ((i * 7919) % 10_007) / 100
  const stats = new RttStats()
  for (let i = 0; i < n; i++) stats.add(sample(i))
  let min = Infinity
  let max = -Infinity
  let sum = 0
  for (let i = 0; i < n; i++) {
    const x = sample(i)
    min = Math.min(min, x)
    max = Math.max(max, x)
    sum += x
  }
  const avg = sum / n
  let squares = 0
  for (let i = 0; i < n; i++) squares += (sample(i) - avg) ** 2
  const mdev = Math.sqrt(squares / n)
  const s = rttSummary(stats, n + 10)
  t.match(s, { sent: n + 10, received: n, lossPercent: 0 })
  t.equal(s.rttMs?.min, min, 'min')
  t.equal(s.rttMs?.max, max, 'max')
  t.ok(Math.abs(s.rttMs!.avg - avg) < 1e-9 * avg, `avg ${s.rttMs?.avg} is ${avg}`)
  t.ok(Math.abs(s.rttMs!.mdev - mdev) < 1e-6 * mdev, `mdev ${s.rttMs?.mdev} is ${mdev} (the standard deviation, computed directly)`)
})

t.test('ping\'s waits leave nothing behind: no stop listener, no timer, one read for every unanswered wait', async (t) => {
  const stop = new Stop()
  const listeners = (): number => getEventListeners(stop.signal, 'abort').length
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  let reads = 0
  let deliver: (r: IteratorResult<number>) => void = () => {}
  const inbox = new Inbox<number>({ next: async () => { reads++; return await new Promise((resolve) => { deliver = resolve }) } })
  const timersBefore = timers()
  let outcomes = 0
  for (let i = 0; i < 1000; i++) {
    // As ping does: wait for the reply (none comes), then sleep until the next ping.
    if ('timeout' in await stop.race(inbox.arrived(), 0)) outcomes++
    if (await stop.sleep(0)) outcomes++
  }
  t.equal(outcomes, 2000, 'every wait timed out and every sleep ran to its end')
  t.equal(listeners(), 0, 'no abort listener left on the stop signal')
  t.equal(timers(), timersBefore, 'no timer left')
  t.equal(reads, 1, 'one read under way for all 1,000 unanswered waits')

  deliver({ value: 7, done: false })
  t.same(await stop.race(inbox.arrived(), 10_000), { value: undefined }, 'the message that comes ends the next wait')
  t.same(inbox.take(), { value: 7, done: false }, 'and is taken once')
  t.equal(inbox.take(), null)

  const waiting = stop.race(inbox.arrived(), 60_000)
  const sleeping = stop.sleep(60_000)
  t.equal(listeners(), 2, 'a wait and a sleep under way: one listener each')
  stop.stop()
  t.same(await waiting, { stopped: true }, 'a stop ends a wait')
  t.equal(await sleeping, false, 'and a sleep')
  t.equal(listeners(), 0, 'and their listeners go with them')
  t.same(await stop.race(new Promise(() => {}), 60_000), { stopped: true }, 'a wait after the stop ends at once')
  t.equal(timers(), timersBefore, 'no timer left')
})

t.test('ping lines and summary', async (t) => {
  t.equal(pingHeader(1024, 'echo', 1025, 56), 'PING rpmsg 1024 (channel echo) from 1025: 56 bytes of payload')
  t.equal(pingHeader(0x400, undefined, 1025, 1), 'PING rpmsg 1024 from 1025: 1 byte of payload')
  t.equal(pingReplyText(1024, 56, 3, 0.41234), '56 bytes from 1024: seq=3 time=0.412 ms')
  t.equal(pingSummaryText(1024, rttSummary(RttStats.of([1, 2, 3, 4]), 5), 4005.4),
    '--- rpmsg 1024 ping statistics ---\n' +
    '5 sent, 4 received, 20% loss, time 4005 ms\n' +
    'rtt min/avg/max/mdev = 1.000/2.500/4.000/1.118 ms')
  t.equal(pingSummaryText(7, rttSummary(RttStats.of([]), 2), 10),
    '--- rpmsg 7 ping statistics ---\n2 sent, 0 received, 100% loss, time 10 ms', 'no rtt line without replies')
})

t.test('ping payloads: the sequence number, then letters, cut to the size', async (t) => {
  t.equal(Buffer.from(pingPayload(12, 8)).toString(), '12 abcde')
  t.equal(Buffer.from(pingPayload(1, 30)).toString(), '1 abcdefghijklmnopqrstuvwxyzab', 'the letters wrap')
  t.equal(Buffer.from(pingPayload(12345, 4)).toString(), '1234', 'a short payload keeps the first digits')
  t.notSame(pingPayload(1, 56), pingPayload(2, 56), 'each ping differs')
})

t.test('payloads: text when printable UTF-8, else hex', async (t) => {
  t.equal(payloadText(text('hello')), '"hello"')
  t.equal(payloadText(text('wörld ✓')), '"wörld ✓"', 'UTF-8 beyond ASCII is text')
  t.equal(payloadText(text('a\tb\r\n')), '"a\\tb\\r\\n"', 'tab, CR and LF are text, shown escaped')
  t.equal(payloadText(new Uint8Array(0)), '""', 'an empty payload')
  t.equal(payloadText(Uint8Array.from([0xde, 0xad, 0xbe, 0xef])), 'hex deadbeef', 'not UTF-8')
  t.equal(payloadText(Uint8Array.from([0x61, 0x00])), 'hex 6100', 'NUL is a control character')
  t.equal(payloadText(Uint8Array.from([0x1b, 0x5b, 0x32, 0x4a])), 'hex 1b5b324a', 'so is ESC: no terminal escapes printed')
  t.equal(payloadText(text('\u007f')), 'hex 7f', 'DEL')
  t.equal(payloadText(text('\u0085')), 'hex c285', 'C1 controls')
  t.equal(printableText(text('ok')), 'ok')
  t.equal(printableText(Uint8Array.from([0xff])), null)
  const view = Buffer.from('xxhiyy').subarray(2, 4)
  t.equal(payloadText(Uint8Array.from([0, 1]).subarray(1)), 'hex 01', 'a view into a larger buffer: only its bytes')
  t.equal(payloadText(view), '"hi"')
})

t.test('a received message as a line and as a JSON record', async (t) => {
  t.equal(messageText(1024, text('hello')), 'from 1024 (5 bytes): "hello"')
  t.equal(messageText(1024, Uint8Array.from([0])), 'from 1024 (1 byte): hex 00')
  t.same(messageRecord('message', 1024, text('hi')), { type: 'message', src: 1024, length: 2, hex: '6869', text: 'hi' })
  t.same(messageRecord('echo', 1025, Uint8Array.from([0xde, 0xad, 0xbe, 0xef])), { type: 'echo', src: 1025, length: 4, hex: 'deadbeef' }, 'no text when not printable')
})

const channels: RpmsgChannelInfo[] = [
  { name: 'echo', src: 1024, dst: 1025, side: 'virtio', device: 'virtio0', driver: 'soclink_gateway' },
  { name: 'rpmsg-client-sample', src: 1026, dst: null, side: 'vhost', device: 'vhost0', driver: 'rpmsg_client_sample' },
  { name: 'idle', src: null, dst: 1027, side: 'virtio', device: 'virtio0', driver: null }
]
const endpoints: RpmsgEndpointInfo[] = [
  { addr: 53, side: 'virtio', device: 'virtio0', channel: null, service: 'ns', owner: 'bus', connection: null, client: null, counters: { sent: 0, received: 2, dropped: 0 } },
  {
    addr: 1025, side: 'virtio', device: 'virtio0', channel: null, service: null, owner: 'gateway', connection: 3, client: '127.0.0.1:50312',
    counters: { sent: 5, received: 7, dropped: 1 }
  }
]
const list: RpmsgEndpointList = { endpoints, buses: [{ side: 'virtio', device: 'virtio0', counters: { sent: 3, received: 4, serviceErrors: 0 } as RpmsgBusInfo['counters'] }] }

t.test('tables', async (t) => {
  t.equal(channelsTable(channels),
    'NAME                 SRC   DST   SIDE    DEVICE   DRIVER\n' +
    'echo                 1024  1025  virtio  virtio0  soclink_gateway\n' +
    'rpmsg-client-sample  1026  -     vhost   vhost0   rpmsg_client_sample\n' +
    'idle                 -     1027  virtio  virtio0  -', 'an unbound channel shows dst (vhost side) or src and driver (virtio side) as -')
  t.equal(channelsTable([]), 'no channels')
  t.equal(endpointsTable(endpoints),
    'ADDR  SIDE    DEVICE   CHANNEL  SERVICE  OWNER    CONNECTION  CLIENT           SENT  RECEIVED  DROPPED\n' +
    '  53  virtio  virtio0  -        ns       bus      -           -                   0         2        0\n' +
    '1025  virtio  virtio0  -        -        gateway  3           127.0.0.1:50312     5         7        1', 'counters flattened into columns')
  const future = [{ addr: 1024, side: 'vhost', device: 'vhost0', channel: 'echo', service: null, queue: { depth: 4 }, note: 'x' }] as unknown as RpmsgEndpointInfo[]
  t.equal(endpointsTable(future),
    'ADDR  SIDE   DEVICE  CHANNEL  SERVICE  DEPTH  NOTE\n' +
    '1024  vhost  vhost0  echo     -            4  x', 'fields this client does not know are columns too, nested ones flattened')
  t.equal(busesTable(list.buses),
    'DEVICE   SIDE    SENT  RECEIVED  SERVICE ERRORS\n' +
    'virtio0  virtio     3         4               0')
  t.equal(words('noBuffer'), 'no buffer')
  t.equal(words('sent'), 'sent')
})

interface Seen { method: string, url: string }
const seen: Seen[] = []
let channelsReply: [number, unknown] = [200, { channels }]

async function answer (req: IncomingMessage, res: ServerResponse): Promise<void> {
  req.resume()
  await new Promise((resolve) => req.once('end', resolve))
  seen.push({ method: req.method!, url: req.url! })
  const replies: Record<string, [number, unknown]> = { 'GET /v1/rpmsg/channels': channelsReply, 'GET /v1/rpmsg/endpoints': [200, list] }
  const [status, body] = replies[`${req.method!} ${req.url!}`] ?? [404, { error: { code: 'ERR_ROUTE_NOT_FOUND', message: 'no route' } }]
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

const server = createServer((req, res) => { void answer(req, res) })
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
t.teardown(() => { server.close() })
const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

async function soclink (...args: string[]): Promise<string> {
  seen.length = 0
  const lines: string[] = []
  await buildProgram({ out: (line) => { lines.push(line) } }).parseAsync(['--api', api, ...args], { from: 'user' })
  return lines.join('\n')
}

t.test('rpmsg channels and endpoints against the API', async (t) => {
  t.equal(await soclink('rpmsg', 'channels'), channelsTable(channels))
  t.same(seen, [{ method: 'GET', url: '/v1/rpmsg/channels' }])
  t.same(JSON.parse(await soclink('--json', 'rpmsg', 'channels')), channels, '--json prints the channels')
  t.equal(await soclink('rpmsg', 'endpoints'), `${endpointsTable(endpoints)}\n\n${busesTable(list.buses)}`, 'endpoints, then the bus counters')
  t.same(JSON.parse(await soclink('--json', 'rpmsg', 'endpoints')), list, '--json prints the reply')
  channelsReply = [404, { error: { code: 'ERR_NOT_FOUND', message: 'no rpmsg bus on "rc"' } }]
  await t.rejects(soclink('rpmsg', 'channels'), { name: 'ApiError', code: 'ERR_NOT_FOUND', message: 'no rpmsg bus on "rc"' }, 'no bus: the API\'s error')
})

t.test('usage errors connect to nothing', async (t) => {
  const write = process.stderr.write
  process.stderr.write = () => true
  try {
    await t.rejects(soclink('rpmsg', 'send', 'hi'), CommanderError, 'send needs --dst or --channel')
    await t.rejects(soclink('rpmsg', 'send', '--dst', '1024', '--channel', 'echo', 'hi'), CommanderError, 'not both')
    await t.rejects(soclink('rpmsg', 'send', '--dst', '1024'), CommanderError, 'DATA is required')
    await t.rejects(soclink('rpmsg', 'send', '--dst', '0x100000000', 'hi'), CommanderError, 'an address has 32 bits')
    await t.rejects(soclink('rpmsg', 'send', '--dst', '1024', '--hex', 'abc'), CommanderError, 'hex with an odd number of digits')
    await t.rejects(soclink('rpmsg', 'ping'), CommanderError, 'ping needs --dst or --channel')
    await t.rejects(soclink('rpmsg', 'ping', '--dst', '1024', '--size', '3'), CommanderError, 'a ping holds at least 4 bytes')
    await t.rejects(soclink('rpmsg', 'ping', '--dst', '1024', '--count', '0'), CommanderError, 'at least one ping')
    await t.rejects(soclink('rpmsg', 'listen', '--announce'), CommanderError, 'announcing needs a name')
    await t.rejects(soclink('rpmsg', 'echo', '--announce'), CommanderError, 'so does echo')
  } finally {
    process.stderr.write = write
  }
  t.same(seen, [], 'no request was sent')
})
