// within() and until() (client/src/deadline.ts), which the daemon, the CLI,
// the demo and the tests share. Limits here are far from what the promises
// take, so no assertion depends on timing.

import t from 'tap'
import { until, within } from '../../client/src/deadline.js'

const never = new Promise<never>(() => {})

t.test('within: the promise when it settles first, late() when the time passes first', async (t) => {
  t.equal(await within(Promise.resolve(1), 60_000, () => 'late'), 1)
  await t.rejects(within(Promise.reject(new Error('boom')), 60_000, () => 'late'), /boom/)
  t.equal(await within(never, 1, () => null), null, 'a value')
  await t.rejects(within(never, 1, () => { throw new Error('too late') }), /too late/, 'or an error')
  let rejectLater!: (err: Error) => void
  const later = new Promise<never>((_resolve, reject) => { rejectLater = reject })
  t.equal(await within(later, 1, () => 'late'), 'late')
  rejectLater(new Error('after the limit: observed, not unhandled'))
})

t.test('until: polls until the check gives a value; late() once the time is up', async (t) => {
  let n = 0
  t.equal(await until(() => ++n === 3 ? 'three' : undefined, 60_000, () => new Error('late'), 1), 'three')
  t.equal(await until(async () => false, 0, () => new Error('never true'), 1).catch((err: Error) => err.message), 'never true', 'false is not a value')
})
