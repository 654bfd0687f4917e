// The peer table forgets: peers that dialed in and are down for good are
// remembered (last error and all) only up to MAX_DOWN_PEERS, the oldest
// forgotten first; a peer that is up, and a peer this daemon dials, stay.

import t from 'tap'
import WebSocket from 'ws'
import { startNode, linkUrl } from '../support/nodes.js'
import { until, within } from '../support/daemon.js'
import { decodePacket, encodePacket, wire } from '../../daemon/src/link/codec.js'
import { newIncarnation, newNonce, proof } from '../../daemon/src/link/handshake.js'
import { MAX_DOWN_PEERS } from '../../daemon/src/link/link-table.js'

/** A peer named `name` that completes the handshake, says Goodbye and goes. */
async function visit (url: string, name: string): Promise<void> {
  const ws = new WebSocket(url, { perMessageDeflate: false })
  const nonce = newNonce()
  const incarnation = newIncarnation()
  await within(new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer) => {
      const f = decodePacket(data).frame
      if (f.challenge != null) {
        ws.send(encodePacket({
          hello: {
            version: wire.Version.VERSION_1, role: wire.Role.ROLE_EP, name, incarnation, nonce,
            proof: proof('sesame', 'hello', f.challenge.nonce!, nonce, name, incarnation)
          }
        }))
      }
      if (f.welcome != null) ws.send(encodePacket({ goodbye: { code: wire.Goodbye.Code.CODE_NORMAL, reason: 'just visiting' } }))
    })
    ws.on('close', () => { resolve() })
  }), `${name} visits`)
}

t.test('down peers that dialed in are forgotten past MAX_DOWN_PEERS, oldest first', async (t) => {
  const a = await startNode('a', ['--secret', 'sesame'])
  const stay = await startNode('stay', ['--secret', 'sesame', '--peer', linkUrl(a)])
  t.teardown(async () => { await stay.stop('test'); await a.stop('test') })
  await until('stay linked to a', () => a.links.get('stay')?.state === 'up' ? true : undefined)

  const extra = 5
  for (let i = 0; i < MAX_DOWN_PEERS + extra; i++) {
    await visit(linkUrl(a), `visitor-${i}`)
    await until(`visitor-${i} down`, () => a.links.get(`visitor-${i}`)?.state !== 'up' ? true : undefined)
  }
  await until('the last visitor down', () => a.links.get(`visitor-${MAX_DOWN_PEERS + extra - 1}`)?.state === 'down' ? true : undefined)
  const names = a.links.list().map((l) => l.name)
  t.equal(names.filter((n) => n.startsWith('visitor-')).length, MAX_DOWN_PEERS, `${MAX_DOWN_PEERS} down peers remembered`)
  for (let i = 0; i < extra; i++) t.notOk(names.includes(`visitor-${i}`), `visitor-${i}, among the oldest, is forgotten`)
  t.match(a.links.get(`visitor-${MAX_DOWN_PEERS + extra - 1}`), { state: 'down', lastError: /just visiting/ }, 'the newest is remembered with its last error')
  t.equal(a.links.get('stay')?.state, 'up', 'a peer that is up stays')
  t.equal(stay.links.list().length, 1, 'and so does the one stay dials')

  await visit(linkUrl(a), 'visitor-0')
  t.equal(a.links.get('visitor-0')?.state, 'down', 'a forgotten name can connect again')
})
