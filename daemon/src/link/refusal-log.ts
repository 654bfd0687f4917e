// Log lines about refused connections, which an outsider can cause at will:
// through a LogLimit (log-limit.ts), at most one line per key (an address,
// with the kind or reason of refusal) per REFUSAL_LOG_PERIOD_MS, and the
// count held back told in the next line that gets out.

import type { Logger } from 'pino'
import { LogLimit, REFUSAL_LOG_PERIOD_MS } from './log-limit.js'

export class RefusalLog {
  private readonly limit = new LogLimit(REFUSAL_LOG_PERIOD_MS)

  constructor (private readonly logger: Pick<Logger, 'warn' | 'error'>) {}

  /** Logs `msg` with `fields` unless a line about `key` went out this period. */
  write (key: string, fields: Record<string, unknown>, msg: string, level: 'warn' | 'error' = 'warn'): void {
    const take = this.limit.take(key, Date.now())
    if (!take.log) return
    if (take.suppressed === 0) this.logger[level](fields, msg)
    else this.logger[level]({ ...fields, suppressed: take.suppressed }, `${msg} (${take.suppressed} more refusals not logged)`)
  }
}
