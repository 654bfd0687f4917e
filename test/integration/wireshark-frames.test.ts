// The Wireshark dissector (proto/wireshark/soclink.lua) under tshark, on a
// pcapng file written with the client's writer (client/src/pcapng.ts) from
// packets the daemon's own codecs encode: every frame type of link.proto as
// a protobuf packet, a Batch with bulk, a compact packet with every record
// kind, rpmsg name service and address service messages inside writes, and
// packets cut by the snap length. Each must decode with no Lua error and no
// malformed packet, and name its frames (soclink.type) in order.

import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodePacket, wire, type Frame } from '../../daemon/src/link/codec.js'
import { encodeCompact, recordSize, type CompactItem } from '../../daemon/src/link/compact.js'
import { PcapngFile, Direction } from '../../client/src/pcapng.js'
import { run } from '../support/children.js'
import { scaled } from '../support/time.js'

const DISSECTOR = new URL('../../proto/wireshark/soclink.lua', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'soclink-dissector-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })

const bytes = (n: number, fill = 7): Buffer => Buffer.alloc(n, fill)

/** struct rpmsg_hdr and its payload (drivers/rpmsg/rpmsg_internal.h), little-endian. */
function rpmsgMessage (src: number, dst: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16)
  h.writeUInt32LE(src, 0)
  h.writeUInt32LE(dst, 4)
  h.writeUInt16LE(payload.length, 12)
  return Buffer.concat([h, payload])
}
const name32 = (s: string): Buffer => { const b = Buffer.alloc(32); b.write(s); return b }
const u32s = (...v: number[]): Buffer => { const b = Buffer.alloc(4 * v.length); v.forEach((x, i) => b.writeUInt32LE(x, 4 * i)); return b }
const ns = rpmsgMessage(1024, 53, Buffer.concat([name32('rpmsg-client-sample'), u32s(1024, 2)]))
const as = rpmsgMessage(1025, 54, Buffer.concat([name32('rpmsg-client-sample'), u32s(1025, 1024, 1)]))
const hello = rpmsgMessage(1025, 1024, Buffer.from('hello world!'))

const Code = wire.Goodbye.Code
// One packet per frame type, and what the dissector must call its frames.
const protobuf: Array<[Frame, Buffer[], string[]]> = [
  [{ challenge: { version: 1, nonce: bytes(32) } }, [], ['challenge']],
  [{ hello: { version: 1, role: wire.Role.ROLE_EP, name: 'ep', incarnation: bytes(16), nonce: bytes(32), proof: bytes(32), resume: { peerIncarnation: bytes(16), nextSeq: 5 }, features: 1 } }, [], ['hello']],
  [{ welcome: { version: 1, role: wire.Role.ROLE_RC, name: 'rc', incarnation: bytes(16), proof: bytes(32), resume: { peerIncarnation: bytes(16), nextSeq: 9 }, features: 1 } }, [], ['welcome']],
  [{ goodbye: { code: Code.CODE_PROTOCOL, reason: 'bad frame' } }, [], ['goodbye']],
  [{ ping: { nonce: 2 ** 40 } }, [], ['ping']],
  [{ pong: { nonce: 2 ** 40 } }, [], ['pong']],
  [{ seq: 1, ack: 3, subscribe: { window: 1, regionName: 'pcie.sysmem', regionId: 0, offset: 4096, size: 65536, replica: true } }, [], ['subscribe']],
  [{ seq: 2, subscribed: { window: 1, status: wire.Status.STATUS_OK, regionId: 4, regionName: 'pcie.sysmem', regionSize: 2 ** 32, message: '', registers: [{ offset: 0, length: 16 }] } }, [], ['subscribed']],
  [{ seq: 3, unsubscribe: { window: 1 } }, [], ['unsubscribe']],
  [{ seq: 4, write: { window: 1, offset: 0x1000, length: ns.length, wseq: 1 } }, [ns], ['write']],
  [{ seq: 5, write: { window: 1, wseq: 2, ranges: [{ offset: 0x2000, length: as.length }, { offset: 8, length: 2 }] } }, [Buffer.concat([as, bytes(2)])], ['write']],
  [{ seq: 6, update: { window: 2, offset: 0x3000, length: hello.length } }, [hello], ['update']],
  [{ seq: 7, ordered: { window: 1, wseq: 2 } }, [], ['ordered']],
  [{ seq: 8, read: { tag: 5, window: 1, offset: 64, length: 4 } }, [], ['read']],
  [{ seq: 9, readCompletion: { tag: 5, status: wire.Status.STATUS_OK, length: 4 } }, [bytes(4)], ['read_completion']],
  [{ seq: 10, errorReport: { request: wire.ErrorReport.Request.REQUEST_DOORBELL, status: wire.Status.STATUS_UNSUPPORTED_REQUEST, window: 0, wseq: 0, target: 'nope', message: 'no such target' } }, [], ['error_report']],
  [{ seq: 11, doorbell: { target: 'vq0', value: 7 } }, [], ['doorbell']],
  [{ seq: 12, linkEvent: { link: 'pcie', up: true, reason: '' } }, [], ['link_event']],
  [{ ack: 12 }, [], ['ack']],
  [{ batch: { frames: [{ seq: 13, write: { window: 1, offset: 0, length: hello.length, wseq: 3 } }, { seq: 14, doorbell: { target: 'vq1', value: 1 } }, { seq: 15, readCompletion: { tag: 6, status: 0, length: 2 } }] } }, [hello, bytes(2)], ['write', 'doorbell', 'read_completion', 'batch']]
]

function compactPacket (): Buffer {
  const items: CompactItem[] = [
    { frame: { seq: 20, write: { window: 1, wseq: 4, ranges: [{ offset: 0x100, length: ns.length }, { offset: 0x400, length: 3 }] } }, bulk: Buffer.concat([ns, bytes(3)]) },
    { frame: { seq: 21, update: { window: 2, ranges: [{ offset: 0x200, length: hello.length }] } }, bulk: hello },
    { frame: { seq: 22, ordered: { window: 1, wseq: 4 } }, bulk: undefined },
    { frame: { seq: 23, doorbell: { target: 'pcie.msi', value: 1 } }, bulk: undefined },
    { frame: { seq: 24, readCompletion: { tag: 9, status: 0, length: 5 } }, bulk: bytes(5) },
    { frame: { pong: { nonce: 3 } }, bulk: undefined }
  ]
  return encodeCompact(items, 0, items.length, items.map((i) => recordSize(i)), 19)
}

t.test('every frame type, protobuf and compact, decodes under tshark with the dissector', async (t) => {
  const file = new PcapngFile(65536, 'rc')
  const blocks = [file.header()]
  const expected: string[] = []
  let time = 1_764_775_000_000_000
  const add = (data: Buffer, kept = data.length): void => {
    blocks.push(...file.packet({ peer: 'ep', direction: time % 2 === 0 ? Direction.OUTBOUND : Direction.INBOUND, timeUs: time++, length: data.length, data: data.subarray(0, kept), dropsBefore: 0 }))
  }
  for (const [frame, bulk, types] of protobuf) { add(encodePacket(frame, bulk)); expected.push(types.join(',')) }
  add(compactPacket())
  expected.push('write,update,ordered,doorbell,read_completion,pong')
  const cut = encodePacket({ seq: 30, write: { window: 1, offset: 0, length: 1000, wseq: 5 } }, [bytes(1000)])
  add(cut, 40)
  expected.push('write')
  add(compactPacket(), 30)
  expected.push('')
  // Cut inside the doorbell record's target: the records before it still decode.
  add(compactPacket(), 110)
  expected.push('write,update,ordered')
  add(encodePacket(protobuf[1]![0]), 20)
  expected.push('')
  const path = join(dir, 'frames.pcapng')
  writeFileSync(path, Buffer.concat(blocks))

  const fields = await run('tshark', ['-X', `lua_script:${DISSECTOR}`, '-r', path, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'soclink.type'], scaled(60_000))
  t.equal(fields.code, 0, fields.stderr)
  t.same(fields.stdout.split('\n').slice(0, -1), expected, 'each packet\'s frames, named and in order')
  const cols = await run('tshark', ['-X', `lua_script:${DISSECTOR}`, '-r', path, '-c', '2', '-T', 'fields', '-e', '_ws.col.Source', '-e', '_ws.col.Destination', '-e', '_ws.col.Info'], scaled(60_000))
  t.same(cols.stdout.split('\n').slice(0, -1), ['rc\tep\tChallenge', 'ep\trc\tHello ep ROLE_EP'],
    'Source and Destination from the direction and the interface (the capturing daemon, rc, and the peer link, ep)')
  const v = await run('tshark', ['-X', `lua_script:${DISSECTOR}`, '-r', path, '-V'], scaled(60_000))
  t.equal(v.code, 0, v.stderr)
  t.notMatch(v.stderr, /Lua: Error/, 'no Lua error')
  t.equal(v.stdout.match(/Malformed/g), null, 'no packet malformed, the cut ones included')
  t.match(v.stdout, /Records cut short by the capture's snap length/, 'a cut compact packet says so')
  t.match(v.stdout, /Cut short by the capture's snap length \(/, 'so does a record cut in the middle')
  t.match(v.stdout, /Frame cut short by the capture's snap length/, 'and a cut protobuf frame')
  t.match(v.stdout, /Bulk: 1000 bytes \(\d+ captured\)/, 'a cut bulk says how much was captured')
  t.match(v.stdout, /hello \(11\): Hello[\s\S]*?resume \(7\): Resume\n\s+peer_incarnation \(1\): 0707[\s\S]*?next_seq \(2\): 5/, 'nested messages (Hello.resume)')
  t.match(v.stdout, /code \(1\): CODE_PROTOCOL \(3\)/, 'nested enums (Goodbye.Code)')
  t.match(v.stdout, /nonce \(1\): 1099511627776/, 'a u64 above 2^32')
  t.match(v.stdout, /Seq \(from first_seq\): 23\n/, 'compact records take their seqs from first_seq')

  const rp = await run('tshark', ['-X', `lua_script:${DISSECTOR}`, '-r', path, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,',
    '-e', 'rpmsg.src', '-e', 'rpmsg.dst', '-e', 'rpmsg.len', '-e', 'rpmsg.ns.name', '-e', 'rpmsg.ns.flags', '-e', 'rpmsg.as.dst', '-e', 'rpmsg.as.src', '-e', 'rpmsg.as.flags', '-e', 'rpmsg.text', '-Y', 'rpmsg'], scaled(60_000))
  t.equal(rp.code, 0, rp.stderr)
  t.same(rp.stdout.split('\n').slice(0, -1), [
    '1024\t53\t40\trpmsg-client-sample\t0x00000002\t\t\t\t',
    '1025\t54\t44\t\t\t1025\t1024\t0x00000001\t',
    '1025\t1024\t12\t\t\t\t\t\thello world!',
    '1025\t1024\t12\t\t\t\t\t\thello world!',
    '1024,1025\t53,1024\t40,12\trpmsg-client-sample\t0x00000002\t\t\t\thello world!'
  ], 'name service, address service and a plain message, by their headers; the range after the AS is not taken for one')
})
