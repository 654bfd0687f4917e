// Before a link connection has authenticated, the acceptor holds little and
// not for long: past maxPreAuthBytes it is cut off, whatever frame is on
// its way (maxPayload, 64 MiB, applies only once the link is up); at the
// handshake timeout it is closed even if it never answers the close
// handshake. Raw TCP clients against a real daemon in process; a real peer
// still links.

import t from 'tap'
import { connect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { linkUrl, startNode } from '../support/nodes.js'
import { until } from '../support/daemon.js'

const acceptor = await startNode('acceptor', ['--role', 'ntb', '--max-pre-auth-bytes', '64K', '--handshake-timeout-ms', '300'])
t.teardown(async () => { await acceptor.stop('test') })

/** A TCP connection upgraded to a WebSocket on /v1/link by hand; it reads what comes and never answers. */
async function rawLink (): Promise<{ sock: Socket, closed: Promise<void> }> {
  const sock = connect(acceptor.listenAddress!.port, '127.0.0.1')
  const closed = new Promise<void>((resolve) => { sock.once('close', () => { resolve() }) })
  sock.on('error', () => {})
  await new Promise<void>((resolve) => { sock.once('connect', () => { resolve() }) })
  sock.write(`GET /v1/link HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
  await new Promise<void>((resolve) => {
    let head = ''
    const onData = (d: Buffer): void => { head += d.toString('latin1'); if (head.includes('\r\n\r\n')) { sock.off('data', onData); sock.on('data', () => {}); resolve() } }
    sock.on('data', onData)
  })
  return { sock, closed }
}

/** The header of a masked binary frame of `length` bytes (RFC 6455 §5.2), the key all zero. */
function frameHeader (length: number): Buffer {
  const h = Buffer.alloc(14)
  h[0] = 0x82
  h[1] = 0x80 | 127
  h.writeBigUInt64BE(BigInt(length), 2)
  return h
}

t.test('a large frame before the handshake is cut off once it passes maxPreAuthBytes, not buffered whole', async (t) => {
  const { sock, closed } = await rawLink()
  const total = 8 * 1024 * 1024
  let done = false
  closed.then(() => { done = true }, () => {})
  sock.write(frameHeader(total))
  const chunk = Buffer.alloc(16 * 1024)
  let sent = 0
  while (sent < total && !done) {
    const more = sock.write(chunk)
    sent += chunk.length
    if (!more) await Promise.race([new Promise((resolve) => sock.once('drain', resolve)), closed])
  }
  await closed
  t.ok(sent < total, `closed after ${sent} of the frame's ${total} bytes, before it was whole`)
})

t.test('at the handshake timeout a silent connection is closed, even if it never answers the close', async (t) => {
  const { closed } = await rawLink()
  // ws gives a close handshake 30 s; the acceptor terminates 1 s after its Goodbye.
  await until('the acceptor closed the connection', async () => await Promise.race([closed.then(() => true), new Promise<false>((resolve) => setTimeout(() => { resolve(false) }, 100))]), 15_000)
  t.pass('closed')
})

t.test('a real peer still links', async (t) => {
  const dialer = await startNode('dialer', ['--role', 'ntb', '--peer', linkUrl(acceptor)])
  t.teardown(async () => { await dialer.stop('test') })
  await until('linked', () => acceptor.links.get('dialer')?.state === 'up')
  t.pass('up')
})
