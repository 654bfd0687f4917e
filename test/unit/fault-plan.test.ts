// The fault plan (daemon/src/link/faults.ts): defaults, bounds, and the
// same faults from the same seed. Pure: no sockets, no timers.

import t from 'tap'
import { FaultPlan, FaultPlanError, faultPlanSettings, mulberry32, type Fault, type FaultPlanSpec } from '../../daemon/src/link/faults.js'

function all (spec: FaultPlanSpec, seed = 1): Fault[] {
  const plan = new FaultPlan(faultPlanSettings(spec, seed))
  const out: Fault[] = []
  for (let f = plan.next(); f !== null; f = plan.next()) out.push(f)
  t.equal(plan.remaining, 0, 'nothing remains once next() says null')
  return out
}

t.test('one action and nothing else: once, now', async (t) => {
  const s = faultPlanSettings({ actions: ['reset'] }, 77)
  t.same(s, { actions: ['reset'], count: 1, afterMs: 0, gapMs: 1000, maxGapMs: 1000, ms: 1000, maxMs: 1000, delayMs: 100, seed: 77 },
    'every default filled in; the seed the caller drew')
  t.same(all({ actions: ['reset'] }), [{ action: 'reset', waitMs: 0, ms: 0, delayMs: 0 }])
  t.same(all({ actions: ['blackhole'], ms: 250, afterMs: 40 }), [{ action: 'blackhole', waitMs: 40, ms: 250, delayMs: 0 }], 'a blackhole lasts ms')
  t.same(all({ actions: ['delay'], ms: 300, delayMs: 20 }), [{ action: 'delay', waitMs: 0, ms: 300, delayMs: 20 }], 'a delay lasts ms and adds delayMs')
  t.equal(faultPlanSettings({ actions: ['close'], seed: 5 }, 77).seed, 5, 'a seed given wins over the drawn one')
})

t.test('a random plan stays in its bounds and uses every action', async (t) => {
  const spec: FaultPlanSpec = { actions: ['close', 'reset', 'blackhole', 'delay'], count: 2000, afterMs: 7, gapMs: 10, maxGapMs: 90, ms: 100, maxMs: 400, delayMs: 15 }
  const faults = all(spec, 42)
  t.equal(faults.length, 2000, 'count faults, then none')
  t.equal(faults[0]!.waitMs, 7, 'the first after afterMs')
  const seen = new Set(faults.map((f) => f.action))
  t.same([...seen].sort(), ['blackhole', 'close', 'delay', 'reset'], 'every action drawn')
  const bad = faults.slice(1).filter((f) => f.waitMs < 10 || f.waitMs > 90 || !Number.isInteger(f.waitMs))
  t.same(bad, [], 'gaps within [gapMs, maxGapMs]')
  const lasting = faults.filter((f) => f.action === 'blackhole' || f.action === 'delay')
  t.same(lasting.filter((f) => f.ms < 100 || f.ms > 400), [], 'blackholes and delays last within [ms, maxMs]')
  t.ok(lasting.some((f) => f.ms === 100) && lasting.some((f) => f.ms === 400), 'both ends of the range are reachable')
  t.same(faults.filter((f) => (f.action === 'close' || f.action === 'reset') && f.ms !== 0), [], 'close and reset are instants')
  t.same(faults.filter((f) => (f.action === 'delay') !== (f.delayMs === 15)), [], 'only a delay carries delayMs')
})

t.test('the same seed gives the same faults; another seed others', async (t) => {
  const spec: FaultPlanSpec = { actions: ['close', 'reset', 'blackhole'], count: 50, gapMs: 0, maxGapMs: 1000, ms: 0, maxMs: 1000 }
  t.same(all(spec, 1234), all(spec, 1234), 'replayable')
  t.not(JSON.stringify(all(spec, 1234)), JSON.stringify(all(spec, 1235)), 'seeds matter')
  t.same(all({ ...spec, seed: 9 }, 1), all({ ...spec, seed: 9 }, 2), 'the spec\'s seed is the one used')
  const r = mulberry32(0)
  const draws = Array.from({ length: 1000 }, r)
  t.ok(draws.every((x) => x >= 0 && x < 1), 'the generator draws in [0, 1)')
  t.ok(new Set(draws).size > 990, 'and does not repeat itself')
})

t.test('plans that cannot run are refused with ERR_VALIDATION', async (t) => {
  const refused = { name: 'FaultPlanError', code: 'ERR_VALIDATION' }
  t.throws(() => faultPlanSettings({ actions: [] }, 1), refused, 'no action')
  t.throws(() => faultPlanSettings({ actions: ['explode' as 'close'] }, 1), refused, 'an unknown action')
  t.throws(() => faultPlanSettings({ actions: ['close'], gapMs: 10, maxGapMs: 9 }, 1), { ...refused, message: /maxGapMs 9 is below gapMs 10/ })
  t.throws(() => faultPlanSettings({ actions: ['delay'], ms: 10, maxMs: 9 }, 1), { ...refused, message: /maxMs 9 is below ms 10/ })
  t.ok(new FaultPlanError('x') instanceof Error)
  t.same(faultPlanSettings({ actions: ['close', 'close'] }, 1).actions, ['close'], 'repeated actions count once')
})
