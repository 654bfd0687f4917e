// Version 2 of the rpmsg gateway protocol (proto/rpmsg.proto, "Version 2:
// batches") between real daemons: rc and ep in one process, each with its
// API listening on loopback, as rpmsg-client.test.ts starts them. RpmsgClient
// speaks version 2; a raw WebSocket writes batches by hand where the test
// needs to say exactly what one batch holds; a version 1 application (no
// subprotocol, one protobuf message per WebSocket message) works beside it.

import t from 'tap'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import { buildApi } from '../../daemon/src/api/server.js'
import { rpmsgWire as wire } from '../../daemon/src/api/rpmsg-gateway.js'
import { BatchReader, BatchWriter, MAX_BATCH_BYTES, RecordKind, RPMSG_V2_PROTOCOL } from '../../proto/rpmsg-batch.js'
import { ApiError, RpmsgClient, type RpmsgEndpoint, type RpmsgMessage } from '../../client/src/index.js'
import { linkUrl, rpmsgReady, startNode } from '../support/nodes.js'
import { until, within } from '../support/daemon.js'
import { seqPayload } from '../support/rpmsg-payloads.js'

type ServerMessage = ReturnType<typeof wire.ServerMessage.decode>

/** Takes count messages from the endpoint's iterator. */
async function take (ept: RpmsgEndpoint, count: number): Promise<RpmsgMessage[]> {
  const got: RpmsgMessage[] = []
  if (count === 0) return got
  for await (const m of ept) {
    got.push(m)
    if (got.length >= count) break
  }
  return got
}

const inOrder = (got: RpmsgMessage[], dir: string, src: number, n: number): boolean =>
  got.length === n && got.every((m, i) => m.src === src && Buffer.from(m.payload).equals(seqPayload(dir, i)))

/** A raw WebSocket speaking version 2: what it writes is exactly one batch; what it reads, record by record. */
class RawV2 {
  readonly records: Array<{ kind: number, seq?: number, message?: ServerMessage, dst?: number, payload?: Buffer }> = []
  closeCode: number | null = null
  private readonly reader = new BatchReader('server')
  private constructor (readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.reader.reset(data)
      while (this.reader.next()) {
        const r = this.reader
        if (r.kind === RecordKind.SENT) this.records.push({ kind: r.kind, seq: r.seq })
        else if (r.kind === RecordKind.RECEIVED) this.records.push({ kind: r.kind, dst: r.dst, payload: Buffer.from(r.body()) })
        else this.records.push({ kind: r.kind, message: wire.ServerMessage.decode(r.body()) })
      }
    })
    ws.on('close', (code) => { this.closeCode = code })
  }

  static async open (base: string): Promise<RawV2> {
    const ws = new WebSocket(base.replace(/^http/, 'ws') + '/v1/rpmsg', [RPMSG_V2_PROTOCOL])
    await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve() }); ws.once('error', reject) })
    return new RawV2(ws)
  }

  /** One batch, as `fill` writes it. */
  batch (fill: (w: BatchWriter) => void): Buffer {
    const w = new BatchWriter()
    fill(w)
    const out: Buffer[] = []
    w.take((b) => { out.push(Buffer.from(b)) })
    if (out.length !== 1) throw new Error(`expected one batch, wrote ${out.length}`)
    return out[0]!
  }

  async createEndpoint (): Promise<number> {
    this.ws.send(this.batch((w) => { w.control('client', wire.ClientMessage.encode({ createEndpoint: { requestId: 7, addr: 0xffffffff } }).finish()) }))
    const m = await until('EndpointCreated', () => this.records.find((r) => r.message?.endpointCreated != null))
    return m.message!.endpointCreated!.addr!
  }
}

t.test('rpmsg gateway version 2 between an rc and an ep', async (t) => {
  const rc = await startNode('rc', ['--role', 'rc'])
  const ep = await startNode('ep', ['--role', 'ep', '--peer', linkUrl(rc)])
  const rcApi = await buildApi(rc)
  const epApi = await buildApi(ep)
  const closers: Array<() => Promise<void> | void> = []
  t.teardown(async () => {
    for (const c of closers) await c()
    await rcApi.close(); await epApi.close(); await ep.stop('test'); await rc.stop('test')
  })
  const rcBase = await rcApi.listen({ host: '127.0.0.1', port: 0 })
  const epBase = await epApi.listen({ host: '127.0.0.1', port: 0 })
  await rpmsgReady(rc, ep)

  const rcApp = await RpmsgClient.connect(rcBase)
  const epApp = await RpmsgClient.connect(epBase)
  closers.push(async () => { await rcApp.close(); await epApp.close() })
  const rcEpt = await rcApp.createEndpoint()
  const epEpt = await epApp.createEndpoint()

  await t.test('the handshake chose version 2', async (t) => {
    t.equal(rcApp.protocol, 2)
    t.equal(epApp.protocol, 2)
  })

  await t.test('post() and flush() one way, send() with many in flight the other: 10,000 messages each way, intact and in order', async (t) => {
    const N = 10_000
    const postAll = async (): Promise<void> => {
      for (let i = 0; i < N; i++) {
        rcEpt.post(epEpt.addr, seqPayload('up', i))
        // Now and then a turn for the socket, as an application doing other work would give it.
        if (i % 2000 === 1999) await rcEpt.flush()
      }
      await rcEpt.flush()
    }
    const sendAll = async (): Promise<void> => {
      // 256 send()s in flight: each answer lets the next one go.
      let inFlight = 0
      let failed: unknown = null
      let wake = (): void => {}
      const answered = (): void => { inFlight--; wake() }
      for (let i = 0; i < N && failed === null; i++) {
        inFlight++
        epEpt.send(rcEpt.addr, seqPayload('down', i)).then(answered, (err: unknown) => { failed ??= err; answered() })
        while (inFlight >= 256) await new Promise<void>((resolve) => { wake = resolve })
      }
      while (inFlight > 0) await new Promise<void>((resolve) => { wake = resolve })
      if (failed !== null) throw failed
    }
    const [, , up, down] = await within(Promise.all([postAll(), sendAll(), take(epEpt, N), take(rcEpt, N)]), '10,000 messages each way', 120_000)
    t.ok(inOrder(up, 'up', rcEpt.addr, N), 'rc -> ep by post(): none lost, duplicated or reordered')
    t.ok(inOrder(down, 'down', epEpt.addr, N), 'ep -> rc by send(): none lost, duplicated or reordered')
    t.equal(rcEpt.postFailures, 0, 'no posted message failed')
    rcEpt.post(epEpt.addr, Buffer.from('end'))
    await rcApp.flush()
    t.equal(Buffer.from((await within(take(epEpt, 1), 'end marker'))[0]!.payload).toString(), 'end', 'nothing more behind the last one')
  })

  await t.test('an error in the middle of a batch reaches exactly that send; the others go', async (t) => {
    const raw = await RawV2.open(rcBase)
    closers.push(() => { raw.ws.close() })
    const src = await raw.createEndpoint()
    const before = raw.records.length
    raw.ws.send(raw.batch((w) => {
      w.send(src, epEpt.addr, 1000, Buffer.from('first'))
      w.send(src, epEpt.addr, 1000, new Uint8Array(497))
      w.send(src, epEpt.addr, 1000, Buffer.from('third'))
    }))
    const got = await within(take(epEpt, 2), 'the two good messages')
    t.same(got.map((m) => Buffer.from(m.payload).toString()), ['first', 'third'], 'the first and third arrive, in order')
    await until('the SENT', () => raw.records.slice(before).some((r) => r.kind === RecordKind.SENT) ? true : undefined)
    const answers = raw.records.slice(before)
    t.same(answers.map((r) => r.kind === RecordKind.SENT ? ['sent', r.seq] : ['error', r.message?.error?.code, r.message?.error?.sendSeq]),
      [['error', 'ERR_RPMSG_SIZE', 2], ['sent', 3]], 'one Error naming send 2, then one SENT for all three')

    // Through the client: the same, for send() and for post().
    const first = rcEpt.send(epEpt.addr, Buffer.from('a'))
    const bad = rcEpt.send(epEpt.addr, new Uint8Array(497))
    const last = rcEpt.send(epEpt.addr, Buffer.from('b'))
    await t.resolves(first, 'the send before resolves')
    await t.rejects(bad, { code: 'ERR_RPMSG_SIZE' }, 'the oversized send rejects with its code')
    await t.resolves(last, 'the send after resolves')
    const errors: ApiError[] = []
    rcEpt.on('post-error', (err) => { errors.push(err) })
    rcEpt.post(epEpt.addr, Buffer.from('c'))
    rcEpt.post(epEpt.addr, new Uint8Array(497))
    rcEpt.post(epEpt.addr, Buffer.from('d'))
    await t.rejects(rcEpt.flush(), { code: 'ERR_RPMSG_SIZE' }, 'flush() rejects with the posted failure')
    t.same(errors.map((e) => e.code), ['ERR_RPMSG_SIZE'], 'emitted once, as post-error')
    t.equal(rcEpt.postFailures, 1, 'and counted')
    await t.resolves(rcEpt.flush(), 'the next flush() has nothing to report')
    const rest = await within(take(epEpt, 4), 'the good ones')
    t.same(rest.map((m) => Buffer.from(m.payload).toString()), ['a', 'b', 'c', 'd'], 'every good message arrives, in order')
  })

  await t.test('hostile batches: a clear code, the connection closed, nothing of the batch acted on, the daemon serving', async (t) => {
    const cases: Array<[string, (raw: RawV2, src: number) => Buffer, string, number]> = [
      ['truncated', (raw, src) => { const b = raw.batch((w) => { w.send(src, epEpt.addr, 0, Buffer.from('never')); w.send(src, epEpt.addr, 0, Buffer.from('x')) }); return b.subarray(0, b.length - 1) }, 'ERR_RPMSG_FORMAT', 1008],
      ['unknown version', (raw, src) => { const b = raw.batch((w) => { w.send(src, epEpt.addr, 0, Buffer.from('never')) }); b[0] = 9; return b }, 'ERR_RPMSG_VERSION', 1008],
      ['oversized', (raw, src) => { const b = Buffer.alloc(MAX_BATCH_BYTES + 1); raw.batch((w) => { w.send(src, epEpt.addr, 0, Buffer.from('never')) }).copy(b); return b }, 'ERR_RPMSG_BATCH_SIZE', 1009]
    ]
    for (const [what, make, code, closeCode] of cases) {
      const raw = await RawV2.open(rcBase)
      const src = await raw.createEndpoint()
      raw.ws.send(make(raw, src))
      await until(`${what}: closed`, () => raw.closeCode !== null ? true : undefined)
      const error = raw.records.find((r) => r.message?.error != null)?.message?.error
      t.equal(error?.code, code, `${what}: ${code}`)
      t.equal(raw.closeCode, closeCode, `${what}: closed with ${closeCode}`)
    }
    // The daemon still serves, and none of the bad batches' messages arrived.
    rcEpt.post(epEpt.addr, Buffer.from('after'))
    const next = await within(take(epEpt, 1), 'a message after the hostile batches')
    t.equal(Buffer.from(next[0]!.payload).toString(), 'after', 'the next message is ours: nothing from the bad batches')
  })

  await t.test('a client that offers only an unknown version is refused in the handshake', async (t) => {
    const ws = new WebSocket(rcBase.replace(/^http/, 'ws') + '/v1/rpmsg', ['soclink.rpmsg.v9'])
    const err = await new Promise<Error>((resolve) => { ws.once('error', resolve) })
    t.match(err.message, /subprotocol/, 'the daemon selects none; the client fails the handshake')
  })

  await t.test('a version 1 application works unchanged beside version 2', async (t) => {
    // A raw v1 client: no subprotocol, one protobuf message per WebSocket message.
    const ws = new WebSocket(epBase.replace(/^http/, 'ws') + '/v1/rpmsg')
    closers.push(() => { ws.close() })
    const inbox: ServerMessage[] = []
    ws.on('message', (data: Buffer) => { inbox.push(wire.ServerMessage.decode(data)) })
    await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve() }); ws.once('error', reject) })
    t.equal(ws.protocol, '', 'no subprotocol')
    // A WebSocket server that takes the first subprotocol offered (a daemon older than version 2) gets version 1 from RpmsgClient.
    const naive = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    closers.push(() => { naive.close() })
    await once(naive, 'listening')
    const oldDaemon = await RpmsgClient.connect(`http://127.0.0.1:${(naive.address() as AddressInfo).port}`)
    t.equal(oldDaemon.protocol, 1, 'the client offers version 1 first, so an older daemon speaks version 1 with it')
    await oldDaemon.close()
    ws.send(wire.ClientMessage.encode({ createEndpoint: { requestId: 1, addr: 0xffffffff } }).finish())
    const created = await until('EndpointCreated', () => inbox.find((m) => m.endpointCreated?.requestId === 1))
    const addr = created.endpointCreated!.addr!
    ws.send(wire.ClientMessage.encode({ send: { requestId: 2, src: addr, dst: rcEpt.addr, payload: Buffer.from('from v1'), timeoutMs: 1000 } }).finish())
    ws.send(wire.ClientMessage.encode({ send: { requestId: 3, src: addr, dst: rcEpt.addr, payload: new Uint8Array(497) } }).finish())
    await until('Sent 2', () => inbox.find((m) => m.sent?.requestId === 2))
    t.equal((await until('Error 3', () => inbox.find((m) => m.error?.requestId === 3))).error!.code, 'ERR_RPMSG_SIZE', 'Error by request_id')
    const got = await within(take(rcEpt, 1), 'the v1 message')
    t.same([got[0]!.src, Buffer.from(got[0]!.payload).toString()], [addr, 'from v1'], 'a v2 application receives it')
    await rcEpt.send(addr, Buffer.from('to v1'))
    const received = await until('Received', () => inbox.find((m) => m.received != null))
    t.equal(Buffer.from(received.received!.payload!).toString(), 'to v1', 'and its answer reaches the v1 application as a Received')

    // RpmsgClient asked for version 1 speaks it, post() and flush() included.
    const v1 = await RpmsgClient.connect(epBase, { protocol: 1 })
    closers.push(async () => { await v1.close() })
    t.equal(v1.protocol, 1)
    const e1 = await v1.createEndpoint()
    for (let i = 0; i < 300; i++) e1.post(rcEpt.addr, seqPayload('v1', i))
    e1.post(rcEpt.addr, new Uint8Array(497))
    await t.rejects(e1.flush(), { code: 'ERR_RPMSG_SIZE' }, 'the endpoint\'s flush() over version 1 reports the failure')
    t.equal(e1.postFailures, 1, 'counted on the endpoint')
    await t.rejects(v1.flush(), { code: 'ERR_RPMSG_SIZE' }, 'and the connection\'s flush()')
    const all = await within(take(rcEpt, 300), '300 messages over version 1')
    t.ok(inOrder(all, 'v1', e1.addr, 300), 'in order, intact')
  })
})
