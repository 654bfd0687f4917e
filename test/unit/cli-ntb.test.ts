// `soclink ntb`: argument parsing of the ntb_tool verbs, the pure
// formatting (board, host, doorbells, scratchpads, windows, ntb_perf's
// table), and each verb against a stub control API: the request it sends
// and what it prints, --json, and usage errors that send nothing.
// Expected text written by hand.

import t from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { CommanderError } from 'commander'
import { buildProgram } from '../../client/src/cli/program.js'
import { parseDbArgs, parseLinkArgs, parseMwArgs, parseSpadArgs } from '../../client/src/cli/ntb.js'
import {
  boardText, doorbellsText, hex32, hostText, linkText, ownerRanges, perfTable, span, spadList, spadsTable, windowsText
} from '../../client/src/cli/ntb-views.js'
import type { NtbBoard, NtbDeviceState as NtbHostDevice, NtbDoorbells, NtbHost, NtbPerfResult, NtbSpads, NtbTransportState as NtbHostTransport, NtbWindow, NtbWindows } from '../../proto/api/index.js'

t.test('arguments', async (t) => {
  t.same(parseLinkArgs([]), { kind: 'show' })
  t.same(parseLinkArgs(['up']), { kind: 'set', up: true })
  t.same(parseLinkArgs(['down']), { kind: 'set', up: false })
  t.throws(() => parseLinkArgs(['sideways']), /link takes up or down/)

  t.same(parseMwArgs([]), { kind: 'show' })
  t.same(parseMwArgs(['2', '0x900000', '64K']), { kind: 'set', widx: 2, addr: 0x90_0000, size: 0x1_0000 }, 'ADDR in hex, SIZE with a suffix')
  t.same(parseMwArgs(['1', '8388608', '0x1000']), { kind: 'set', widx: 1, addr: 8 << 20, size: 4096 })
  t.same(parseMwArgs(['clear', '2']), { kind: 'clear', widx: 2 })
  t.throws(() => parseMwArgs(['clear']), /mw clear takes one window index/)
  t.throws(() => parseMwArgs(['1', '0x1000']), /mw takes WIDX ADDR SIZE, or clear WIDX/)
  t.throws(() => parseMwArgs(['1', 'x', '4K']), /address "x" is not a decimal or 0x hex integer/)
  t.throws(() => parseMwArgs(['1', '0', '0']), /size must be at least 1 byte/)

  t.same(parseDbArgs([]), { kind: 'show' })
  t.same(parseDbArgs(['mask', '0x100']), { kind: 'write', op: 'mask', bits: 0x100 })
  t.same(parseDbArgs(['unmask', '256']), { kind: 'write', op: 'unmask', bits: 0x100 })
  t.same(parseDbArgs(['clear', '0xffffffff']), { kind: 'write', op: 'clear', bits: 0xffff_ffff })
  t.same(parseDbArgs(['peer', '0x200']), { kind: 'peer', bits: 0x200 })
  t.throws(() => parseDbArgs(['ring', '1']), /db "ring": not one of clear, mask, unmask, peer/)
  t.throws(() => parseDbArgs(['set', '1']), /db set: ntb_hw_epf has no db_set; ring the bits from the other host/, 'no set: ntb_hw_epf has no db_set')
  t.throws(() => parseDbArgs(['peer']), /db takes clear\|mask\|unmask\|peer and one BITS mask/)
  t.throws(() => parseDbArgs(['peer', '1', '2']), /one BITS mask/)
  t.throws(() => parseDbArgs(['clear', '0x100000000']), /doorbell bits 0x100000000 is above 0xffffffff/)

  t.same(parseSpadArgs([]), { kind: 'show' })
  t.same(parseSpadArgs(['40', '0xdeadbeef']), { kind: 'write', peer: false, idx: 40, value: 0xdead_beef })
  t.same(parseSpadArgs(['peer', '41', '7']), { kind: 'write', peer: true, idx: 41, value: 7 })
  t.throws(() => parseSpadArgs(['40']), /spad takes IDX VALUE, or peer IDX VALUE/)
  t.throws(() => parseSpadArgs(['peer', '41']), /spad takes peer IDX VALUE/)
  t.throws(() => parseSpadArgs(['1', '-1']), /scratchpad value "-1"/)
})

const db: NtbDoorbells = {
  bits: 0x100,
  mask: 0x100,
  validMask: 0x7fff_ffff,
  vectorCount: 31,
  owned: [
    ...Array.from({ length: 8 }, (_, bit) => ({ bit, owner: 'the ntb-virtio transport (queue notifications: vq k rings bit k)' })),
    { bit: 28, owner: 'ntb_perf (answers)' }, { bit: 29, owner: 'ntb_perf (requests)' }, { bit: 30, owner: 'the ntb-virtio transport (CONFIG_DB)' }
  ]
}
const spads: NtbSpads = {
  count: 4,
  spads: [2, 0, 0, 0xdeadbeef],
  peerSpads: [1, 0xffffffff, 7, 0],
  owned: [{ from: 0, to: 2, owner: 'the ntb-vhost transport (ntb_virtio.h scratchpads)' }]
}
const mw0: NtbWindow = { widx: 0, addrAlign: 4096, sizeAlign: 1, sizeMax: 4 << 20, translation: { addr: 0x10_0000, size: 4 << 20 }, owner: 'the ntb-virtio transport (MW0: rings and buffers)' }
const mw2: NtbWindow = { widx: 2, addrAlign: 4096, sizeAlign: 1, sizeMax: 4 << 20, translation: null, owner: null }
const windows: NtbWindows = { count: 2, windows: [mw0, mw2], peerWindows: [{ widx: 0, base: 0x4040_0000, size: 4 << 20 }, { widx: 2, base: 0x40c0_0000, size: 4 << 20 }] }
const perf: NtbPerfResult = { bytes: 4 << 20, chunk: 64 << 10, seconds: 0.05234, mbps: 80.1357, pings: 100, rtt: { min: 180.24, avg: 250.06, p99: 1200.5 } }

const host: NtbHost = {
  role: 'ntb-virtio',
  side: 'virtio',
  board: 'board',
  memorySize: 16 << 20,
  lastError: '',
  retrying: false,
  device: {
    name: 'ntb_hw_epf:board',
    peer: 'board',
    ready: true,
    link: true,
    vectors: 32,
    dbCount: 31,
    dbValidMask: 0x7fff_ffff,
    dbBits: 0,
    dbMask: 0x100,
    mwCount: 2,
    mwAlign: { addrAlign: 4096, sizeAlign: 1 },
    translations: [{ widx: 0, addr: 0x10_0000, size: 4 << 20 }, { widx: 1, addr: 0x50_0000, size: 4 << 20 }],
    peerMws: [{ widx: 0, bar: 2, base: 0x4040_0000, size: 4 << 20 }, { widx: 1, bar: 3, base: 0x4080_0000, size: 4 << 20 }],
    spadCount: 4,
    spads: [2, 0, 0, 0],
    peerSpads: [1, 0xffffffff, 0, 0],
    counters: { msis: 3 } as NtbHostDevice['counters']
  },
  transport: {
    transport: 'ntb-virtio',
    state: 'up',
    peerType: 'vhost',
    lastError: '',
    virtioAddr: 0x10_0000,
    mwSize: 4 << 20,
    device: { name: 'virtio0', deviceId: 7, vendorId: 0xffffffff, status: 15, statusBits: ['ACKNOWLEDGE', 'DRIVER', 'DRIVER_OK', 'FEATURES_OK'], features: '0x1', driver: 'virtio_rpmsg_bus' },
    queues: [{ index: 0, name: 'input', size: 256, ready: true }, { index: 1, name: 'output', size: 256, ready: true }] as NtbHostTransport['queues'],
    counters: { sessions: 1 }
  }
}

const iface = (side: 'primary' | 'secondary', h: string, peer: string, tr: NtbBoard['pairs'][0]['interfaces'][0]['memoryWindows'][0]['translation']): NtbBoard['pairs'][0]['interfaces'][0] => ({
  side, host: h, peer, controller: `ntb0.${h}`, started: true, linkup: true, linkStatus: true, doorbells: { configured: true, count: 32 }, msi: [1],
  memoryWindows: [{ idx: 0, bar: 2, offset: 4 << 20, size: 4 << 20, translation: tr }, { idx: 1, bar: 3, offset: 0, size: 4 << 20, translation: null }],
  spads: [], peerSpadBacked: true, lastError: '', counters: {} as NtbBoard['pairs'][0]['interfaces'][0]['counters']
})
const board: NtbBoard = {
  role: 'ntb',
  autoPairing: true,
  config: { numMws: 2, mwSizes: [4 << 20, 4 << 20], dbCount: 32, spadCount: 64 },
  pairs: [{
    name: 'ntb0',
    a: 'host1',
    b: 'host2',
    configured: false,
    layout: { spadOffset: 256, mw1Offset: 4 << 20, dbEntrySize: 4, spadSize: 256, configBar: 512, peerSpadBar: 256, mwBars: [8 << 20, 4 << 20] },
    interfaces: [iface('primary', 'host1', 'host2', { addr: 0x10_0000, size: 4 << 20, state: 'mapped', attached: true }), iface('secondary', 'host2', 'host1', null)]
  }],
  unpaired: []
}

t.test('views', async (t) => {
  t.equal(hex32(0x100), '0x00000100')
  t.equal(span({ addr: 0x50_0000, size: 4 << 20 }), '0x500000+4M')
  t.equal(span(null), null)
  t.equal(spadList([0, 2, 0, 0x400000]), '1=0x2 3=0x400000')
  t.equal(spadList([0, 0]), 'all 0')
  t.same(ownerRanges([{ bit: 3, owner: 'a' }, { bit: 1, owner: 'a' }, { bit: 2, owner: 'a' }, { bit: 5, owner: 'a' }, { bit: 6, owner: 'b' }]),
    [{ from: 1, to: 3, owner: 'a' }, { from: 5, to: 5, owner: 'a' }, { from: 6, to: 6, owner: 'b' }], 'consecutive bits of one owner')
  t.equal(doorbellsText(db),
    'valid 0x7fffffff (31 bits, 31 vectors)\n' +
    'rung  0x00000100\n' +
    'mask  0x00000100\n' +
    'BITS  OWNER\n' +
    '0-7   the ntb-virtio transport (queue notifications: vq k rings bit k)\n' +
    '28    ntb_perf (answers)\n' +
    '29    ntb_perf (requests)\n' +
    '30    the ntb-virtio transport (CONFIG_DB)')
  t.equal(doorbellsText({ ...db, owned: [] }), 'valid 0x7fffffff (31 bits, 31 vectors)\nrung  0x00000100\nmask  0x00000100', 'nothing owned: no table')
  t.equal(spadsTable(spads),
    'IDX  OWN         PEER        OWNER\n' +
    '  0  0x00000002  0x00000001  the ntb-vhost transport (ntb_virtio.h scratchpads)\n' +
    '  1  0x00000000  0xffffffff  the ntb-vhost transport (ntb_virtio.h scratchpads)\n' +
    '  2  0x00000000  0x00000007  the ntb-vhost transport (ntb_virtio.h scratchpads)\n' +
    '  3  0xdeadbeef  0x00000000  -')
  t.equal(windowsText(windows),
    'MW  TRANSLATION  ADDR ALIGN  SIZE MAX  OWNER\n' +
    ' 0  0x100000+4M  0x1000      4M        the ntb-virtio transport (MW0: rings and buffers)\n' +
    ' 2  -            0x1000      4M        -\n' +
    '\n' +
    'PEER MW  BASE        SIZE\n' +
    '      0  0x40400000  4M\n' +
    '      2  0x40c00000  4M')
  t.equal(perfTable(perf),
    'SIZE  CHUNK  TIME S  MB/S  PINGS  RTT MIN US  RTT AVG US  RTT P99 US\n' +
    '4M    64K    0.052   80.1    100  180.2       250.1       1200.5', 'like ntb_perf: size, chunk, time, MB/s; then the doorbell round trips')
  t.equal(linkText({ enabled: true, link: false }), 'link enabled; link is down (until the other host enables it)')
  t.equal(linkText({ enabled: false, link: false }), 'link disabled; link is down')
  t.equal(hostText(host),
    'ntb-virtio on board board, system memory 16M\n' +
    'device ntb_hw_epf:board: ready, link up, 32 vectors\n' +
    'doorbells: valid 0x7fffffff, rung 0x00000000, masked 0x00000100\n' +
    'transport ntb-virtio: up, peer vhost, device virtio0 0xf ACKNOWLEDGE DRIVER DRIVER_OK FEATURES_OK, driver virtio_rpmsg_bus, 2 queue(s)\n' +
    'scratchpads (4): own 0=0x2; peer 0=0x1 1=0xffffffff\n' +
    'MW  TRANSLATION (INBOUND)  PEER BASE   PEER SIZE\n' +
    ' 0  0x100000+4M            0x40400000  4M\n' +
    ' 1  0x500000+4M            0x40800000  4M')
  t.equal(hostText({ ...host, board: null, device: null, transport: null, lastError: 'init failed' }),
    'ntb-virtio on board -, system memory 16M; last error: init failed\nno NTB device (the board\'s function is not enumerated)')
  t.equal(boardText(board),
    'NTB board: 2 memory window(s) of 4M/4M, 32 vectors, 64 scratchpads per host; hosts paired in link order\n' +
    'PAIR  SIDE       HOST   PEER   STARTED  LINK  DOORBELLS  TRANSLATIONS (INTO THE PEER)  LAST ERROR\n' +
    'ntb0  primary    host1  host2  yes      up           32  0:0x100000+4M 1:-             -\n' +
    'ntb0  secondary  host2  host1  yes      up           32  0:- 1:-                       -')
  t.equal(boardText({ ...board, autoPairing: false, pairs: [], unpaired: ['h9'] }),
    'NTB board: 2 memory window(s) of 4M/4M, 32 vectors, 64 scratchpads per host; pairs configured\nunpaired: h9\nno pairs')
})

interface Seen { method: string, url: string, body: unknown }
const seen: Seen[] = []
const replies: Record<string, [number, unknown]> = {
  'GET /v1/ntb': [200, host],
  'POST /v1/ntb/link': [200, { enabled: true, link: true }],
  'GET /v1/ntb/db': [200, db],
  'POST /v1/ntb/db': [200, { ...db, mask: 0x300 }],
  'POST /v1/ntb/peer-db': [200, { rang: 0x200 }],
  'GET /v1/ntb/spad': [200, spads],
  'PUT /v1/ntb/spad/40': [200, { idx: 40, value: 0xdeadbeef }],
  'PUT /v1/ntb/peer-spad/41': [200, { idx: 41, value: 7 }],
  'PUT /v1/ntb/spad/3': [409, { error: { code: 'ERR_BUSY', message: 'spad_write: scratchpad 3 belongs to the ntb-virtio transport (ntb_virtio.h scratchpads)' } }],
  'GET /v1/ntb/mw': [200, windows],
  'PUT /v1/ntb/mw/2': [200, { ...mw2, translation: { addr: 0x90_0000, size: 0x1_0000 } }],
  'DELETE /v1/ntb/mw/2': [200, mw2],
  'DELETE /v1/ntb/mw/1?force=true': [200, { ...mw2, widx: 1, owner: 'ntb_perf (its buffer)' }],
  'POST /v1/ntb/perf': [200, perf]
}

async function answer (req: IncomingMessage, res: ServerResponse): Promise<void> {
  let text = ''
  for await (const chunk of req) text += String(chunk)
  seen.push({ method: req.method!, url: req.url!, body: text === '' ? undefined : JSON.parse(text) })
  const [status, body] = replies[`${req.method!} ${req.url!}`] ?? [404, { error: { code: 'ERR_ROUTE_NOT_FOUND', message: 'no route' } }]
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

const server = createServer((req, res) => { void answer(req, res) })
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
t.teardown(() => { server.close() })
const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

/** Runs `soclink --api <stub> ...args`; resolves with what it printed and the requests it sent. */
async function soclink (...args: string[]): Promise<{ out: string, requests: Seen[] }> {
  seen.length = 0
  const lines: string[] = []
  await buildProgram({ out: (text) => { lines.push(text) } }).parseAsync(['--api', api, ...args], { from: 'user' })
  return { out: lines.join('\n'), requests: [...seen] }
}

const req = (method: string, url: string, body?: unknown): Seen => ({ method, url, body })

t.test('soclink ntb and ntb link', async (t) => {
  t.same(await soclink('ntb'), { out: hostText(host), requests: [req('GET', '/v1/ntb')] }, 'a host\'s summary')
  t.same(JSON.parse((await soclink('--json', 'ntb')).out), host, '--json: the reply')
  replies['GET /v1/ntb'] = [200, board]
  t.equal((await soclink('ntb')).out, boardText(board), 'on a board: the pairs')
  replies['GET /v1/ntb'] = [200, host]
  t.same(await soclink('ntb', 'link'), { out: 'link is up', requests: [req('GET', '/v1/ntb')] })
  t.same(await soclink('ntb', 'link', 'up'), { out: 'link enabled; link is up', requests: [req('POST', '/v1/ntb/link', { up: true })] })
  t.same((await soclink('ntb', 'link', 'down', '--force')).requests, [req('POST', '/v1/ntb/link', { up: false, force: true })], '--force')
})

t.test('soclink ntb db', async (t) => {
  t.same(await soclink('ntb', 'db'), { out: doorbellsText(db), requests: [req('GET', '/v1/ntb/db')] })
  const masked = await soclink('ntb', 'db', 'mask', '0x200')
  t.same(masked.requests, [req('POST', '/v1/ntb/db', { mask: 0x200 })])
  t.match(masked.out, /^valid 0x7fffffff .*\nrung {2}0x00000100\nmask {2}0x00000300\n/, 'the registers after the write')
  t.same((await soclink('ntb', 'db', 'clear', '1', '--force')).requests, [req('POST', '/v1/ntb/db', { clear: 1, force: true })])
  t.same(await soclink('ntb', 'db', 'peer', '0x200'), { out: 'rang 0x00000200 on the peer', requests: [req('POST', '/v1/ntb/peer-db', { bits: 0x200 })] })
  t.same(JSON.parse((await soclink('--json', 'ntb', 'db', 'peer', '512')).out), { rang: 0x200 })
})

t.test('soclink ntb spad', async (t) => {
  t.same(await soclink('ntb', 'spad'), { out: spadsTable(spads), requests: [req('GET', '/v1/ntb/spad')] })
  t.same(await soclink('ntb', 'spad', '40', '0xdeadbeef'), { out: 'scratchpad 40 = 0xdeadbeef', requests: [req('PUT', '/v1/ntb/spad/40', { value: 0xdeadbeef })] })
  t.same(await soclink('ntb', 'spad', 'peer', '41', '7'), { out: 'peer scratchpad 41 = 0x00000007', requests: [req('PUT', '/v1/ntb/peer-spad/41', { value: 7 })] })
  await t.rejects(soclink('ntb', 'spad', '3', '1'), { name: 'ApiError', code: 'ERR_BUSY', status: 409, message: /belongs to the ntb-virtio transport/ }, 'the daemon\'s refusal reaches the caller')
})

t.test('soclink ntb mw', async (t) => {
  t.same(await soclink('ntb', 'mw'), { out: windowsText(windows), requests: [req('GET', '/v1/ntb/mw')] })
  const set = await soclink('ntb', 'mw', '2', '0x900000', '64K')
  t.same(set.requests, [req('PUT', '/v1/ntb/mw/2', { addr: 0x90_0000, size: 0x1_0000 })])
  t.equal(set.out, 'MW  TRANSLATION   ADDR ALIGN  SIZE MAX  OWNER\n 2  0x900000+64K  0x1000      4M        -')
  t.same((await soclink('ntb', 'mw', 'clear', '2')).requests, [req('DELETE', '/v1/ntb/mw/2')])
  t.same((await soclink('ntb', 'mw', 'clear', '1', '--force')).requests, [req('DELETE', '/v1/ntb/mw/1?force=true')], '--force as ?force=true')
})

t.test('soclink ntb perf', async (t) => {
  t.same(await soclink('ntb', 'perf'), { out: perfTable(perf), requests: [req('POST', '/v1/ntb/perf', {})] }, 'the daemon\'s defaults')
  t.same((await soclink('ntb', 'perf', '--size', '4M', '--chunk', '0x4000', '--pings', '100')).requests,
    [req('POST', '/v1/ntb/perf', { bytes: 4 << 20, chunk: 0x4000, pings: 100 })], 'sizes with suffixes or in hex')
  t.same(JSON.parse((await soclink('--json', 'ntb', 'perf', '--size', '1M')).out), perf, '--json: the result')
})

t.test('usage errors send nothing', async (t) => {
  const write = process.stderr.write
  process.stderr.write = () => true
  try {
    await t.rejects(soclink('ntb', 'link', 'sideways'), CommanderError)
    await t.rejects(soclink('ntb', 'mw', '1', '0x1000'), CommanderError, 'mw without a size')
    await t.rejects(soclink('ntb', 'mw', 'clear'), CommanderError)
    await t.rejects(soclink('ntb', 'db', 'ring', '1'), CommanderError)
    await t.rejects(soclink('ntb', 'db', 'peer', '0x1ffffffff'), CommanderError, 'bits above 32')
    await t.rejects(soclink('ntb', 'spad', '1'), CommanderError)
    await t.rejects(soclink('ntb', 'perf', '--size', 'lots'), CommanderError)
    await t.rejects(soclink('ntb', 'perf', '--pings', '0'), CommanderError)
  } finally {
    process.stderr.write = write
  }
  t.same(seen, [], 'no request was sent')
})
