// The cumulative answer to version 2's sends on both sides, without
// sockets: the daemon's mark (daemon/src/api/gateway-watermark.ts) and the
// client's bookkeeping of send(), post() and flush() (client/src/rpmsg-sends.ts).

import t from 'tap'
import { SendWatermark } from '../../daemon/src/api/gateway-watermark.js'
import { PostFailures, SendTracker } from '../../client/src/rpmsg-sends.js'
import { ApiError } from '../../client/src/errors.js'

t.test('the daemon\'s mark: sends answered at once move it; a waiting one holds back those after it until answered', async (t) => {
  const m = new SendWatermark()
  t.equal(m.upTo(), 0)
  for (let i = 0; i < 3; i++) m.arrived()
  t.equal(m.upTo(), 3, 'three answered at once')
  const a = m.arrived(); m.wait(a)
  const b = m.arrived(); m.wait(b)
  m.arrived()
  t.equal(m.upTo(), 3, 'held back by 4')
  m.done(b)
  t.equal(m.upTo(), 3, '5 answered before 4: still 3')
  m.done(a)
  t.equal(m.upTo(), 6, 'all answered')
  t.equal(m.pending, 0)
  m.done(99)
  t.equal(m.upTo(), 6, 'an unknown one changes nothing')
})

t.test('the client: send() resolves with the SENT that covers it, rejects with its own Error', async (t) => {
  const s = new SendTracker()
  const results: string[] = []
  const one = s.next(); const p1 = s.wait(one).then(() => results.push('1 sent'))
  const two = s.next(); const p2 = s.wait(two).catch((e: ApiError) => results.push(`2 ${e.code}`))
  const three = s.next(); const p3 = s.wait(three).then(() => results.push('3 sent'))
  t.ok(s.failed(two, new ApiError('ERR_RPMSG_SIZE', 'too big', 0)), 'a send() was waiting for 2')
  s.sent(2)
  await Promise.all([p1, p2])
  // The Error comes before the SENT that counts it.
  t.same(results, ['2 ERR_RPMSG_SIZE', '1 sent'], '3 still waits')
  s.sent(3)
  await p3
  t.same(results, ['2 ERR_RPMSG_SIZE', '1 sent', '3 sent'])
  t.equal(s.widen(3), 3)
  t.equal(s.widen(4), 4)
})

t.test('the client: flush() waits for the mark and reports the first posted failure once', async (t) => {
  const s = new SendTracker()
  const failures = new PostFailures()
  for (let i = 0; i < 10; i++) s.next()
  t.notOk(s.failed(4, new ApiError('ERR_RPMSG_ADDR', 'a', 0)), 'no send() waited for 4: a posted one')
  failures.add(4, new ApiError('ERR_RPMSG_ADDR', 'a', 0))
  failures.add(6, new ApiError('ERR_RPMSG_TIMEOUT', 'b', 0))
  let settled = false
  const f = s.flush(10, [failures]).finally(() => { settled = true })
  s.sent(9)
  await new Promise((resolve) => setImmediate(resolve))
  t.notOk(settled, 'not before 10 is answered')
  s.sent(10)
  await t.rejects(f, { code: 'ERR_RPMSG_ADDR' }, 'the first failure')
  t.equal(failures.count, 2, 'both counted')
  await t.resolves(s.flush(10, [failures]), 'reported once')
})

t.test('the client: version 1 answers one by one, out of order; flush() follows the mark', async (t) => {
  const s = new SendTracker()
  for (let i = 0; i < 3; i++) s.next()
  const f = s.flush(3, [])
  s.answeredOne(2)
  s.answeredOne(3)
  t.equal(s.answeredUpTo, 0, '1 is not answered yet')
  s.answeredOne(1)
  t.equal(s.answeredUpTo, 3)
  await t.resolves(f)
})

t.test('the client: closing fails every wait, and any later flush() that needs more', async (t) => {
  const s = new SendTracker()
  const w = s.wait(s.next())
  const err = new ApiError('ERR_CLOSED', 'closed', 0)
  const f = s.flush(1, [])
  s.close(err)
  await t.rejects(w, { code: 'ERR_CLOSED' })
  await t.rejects(f, { code: 'ERR_CLOSED' })
  await t.rejects(s.flush(1, []), { code: 'ERR_CLOSED' })
  await t.resolves(s.flush(0, []), 'nothing to wait for')
})
