// The capture tap (link/capture.ts) and one reader's stream
// (api/capture-stream.ts): the tap is null with no reader; packets of a
// connection not yet named wait for its name and keep their times; a reader
// that is behind never holds up the packets' sender: past its queue's bound
// packets are dropped and counted, the next record says how many, a text
// message gives the totals, and nothing is sent while the socket is above
// its high-water mark.

import t from 'tap'
import { LinkCapture, type TappedPacket } from '../../daemon/src/link/capture.js'
import { CaptureStream, type CaptureSocket } from '../../daemon/src/api/capture-stream.js'
import { CaptureDirection, decodeCaptureRecords, encodeCaptureRecord, type CaptureRecord } from '../../proto/capture-record.js'

t.test('the tap is on only while a reader is', async (t) => {
  const c = new LinkCapture()
  t.equal(c.tap, null)
  const stop1 = c.subscribe({ peer: null, snaplen: 100 }, () => {})
  const stop2 = c.subscribe({ peer: 'x', snaplen: 100 }, () => {})
  t.not(c.tap, null)
  stop1()
  t.not(c.tap, null, 'one reader left')
  stop2()
  t.equal(c.tap, null, 'none left')
})

t.test('an unnamed connection\'s packets wait for its name; filters and snap lengths apply per reader', async (t) => {
  const c = new LinkCapture()
  const all: TappedPacket[] = []
  const onlyB: TappedPacket[] = []
  const onlyZ: TappedPacket[] = []
  c.subscribe({ peer: null, snaplen: 8 }, (p) => all.push(p))
  c.subscribe({ peer: 'b', snaplen: 4 }, (p) => onlyB.push(p))
  c.subscribe({ peer: 'z', snaplen: 100 }, (p) => onlyZ.push(p))
  const sock = {}
  const packet = Buffer.from('0123456789')
  c.tap!(sock, CaptureDirection.OUT, packet)
  c.tap!(sock, CaptureDirection.IN, Buffer.from('hello'))
  t.equal(all.length, 0, 'held until the connection is named')
  c.named(sock, 'b')
  c.tap!(sock, CaptureDirection.OUT, Buffer.from('after'))
  t.same(all.map((p) => [p.peer, p.direction, Buffer.from(p.data).toString(), p.length]),
    [['b', 2, '01234567', 10], ['b', 1, 'hello', 5], ['b', 2, 'after', 5]])
  t.same(onlyB.map((p) => Buffer.from(p.data).toString()), ['0123', 'hell', 'afte'], 'its own snap length')
  t.equal(onlyZ.length, 0, 'another peer\'s reader sees none')
  t.ok(all[0]!.timeUs <= all[2]!.timeUs, 'held packets keep the time they crossed')
  packet.fill(0)
  t.equal(Buffer.from(all[0]!.data).toString(), '01234567', 'the tap keeps a copy, not the socket\'s buffer')
})

class SlowSocket implements CaptureSocket {
  open = true
  bufferedAmount = 0
  readonly sent: Array<Buffer | string> = []
  send (data: Buffer | string): void { this.sent.push(data) }
}

const packet = (i: number, size = 100): TappedPacket => ({ peer: 'b', direction: CaptureDirection.IN, timeUs: 1_700_000_000_000_000 + i, length: size, data: Buffer.alloc(size, i) })
const turn = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

t.test('a slow reader: bounded queue, drops counted and reported, the sender never waits', async (t) => {
  const sock = new SlowSocket()
  const limits = { maxQueuedBytes: 1000, highWaterBytes: 500, messageBytes: 300, retryMs: 1 }
  const s = new CaptureStream(sock, limits)
  sock.bufferedAmount = 10_000
  for (let i = 0; i < 20; i++) s.offer(packet(i))
  t.equal(s.captured, 8, '8 records of 125 bytes fit in 1000')
  t.equal(s.dropped, 12)
  await turn()
  t.same(sock.sent.filter((m) => typeof m !== 'string'), [], 'nothing sent above the high-water mark')
  t.same(sock.sent.map((m) => typeof m === 'string' ? JSON.parse(m) as unknown : null), [{ captured: 8, dropped: 12 }], 'the totals reported')
  const binary = (): number => sock.sent.filter((m) => typeof m !== 'string').length
  sock.bufferedAmount = 0
  await until(() => binary() === 4)
  s.offer(packet(99))
  await until(() => binary() === 5)
  const records: CaptureRecord[] = sock.sent.flatMap((m) => typeof m === 'string' ? [] : decodeCaptureRecords(m))
  t.same(records.map((r) => r.data[0]), [0, 1, 2, 3, 4, 5, 6, 7, 99], 'queued records, then the next, in order')
  t.same(records.map((r) => r.dropsBefore), [0, 0, 0, 0, 0, 0, 0, 0, 12], 'the record after the gap says how many were dropped')
  t.ok(sock.sent.filter((m) => typeof m !== 'string').every((m) => m.length <= 300), 'messages bounded')
  s.close()
  s.offer(packet(100))
  await turn()
  t.equal(s.captured, 9, 'closed: nothing more')
})

async function until (check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 1))
}

t.test('records round-trip, and a malformed message is refused', async (t) => {
  const r: CaptureRecord = { peer: 'épée', direction: CaptureDirection.OUT, timeUs: 2 ** 52 + 12345, length: 9000, data: Buffer.from([1, 2, 3]), dropsBefore: 4 }
  const bytes = Buffer.concat([encodeCaptureRecord(r), encodeCaptureRecord({ ...r, direction: CaptureDirection.IN })])
  const back = decodeCaptureRecords(bytes)
  t.same(back.map((x) => ({ ...x, data: [...x.data] })), [{ ...r, data: [1, 2, 3] }, { ...r, direction: 1, data: [1, 2, 3] }])
  t.equal(bytes.readUInt32LE(0), 24 + Buffer.byteLength('épée') + 3, 'the length counts the header, name and bytes')
  t.throws(() => decodeCaptureRecords(bytes.subarray(0, 30)), { name: 'CaptureFormatError', message: /less than a record header|says \d+ bytes/ })
  const bad = Buffer.from(bytes)
  bad[4] = 3
  t.throws(() => decodeCaptureRecords(bad), { name: 'CaptureFormatError', message: /direction 3/ })
})
