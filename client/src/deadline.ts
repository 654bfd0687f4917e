// Waiting with a bound, for the daemon, the client, the CLI, the demo and
// the tests alike: within() races a promise against one timer, until()
// polls a check. Each clears its timer however the wait ends. In the client
// for the reason client/src/sizes.ts is: the client needs no daemon code,
// and the daemon, shipped in the same build, imports it from here.

import { setTimeout as sleep } from 'node:timers/promises'

/**
 * `p`, or once `ms` pass first what `late()` returns (or the error it
 * throws). `p` may still settle later, unobserved: its rejection is not
 * left unhandled.
 */
export async function within<T, L> (p: Promise<T>, ms: number, late: () => L): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<L>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(late())
      } catch (err) {
        reject(err)
      }
    }, ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Calls `check` every `everyMs` until it returns something other than
 * undefined or false, and returns that; throws `late()` once `ms` have
 * passed without.
 */
export async function until<T> (check: () => Promise<T | undefined | false> | T | undefined | false, ms: number, late: () => Error, everyMs = 25): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw late()
    await sleep(everyMs)
  }
}
