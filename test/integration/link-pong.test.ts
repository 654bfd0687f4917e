// A peer that sends a Pong nobody asked for does not set the link's RTT;
// one answering the daemon's own Ping does.

import t from 'tap'
import WebSocket from 'ws'
import { startNode, linkUrl } from '../support/nodes.js'
import { until, within } from '../support/daemon.js'
import { decodePacket, encodePacket, wire } from '../../daemon/src/link/codec.js'
import { newIncarnation, newNonce, proof } from '../../daemon/src/link/handshake.js'

t.test('an unsolicited Pong sets no RTT; an answered Ping does', async (t) => {
  const a = await startNode('a', ['--secret', 'sesame'])
  t.teardown(async () => { await a.stop('test') })
  const rings: number[] = []
  a.doorbells.declare('kick', (_p, v) => { rings.push(v) })

  const ws = new WebSocket(linkUrl(a), { perMessageDeflate: false })
  t.teardown(() => { ws.terminate() })
  let answerPings = false
  const welcomed = new Promise<void>((resolve) => {
    const nonce = newNonce()
    const incarnation = newIncarnation()
    ws.on('message', (data: Buffer) => {
      const f = decodePacket(data).frame
      if (f.challenge != null) {
        ws.send(encodePacket({
          hello: {
            version: wire.Version.VERSION_1, role: wire.Role.ROLE_EP, name: 'raw', incarnation, nonce,
            proof: proof('sesame', 'hello', f.challenge.nonce!, nonce, 'raw', incarnation)
          }
        }))
      }
      if (f.welcome != null) resolve()
      for (const inner of f.batch?.frames ?? [f]) {
        if (inner.ping != null && answerPings) ws.send(encodePacket({ pong: { nonce: inner.ping.nonce } }))
      }
    })
  })
  await within(welcomed, 'welcomed')

  // A Pong whose nonce says "sent 7 s before the clock started", then a ring to know it was read.
  ws.send(encodePacket({ pong: { nonce: 1 } }))
  ws.send(encodePacket({ seq: 1, doorbell: { target: 'kick', value: 7 } }))
  await until('the ring after the Pong', () => rings.length === 1 ? true : undefined)
  t.equal(a.links.get('raw')?.rttMs, null, 'no RTT from a Pong that answers nothing')

  answerPings = true
  const rtt = await until('an RTT from an answered Ping', () => a.links.get('raw')?.rttMs ?? undefined)
  t.ok(rtt >= 0, `an RTT of ${rtt} ms`)
})
