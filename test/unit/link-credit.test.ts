// The link's credit point (link/credit.ts) and delivery ledger
// (link/delivery.ts): edge writers fill at most half the replay buffer, wait
// in order for acks to free room, and are told when they cannot; writes are
// counted lost only when their session ends before the peer acknowledged
// the frames that carried them.

import t from 'tap'
import { EdgeCredit } from '../../daemon/src/link/credit.js'
import { DeliveryLedger, type DeliveryMark } from '../../daemon/src/link/delivery.js'

function credit (max: number): { c: EdgeCredit, state: { unacked: number | null, rooms: number, turns: number } } {
  const state = { unacked: 0 as number | null, rooms: 0, turns: 0 }
  const c = new EdgeCredit(max, {
    unackedBytes: () => state.unacked,
    label: () => 'peer',
    scheduleTurn: () => { state.turns++ },
    onRoom: () => { state.rooms++ }
  })
  return { c, state }
}

t.test('edge writers get half the replay buffer, then wait in order for acks', async (t) => {
  const { c, state } = credit(1000)
  t.equal(c.limit, 500)
  t.ok(c.hasRoom(500))
  state.unacked = 400
  t.notOk(c.hasRoom(200), 'no room past half the buffer')
  const order: string[] = []
  const a = c.waitForRoom(300, 10_000).then(() => { order.push('a') })
  const b = c.waitForRoom(200, 10_000).then(() => { order.push('b') })
  t.notOk(c.hasRoom(1), 'a writer that comes later does not overtake the waiting ones')
  state.unacked = 100
  c.serve()
  await a
  t.same(order, ['a'], 'the first waiter is served once acks free room for it; the second waits behind its reservation')
  t.equal(c.room, 100, '300 bytes are reserved for this turn')
  c.turnEnded()
  await b
  t.same(order, ['a', 'b'])
  state.unacked = 0
  c.turnEnded()
  t.ok(state.rooms >= 1, 'writers that found no room hear that there is some again')
})

t.test('a writer is refused with a reason: too large for ever, full for now, or the session gone', async (t) => {
  const { c, state } = credit(1000)
  await t.rejects(c.waitForRoom(501, 1000), { code: 'ERR_BODY_TOO_LARGE' })
  state.unacked = 500
  await t.rejects(c.waitForRoom(10, 20), { code: 'ERR_LINK_FULL', retryAfterSeconds: 1 })
  const waiting = c.waitForRoom(10, 10_000)
  c.sessionEnded('peer restarted')
  await t.rejects(waiting, { code: 'ERR_UNAVAILABLE', message: /went down: peer restarted/ })
  state.unacked = null
  t.notOk(c.hasRoom(0), 'no session, no room')
  await t.rejects(c.waitForRoom(10, 1000), { code: 'ERR_UNAVAILABLE' })
})

t.test('a ledger counts as lost only the writes of the ended session that its peer had not acknowledged', async (t) => {
  const s1 = { acked: 0 }
  const s2 = { acked: 0 }
  const ledger = new DeliveryLedger()
  const m = (session: { acked: number }, seq: number): DeliveryMark => ({ session, seq })
  const first = m(s1, 3)
  ledger.note(first, 10)
  ledger.note(first, 10)
  const pending = m(s1, Infinity)
  ledger.note(pending, 5)
  ledger.note(m(s2, 1), 7)
  s1.acked = 3
  pending.seq = 4
  t.same(ledger.lost(s1), { count: 1, bytes: 5 }, 'the two acknowledged writes are not lost; the one made into frame 4 is')
  t.equal(ledger.size, 1, 'the other session\'s write stays')
  s2.acked = 1
  ledger.note(m(s2, 2), 1)
  t.equal(ledger.size, 1, 'delivered writes are forgotten as new ones come')
  t.same(ledger.lost(s2), { count: 1, bytes: 1 })
  t.equal(ledger.size, 0)
})
