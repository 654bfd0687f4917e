// Rate limits for log lines outsiders can cause (link/log-limit.ts).

import t from 'tap'
import { LogLimit } from '../../daemon/src/link/log-limit.js'

t.test('one line per key per period, the held-back ones counted on the next', async (t) => {
  const l = new LogLimit(10_000)
  t.same(l.take('10.0.0.1', 0), { log: true, suppressed: 0 })
  t.same(l.take('10.0.0.1', 1), { log: false })
  t.same(l.take('10.0.0.1', 9_999), { log: false })
  t.same(l.take('10.0.0.2', 5_000), { log: true, suppressed: 0 }, 'another address has its own line')
  t.same(l.take('10.0.0.1', 10_000), { log: true, suppressed: 2 }, 'after the period: the count of lines held back')
  t.same(l.take('10.0.0.1', 10_001), { log: false })
})

t.test('at most maxLines lines per period in all', async (t) => {
  const l = new LogLimit(1000, 3)
  for (let i = 0; i < 3; i++) t.same(l.take(`a${i}`, 0), { log: true, suppressed: 0 })
  t.same(l.take('a3', 1), { log: false }, 'a fourth address in the same period')
  t.same(l.take('a4', 2), { log: false })
  t.same(l.take('a5', 1000), { log: true, suppressed: 2 }, 'the next period tells how many the overall limit held back')
})

t.test('keys are bounded: the oldest are forgotten', async (t) => {
  const l = new LogLimit(1000, 1_000_000, 4)
  for (let i = 0; i < 10; i++) l.take(`k${i}`, 0)
  t.same(l.take('k0', 1), { log: true, suppressed: 0 }, 'a forgotten key logs again')
  t.same(l.take('k9', 1), { log: false }, 'a recent one is still held back')
})
