// Pre-authentication limits against a real daemon, with raw TCP clients
// (issue 12, item 5): headers trickled and never finished are closed at the
// handshake timeout (slowloris); past maxPendingLinks unauthenticated
// connections a new one is closed at once; a big first frame, or a ping
// before the Hello, is cut off from its header. The daemon's real peer stays
// linked, in the same session, throughout.

import t from 'tap'
import { connect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import { startDaemon, until } from '../support/daemon.js'
import { getJson } from '../support/rpmsg-procs.js'

const MAX_PENDING = 4
const s = await startDaemon('s', ['--max-pending-links', String(MAX_PENDING), '--max-pre-auth-bytes', '4K'])
const real = await startDaemon('real', ['--peer', s.link])
t.teardown(async () => { await real.stop('SIGKILL'); await s.stop('SIGKILL') })
const port = Number(new URL(s.link).port)

interface PeerRow { name: string, state: string, incarnation: string, counters: { sessions: number, connects: number } }
const realAtS = async (): Promise<PeerRow | undefined> => (await getJson<{ peers: PeerRow[] }>(s.api, '/v1/peers')).body.peers.find((p) => p.name === 'real')
const before = await until('real linked to s', async () => { const p = await realAtS(); return p?.state === 'up' ? p : undefined })

interface Raw { sock: Socket, closed: Promise<void>, isClosed: () => boolean, received: Buffer[] }

/** A TCP connection to s, from `from` (another loopback address is another remote for s's rate-limited log). */
async function tcp (from = '127.0.0.1'): Promise<Raw> {
  const sock = connect({ port, host: '127.0.0.1', localAddress: from })
  let done = false
  const closed = new Promise<void>((resolve) => { sock.once('close', () => { done = true; resolve() }) })
  sock.on('error', () => {})
  await Promise.race([new Promise<void>((resolve) => { sock.once('connect', () => { resolve() }) }), closed])
  return { sock, closed, isClosed: () => done, received: [] }
}

/** The opcodes of the frames a server sent (unmasked, RFC 6455 §5.2). */
function opcodes (bytes: Buffer): number[] {
  const out: number[] = []
  let at = 0
  while (at + 2 <= bytes.length) {
    const len7 = bytes[at + 1]! & 0x7f
    const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0
    const length = len7 === 126 ? bytes.readUInt16BE(at + 2) : len7 === 127 ? Number(bytes.readBigUInt64BE(at + 2)) : len7
    out.push(bytes[at]! & 0x0f)
    at += 2 + ext + length
  }
  return out
}

/** A TCP connection upgraded to a WebSocket on /v1/link by hand; it reads what comes (the Challenge) and answers nothing. */
async function upgraded (from?: string): Promise<Raw> {
  const raw = await tcp(from)
  raw.sock.write(`GET /v1/link HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
  await new Promise<void>((resolve) => {
    let head = ''
    const onData = (d: Buffer): void => {
      head += d.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      raw.sock.off('data', onData)
      raw.received.push(Buffer.from(head.slice(end + 4), 'latin1'))
      raw.sock.on('data', (more: Buffer) => { raw.received.push(more) })
      resolve()
    }
    raw.sock.on('data', onData)
  })
  return raw
}

/** A masked client frame header (RFC 6455 §5.2), the key all zero. */
function header (opcode: number, length: number): Buffer {
  const h = Buffer.alloc(14)
  h[0] = 0x80 | opcode
  h[1] = 0x80 | 127
  h.writeBigUInt64BE(BigInt(length), 2)
  return h
}

const logged = async (what: RegExp): Promise<string> => await until(`s logs ${String(what)}`, () => s.logs.find((l) => what.test(l)))

t.test('headers trickled and never finished: closed at the handshake timeout', async (t) => {
  const raw = await tcp()
  raw.sock.write('GET /v1/link HTTP/1.1\r\nHost: x\r\n')
  let lines = 0
  const trickle = setInterval(() => { if (!raw.isClosed()) raw.sock.write(`X-Slow-${lines++}: y\r\n`) }, 200)
  t.teardown(() => { clearInterval(trickle) })
  await until('the trickling connection closed by s', () => raw.isClosed(), 30_000)
  clearInterval(trickle)
  t.ok(lines > 0, `closed while still sending headers (${lines} sent)`)
  await logged(/refused a link connection from 127\.0\.0\.1:\d+: no WebSocket upgrade within the handshake timeout/)
})

t.test(`past maxPendingLinks (${MAX_PENDING}) unauthenticated connections, a new one is closed at once`, async (t) => {
  const held: Raw[] = []
  t.teardown(() => { for (const r of held) r.sock.destroy() })
  for (let i = 0; i < MAX_PENDING; i++) held.push(await tcp())
  const extra = await tcp()
  await until('the extra connection closed', () => extra.isClosed())
  t.ok(held.every((r) => !r.isClosed()), 'while the ones before it are still open')
  await logged(/maxPendingLinks/)
  for (const r of held) r.sock.destroy()
  // Room again: a new connection gets its Challenge.
  await until('a new connection is served again', async () => {
    const ws = new WebSocket(s.link)
    ws.on('error', () => {})
    const got = await new Promise<boolean>((resolve) => { ws.once('message', () => { resolve(true) }); ws.once('close', () => { resolve(false) }) })
    ws.terminate()
    return got
  })
})

t.test('a big first frame is cut off from its header', async (t) => {
  const raw = await upgraded()
  // More than loopback's socket buffers hold, so the cut shows before the frame is whole.
  const total = 32 * 1024 * 1024
  raw.sock.write(header(0x2, total))
  let sent = 0
  const chunk = Buffer.alloc(16 * 1024)
  while (sent < total && !raw.isClosed()) {
    const more = raw.sock.write(chunk)
    sent += chunk.length
    if (!more) await Promise.race([new Promise((resolve) => raw.sock.once('drain', resolve)), raw.closed])
  }
  await raw.closed
  t.ok(sent < total, `closed after ${sent} of the frame's ${total} bytes`)
  await logged(/a frame of 33554432 bytes before authenticating: at most 4096/)
})

t.test('a ping before the Hello is cut off, unanswered: one frame only', async (t) => {
  const raw = await upgraded('127.0.0.2')
  raw.sock.write(Buffer.concat([header(0x9, 4), Buffer.alloc(4)]))
  await raw.closed
  t.same(opcodes(Buffer.concat(raw.received)), [0x2], 'the Challenge came, and no Pong')
  await logged(/from 127\.0\.0\.2:\d+: a control frame \(opcode 9\) before authenticating/)
})

t.test('the real peer stayed linked throughout, in the same session', async (t) => {
  const after = await realAtS()
  t.match(after, { state: 'up', incarnation: before.incarnation, counters: { sessions: before.counters.sessions, connects: before.counters.connects } })
})
