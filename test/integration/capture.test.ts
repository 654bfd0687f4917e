// Frame capture (GET /v1/capture) against real in-process daemons: a reader
// that subscribes before b dials a sees the link from its first packet
// (Challenge out, Hello in, Welcome out), named by the peer, and a doorbell
// b rings afterwards, each with its direction; on the dialing side, the
// handshake the other way round; a reader of another peer's
// packets sees none of them; a plain GET is 426; the tap is off again once
// every reader has gone.

import t from 'tap'
import WebSocket from 'ws'
import { buildApi } from '../../daemon/src/api/server.js'
import { bodyName, decodePacket } from '../../daemon/src/link/codec.js'
import { decodeCompact, isCompact } from '../../daemon/src/link/compact.js'
import { CaptureDirection, decodeCaptureRecords, type CaptureRecord } from '../../proto/capture-record.js'
import type { TappedPacket } from '../../daemon/src/link/capture.js'
import { linkUrl, startNode } from '../support/nodes.js'
import { until, within } from '../support/daemon.js'
import { scaled } from '../support/time.js'

const quiet = ['--dead-after-ms', String(scaled(60_000))]
const a = await startNode('a', ['--role', 'ntb', ...quiet])
const api = await buildApi(a)
const base = (await api.listen({ host: '127.0.0.1', port: 0 })).replace(/^http/, 'ws')
t.teardown(async () => { await api.close(); await a.stop('test') })

interface Reader { records: CaptureRecord[], texts: string[], ws: WebSocket }

async function reader (query: string): Promise<Reader> {
  const ws = new WebSocket(`${base}/v1/capture${query}`)
  const r: Reader = { records: [], texts: [], ws }
  ws.on('message', (data: Buffer, isBinary) => {
    if (isBinary) r.records.push(...decodeCaptureRecords(data))
    else r.texts.push(data.toString())
  })
  await within(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) }), 'capture upgrade')
  return r
}

/** The names of the frames in a captured packet (a Batch's inside it, a compact packet's records). */
function bodies (data: Uint8Array): string[] {
  const frame = isCompact(data) ? decodeCompact(data).frame : decodePacket(data).frame
  return (frame.batch != null ? (frame.batch.frames ?? []) : [frame]).map((f) => bodyName(f))
}

t.test('a reader sees a link from its handshake on, both ways, by peer name', async (t) => {
  t.equal(a.links.capture.tap, null, 'no reader: the tap is off')
  const all = await reader('')
  const other = await reader('?peer=nobody')
  t.not(a.links.capture.tap, null, 'a reader turns the tap on')
  const b = await startNode('b', ['--role', 'ntb', '--peer', linkUrl(a), ...quiet])
  t.teardown(async () => { await b.stop('test') })
  await until('b linked to a', () => b.links.get('a')?.state === 'up')
  const apiB = await buildApi(b)
  t.teardown(async () => { await apiB.close() })
  t.equal((await api.inject({ method: 'POST', url: '/v1/doorbells', payload: { name: 'kick' } })).statusCode, 201)
  t.equal((await apiB.inject({ method: 'POST', url: '/v1/peers/a/doorbells/kick', payload: { value: 7 } })).statusCode, 202)

  const seen = (): string[] => all.records.flatMap((r) => bodies(r.data).map((n) => `${r.direction === CaptureDirection.IN ? 'in' : 'out'} ${n}`))
  await until('the doorbell captured', () => seen().includes('in doorbell'))
  t.same(seen().slice(0, 3), ['out challenge', 'in hello', 'out welcome'], 'the handshake first, in order')
  t.ok(all.records.every((r) => r.peer === 'b'), 'every packet named by its peer link')
  t.ok(all.records.every((r) => r.length === r.data.length && r.timeUs > Date.parse('2020-01-01') * 1000), 'whole packets, with times')
  t.ok(all.records.every((r, i) => i === 0 || r.timeUs >= all.records[i - 1]!.timeUs), 'in time order')
  t.same(all.texts, [], 'nothing dropped, nothing to report')
  t.equal(other.records.length, 0, 'a reader of another peer sees none of it')

  all.ws.close()
  other.ws.close()
  await until('the tap off once the readers left', () => a.links.capture.tap === null)
})

t.test('the dialing side: its Hello out and the Welcome in, named once the Welcome names the peer', async (t) => {
  const d = await startNode('d', ['--role', 'ntb', ...quiet])
  t.teardown(async () => { await d.stop('test') })
  const got: TappedPacket[] = []
  const stop = d.links.capture.subscribe({ peer: 'a', snaplen: 65536 }, (p) => { got.push(p) })
  const link = d.links.dial(linkUrl(a))
  await until('d linked to a', () => link.state === 'up')
  const names = got.flatMap((p) => bodies(p.data).map((n) => `${p.direction === CaptureDirection.IN ? 'in' : 'out'} ${n}`))
  t.same(names.slice(0, 3), ['in challenge', 'out hello', 'in welcome'])
  t.ok(got.every((p) => p.peer === 'a'))
  stop()
})

t.test('snaplen cuts packets and keeps their length', async (t) => {
  const cut = await reader('?snaplen=64&peer=c')
  const c = await startNode('c', ['--role', 'ntb', '--peer', linkUrl(a), ...quiet])
  t.teardown(async () => { await c.stop('test') })
  const hello = await until('c\'s Hello captured', () => cut.records.find((r) => r.direction === CaptureDirection.IN))
  t.ok(hello.length > 64, `the Hello is ${hello.length} bytes on the wire`)
  t.equal(hello.data.length, 64, 'and 64 of them are kept')
  t.ok(cut.records.every((r) => r.peer === 'c'))
  cut.ws.close()
})

t.test('a plain GET is 426; a bad snaplen is 400', async (t) => {
  t.equal((await api.inject({ url: '/v1/capture' })).statusCode, 426)
  t.equal((await api.inject({ url: '/v1/capture?snaplen=10' })).statusCode, 400)
  t.equal((await api.inject({ url: '/v1/capture?other=1' })).statusCode, 400)
})
