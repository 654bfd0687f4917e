// Completion statuses map through the error registry both ways: the numbers
// are proto/link.proto's (STATUS_UNSUPPORTED_REQUEST = 1, COMPLETER_ABORT = 2,
// RETRY = 3, ACCESS_DENIED = 4), written here as numbers, not our constants.
import t from 'tap'
import { describeLinkStatus, errorOfLinkStatus, linkStatusOf } from '../../daemon/src/mem/link-status.js'
import { ERRORS, type ErrorCode } from '../../daemon/src/error-codes.js'
import { LinkFullError } from '../../daemon/src/errors.js'

t.test('the owner answers each fault with its registered status', async (t) => {
  t.equal(linkStatusOf('ERR_UNSUPPORTED_REQUEST'), 1)
  t.equal(linkStatusOf('ERR_OUT_OF_RANGE'), 2)
  t.equal(linkStatusOf('ERR_LINK_FULL'), 3)
  t.equal(linkStatusOf('ERR_FORBIDDEN'), 4)
})

t.test('the requester raises the error of the status it received', async (t) => {
  t.match(errorOfLinkStatus(1, 'x'), { code: 'ERR_UNSUPPORTED_REQUEST', message: 'x' })
  t.match(errorOfLinkStatus(2, 'x'), { code: 'ERR_OUT_OF_RANGE' })
  t.match(errorOfLinkStatus(4, 'x'), { code: 'ERR_FORBIDDEN' })
  const full = errorOfLinkStatus(3, 'x')
  t.ok(full instanceof LinkFullError, 'a retry status is back-pressure')
  t.equal((full as LinkFullError).retryAfterSeconds, 1)
  t.match(errorOfLinkStatus(57, 'x'), { code: 'ERR_UNSUPPORTED_REQUEST' }, 'an unknown status is an Unsupported Request')
})

t.test('every status-carrying code in the registry round-trips', async (t) => {
  const codes = (Object.keys(ERRORS) as ErrorCode[]).filter((c) => 'linkStatus' in ERRORS[c])
  t.equal(codes.length, 4)
  for (const code of codes) {
    const status = linkStatusOf(code as Parameters<typeof linkStatusOf>[0])
    t.equal(errorOfLinkStatus(status, 'm').code, code, code)
    t.equal(describeLinkStatus(status), ERRORS[code].doc)
  }
})
