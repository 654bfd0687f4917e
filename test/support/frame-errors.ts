// An assertion the packet codec tests share.

import type { Test } from 'tap'
import { FrameError } from '../../daemon/src/errors.js'

/** Asserts a FrameError with code ERR_FRAME whose message says `why` (so it is the intended check). */
export function throwsFrameError (t: Test, fn: () => unknown, name: string, why: RegExp): void {
  try {
    fn()
    t.fail(`${name}: did not throw`)
  } catch (err) {
    t.ok(err instanceof FrameError && err.code === 'ERR_FRAME', `${name}: FrameError ERR_FRAME`)
    t.match((err as Error).message, why, `${name}: ${(err as Error).message}`)
  }
}
