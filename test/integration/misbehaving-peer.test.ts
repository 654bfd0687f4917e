// A peer that breaks the protocol is cut off with a reason; a peer without
// the secret is refused with a reason that says so; the daemon keeps
// serving its other peers.

import t from 'tap'
import WebSocket from 'ws'
import { startNode, linkUrl } from '../support/nodes.js'
import { until } from '../support/daemon.js'
import { decodePacket, encodePacket, wire, type Frame } from '../../daemon/src/link/codec.js'
import { newIncarnation, newNonce, proof } from '../../daemon/src/link/handshake.js'

interface Closed { code: number, reason: string, frames: Frame[] }

/** A hand-driven peer: optionally completes the handshake with `secret`, then sends `after`. */
async function rawPeer (url: string, secret: string | null, after: Array<Buffer | string>): Promise<Closed> {
  const ws = new WebSocket(url, { perMessageDeflate: false })
  const frames: Frame[] = []
  return await new Promise((resolve) => {
    const nonce = newNonce()
    const incarnation = newIncarnation()
    ws.on('message', (data: Buffer) => {
      const f = decodePacket(data).frame
      frames.push(f)
      if (f.challenge != null) {
        if (secret === null) { for (const m of after) ws.send(m); return }
        ws.send(encodePacket({
          hello: {
            version: wire.Version.VERSION_1, role: wire.Role.ROLE_EP, name: 'intruder', incarnation, nonce,
            proof: proof(secret, 'hello', f.challenge.nonce!, nonce, 'intruder', incarnation)
          }
        }))
      }
      if (f.welcome != null) for (const m of after) ws.send(m)
    })
    ws.on('close', (code, reason) => { resolve({ code, reason: reason.toString(), frames }) })
  })
}

t.test('misbehaving peers are cut off; the others keep working', async (t) => {
  const a = await startNode('a', ['--secret', 'sesame'])
  const b = await startNode('b', ['--secret', 'sesame', '--peer', linkUrl(a)])
  t.teardown(async () => { await b.stop('test'); await a.stop('test') })
  const region = a.regions.create('mem', 4096)
  const rings: number[] = []
  a.doorbells.declare('kick', (_p, v) => { rings.push(v) })
  await until('b up', () => b.links.get('a')?.state === 'up' ? true : undefined)

  const wrong = await rawPeer(linkUrl(a), 'not-the-secret', [])
  t.equal(wrong.code, 4000 + wire.Goodbye.Code.CODE_AUTH, 'wrong secret: closed with the auth code')
  t.match(wrong.reason, /authentication failed/)
  t.ok(wrong.frames.some((f) => f.goodbye?.code === wire.Goodbye.Code.CODE_AUTH), 'and a Goodbye saying why')

  const early = await rawPeer(linkUrl(a), null, [Buffer.from([1, 2, 3, 4, 5, 6, 7, 8])])
  t.equal(early.code, 4000 + wire.Goodbye.Code.CODE_PROTOCOL, 'garbage instead of Hello: protocol error')

  const garbage = await rawPeer(linkUrl(a), 'sesame', [Buffer.alloc(64, 0xff)])
  t.equal(garbage.code, 4000 + wire.Goodbye.Code.CODE_PROTOCOL, 'garbage after the handshake: cut off')
  t.ok(garbage.frames.some((f) => f.welcome != null), 'it had been admitted first')
  t.equal(a.links.get('intruder')?.state, 'down')
  t.equal(a.links.get('intruder')?.counters.protocolErrors, 1)

  const gap = await rawPeer(linkUrl(a), 'sesame', [encodePacket({ seq: 7, doorbell: { target: 'kick', value: 1 } })])
  t.equal(gap.code, 4000 + wire.Goodbye.Code.CODE_PROTOCOL, 'a sequence gap: cut off')
  const text = await rawPeer(linkUrl(a), 'sesame', ['hello'])
  t.equal(text.code, 4000 + wire.Goodbye.Code.CODE_PROTOCOL, 'a text message: cut off')
  t.equal(rings.length, 0, 'nothing from the intruder was delivered')

  // b was never disturbed.
  t.equal(b.links.get('a')?.state, 'up')
  const w = b.openWindow({ peer: 'a', region: 'mem', offset: 0, size: 4096, replica: true })
  await b.requester.opened(w)
  w.write32(16, 0xcafe)
  b.ring('a', 'kick', 9)
  await until('b\'s doorbell', () => rings.length === 1 ? true : undefined)
  t.equal(region.read32(16), 0xcafe, 'b\'s write landed')
  t.same(rings, [9])
})
