// Coming back after the daemon went away (restarted, or stopped for a
// while): tries again with a growing wait, as long as what failed is what
// a daemon that is not there (yet) gives, until it works or the command is
// stopped (Ctrl-C or SIGTERM while it waits end it cleanly).

import { ApiError } from '../errors.js'
import type { Stop } from './rpmsg-ping.js'

/** Nothing listening (ERR_CONNECT), the connection closed while asking (ERR_CLOSED), no rpmsg bus yet (ERR_NOT_FOUND). */
const TRANSIENT = new Set(['ERR_CONNECT', 'ERR_CLOSED', 'ERR_NOT_FOUND'])

export const transient = (err: unknown): boolean => err instanceof ApiError && TRANSIENT.has(err.code)

/** The wait before try n + 1 (from 0): 100 ms, doubling, at most 5 s. */
export const backoffMs = (n: number): number => Math.min(5000, 100 * 2 ** Math.min(n, 16))

/**
 * `attempt()` until it resolves; a transient failure is told to `onRetry`
 * and tried again after backoffMs(n). Null if `stop` is stopped first. Any
 * other failure rejects.
 */
export async function retrying<T> (stop: Stop, attempt: () => Promise<T>, onRetry: (err: ApiError, waitMs: number) => void): Promise<T | null> {
  const onSignal = (): void => { stop.stop() }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    for (let n = 0; !stop.stopped; n++) {
      try {
        return await attempt()
      } catch (err) {
        if (!transient(err)) throw err
        const ms = backoffMs(n)
        onRetry(err as ApiError, ms)
        if (!await stop.sleep(ms)) break
      }
    }
    return null
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
