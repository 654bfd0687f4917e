// A dialer's failed dials in the log (link/dial-log.ts): each reason at
// once, with the URL and a hint for common errno codes; the same reason
// again only once a period has passed, with the count held back.

import t from 'tap'
import { DIAL_LOG_PERIOD_MS, DialLog } from '../../daemon/src/link/dial-log.js'

function recorder (): { lines: Array<{ fields: Record<string, unknown>, msg: string }>, logger: { warn: (fields: Record<string, unknown>, msg: string) => void } } {
  const lines: Array<{ fields: Record<string, unknown>, msg: string }> = []
  return { lines, logger: { warn: (fields, msg) => { lines.push({ fields, msg }) } } }
}

t.test('each reason is logged at once, then at most once a period with the count held back', async (t) => {
  const { lines, logger } = recorder()
  const log = new DialLog(logger as never, 'ws://127.0.0.1:7400/v1/link')
  const refused = 'connect ECONNREFUSED 127.0.0.1:7400'
  log.failed('ws://127.0.0.1:7400/v1/link', refused, 'ECONNREFUSED', 0)
  t.same(lines, [{
    fields: { peer: 'ws://127.0.0.1:7400/v1/link', url: 'ws://127.0.0.1:7400/v1/link', errno: 'ECONNREFUSED' },
    msg: 'dial failed: connect ECONNREFUSED 127.0.0.1:7400 (nothing listens there: is the peer\'s daemon running, with --listen on that port?); dialing ws://127.0.0.1:7400/v1/link again'
  }])
  for (let at = 100; at < DIAL_LOG_PERIOD_MS; at += 2000) log.failed('p', refused, 'ECONNREFUSED', at)
  t.equal(lines.length, 1, 'the same reason within the period: held back')
  log.failed('p', 'getaddrinfo ENOTFOUND nowhere.invalid', 'ENOTFOUND', 5000)
  t.equal(lines.length, 2, 'a new reason: at once')
  t.match(lines[1]!.msg, /^dial failed: getaddrinfo ENOTFOUND nowhere\.invalid \(no such host name\); dialing/)
  log.failed('p', refused, 'ECONNREFUSED', DIAL_LOG_PERIOD_MS)
  t.equal(lines.length, 3, 'the first reason again after a period')
  t.match(lines[2]!, { fields: { suppressed: 15 }, msg: /\(15 more failed dials not logged\)$/ })
  log.failed('p', 'refused by peer: HTTP 403: no certificate', undefined, DIAL_LOG_PERIOD_MS + 1)
  t.same(lines[3]!.fields, { peer: 'p', url: 'ws://127.0.0.1:7400/v1/link' }, 'no errno, no hint')
})
