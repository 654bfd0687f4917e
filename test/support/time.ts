// One time scale for every limit the tests set: SOCLINK_TEST_TIME_SCALE (a
// factor, default 1), or, when it is not set, one read from the machine's
// load: 1 + the 1-minute load average per core, so a limit meant for a quiet
// machine grows with the queue for its CPUs. `npm test` (scripts/test.mjs)
// reads the load once at the suite's start and sets the variable, so every
// test file and tap's own per-file timeout use the same factor; a file run
// alone reads the load itself.
//
// Limits are there to turn a stall into a failure with a reason; they never
// assert how fast something is (tests wait for signals, not time).

import { availableParallelism, loadavg } from 'node:os'

/** The factor from the machine's load: 1 on a quiet machine. */
export function loadScale (): number {
  const perCore = loadavg()[0]! / availableParallelism()
  return Math.round((1 + perCore) * 10) / 10
}

function readScale (): number {
  const v = process.env.SOCLINK_TEST_TIME_SCALE
  if (v === undefined || v === '') return loadScale()
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`SOCLINK_TEST_TIME_SCALE=${v}: not a positive number`)
  return n
}

export const TIME_SCALE = readScale()

/** `ms` (a limit for a quiet machine) on this machine. */
export function scaled (ms: number): number {
  return Math.round(ms * TIME_SCALE)
}

// tap kills a test file that runs longer than its timeout (package.json
// "tap".timeout, in seconds; TAP_TIMEOUT in the file's environment): a file
// run under tap tells the runner its scaled limit ("# timeout=MS" resets the
// runner's timer, @tapjs/core spawn.js) and sets its own root's to match.
// scripts/test.mjs has already scaled TAP_TIMEOUT and says the unscaled one
// in SOCLINK_TEST_TAP_TIMEOUT, so the factor applies once.
if (process.env.TAP === '1' && TIME_SCALE !== 1) {
  const base = Number(process.env.SOCLINK_TEST_TAP_TIMEOUT ?? process.env.TAP_TIMEOUT ?? '30') * 1000
  if (base > 0) {
    const { default: t } = await import('tap')
    t.setTimeout(scaled(base))
    t.comment(`timeout=${scaled(base)}`)
  }
}
