// A Goodbye's reason (and the WebSocket close reason with it) is cut to 120
// bytes at a UTF-8 character boundary; only a Pong answering one of our own
// Pings gives a round trip.

import t from 'tap'
import { WebSocket } from 'ws'
import { refuse } from '../../daemon/src/link/peer-link.js'
import { decodePacket } from '../../daemon/src/link/codec.js'
import { OutstandingPings } from '../../daemon/src/link/pings.js'

/** What refuse() sends and closes with, on a stand-in for an open socket. */
function refused (reason: string): { goodbye: string, close: string } {
  let goodbye = ''
  let close = ''
  const ws = {
    readyState: WebSocket.OPEN,
    send: (b: Uint8Array) => { goodbye = decodePacket(b).frame.goodbye!.reason! },
    close: (_code: number, r: string) => { close = r }
  }
  refuse(ws as unknown as WebSocket, 1, reason)
  return { goodbye, close }
}

t.test('a Goodbye reason past 120 bytes is cut at a character boundary', async (t) => {
  for (const [name, reason] of [
    ['two-byte characters (é)', 'é'.repeat(100)],
    ['a three-byte character across byte 120', 'x'.repeat(119) + '€ and more'],
    ['a four-byte character across byte 120', 'x'.repeat(118) + '😀 and more']
  ] as const) {
    const { goodbye, close } = refused(reason)
    t.ok(Buffer.byteLength(goodbye) <= 120, `${name}: at most 120 bytes`)
    t.notOk(goodbye.includes('\ufffd'), `${name}: no character cut in half`)
    t.ok(reason.startsWith(goodbye) && goodbye.length > 0, `${name}: a prefix of the reason`)
    t.equal(close, goodbye, `${name}: the close reason is the same text`)
  }
  t.same(refused('short'), { goodbye: 'short', close: 'short' }, 'a short reason is kept whole')
})

t.test('only a Pong answering an outstanding Ping of ours gives an RTT', async (t) => {
  const p = new OutstandingPings()
  t.equal(p.pong(1, 7000), null, 'an unsolicited Pong: no RTT')
  const first = p.ping(1000)
  const second = p.ping(2000)
  t.equal(p.pong(second, 2005), 5, 'the answer to our second Ping')
  t.equal(p.pong(first, 2010), null, 'an older Ping is taken as lost once a later one is answered')
  t.equal(p.pong(second, 2020), null, 'and each Ping is answered once')
  for (let i = 0; i < 20; i++) p.ping(3000 + i)
  t.equal(p.pong(Math.round(3000 * 1000), 3100), null, 'only the last few Pings are remembered')
  const last = p.ping(4000)
  p.clear()
  t.equal(p.pong(last, 4001), null, 'a new connection forgets the Pings of the last one')
})
