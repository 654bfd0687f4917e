// Log lines about a dialer's failed dials. A peer that is not there yet
// (refused, no such host) is the first thing a new user meets, so every
// reason shows in the log, with the URL dialed; a dialer redials every
// reconnectMaxMs or so, so each reason is logged at most once per
// DIAL_LOG_PERIOD_MS, with the count of those held back (log-limit.ts).
// A new reason is logged at once.

import type { Logger } from 'pino'
import { LogLimit } from './log-limit.js'

/** One line per dialer and reason in this period. */
export const DIAL_LOG_PERIOD_MS = 30_000

/** What the errno codes a dial meets most often mean, for people. */
const HINTS: Record<string, string> = {
  ECONNREFUSED: 'nothing listens there: is the peer\'s daemon running, with --listen on that port?',
  ENOTFOUND: 'no such host name',
  EAI_AGAIN: 'the host name could not be resolved now (DNS)',
  ETIMEDOUT: 'no answer from that address',
  EHOSTUNREACH: 'no route to that host',
  ENETUNREACH: 'no route to that network'
}

export class DialLog {
  private readonly limit = new LogLimit(DIAL_LOG_PERIOD_MS)

  constructor (private readonly logger: Pick<Logger, 'warn'>, private readonly url: string) {}

  /** Logs a failed dial (`why`, and the errno `code` when there is one) at `now` (ms, monotonic), unless this reason was logged this period. */
  failed (peer: string, why: string, code: string | undefined, now: number): void {
    const take = this.limit.take(why, now)
    if (!take.log) return
    const hint = code !== undefined ? HINTS[code] : undefined
    const fields = { peer, url: this.url, ...(code !== undefined && { errno: code }), ...(take.suppressed > 0 && { suppressed: take.suppressed }) }
    const more = take.suppressed > 0 ? ` (${take.suppressed} more failed dials not logged)` : ''
    this.logger.warn(fields, `dial failed: ${why}${hint !== undefined ? ` (${hint})` : ''}; dialing ${this.url} again${more}`)
  }
}
