// The link.proto Status a completion carries, mapped both ways through the
// error registry (error-codes.ts): the owner side answers a fault with the
// status its code is registered under, and the requester side turns a status
// back into the error of that code. A PCIe completion status is the model:
// Successful Completion, Unsupported Request, Completer Abort, and
// Configuration Request Retry Status (PCIe Base Spec §2.2.9).

import { wire } from '../link/codec.js'
import { ERRORS, type ErrorCode } from '../error-codes.js'
import { ForbiddenError, LinkFullError, OutOfRangeError, UnsupportedRequestError, type SoclinkError } from '../errors.js'

const Status = wire.Status

/** The codes a link status stands for: every registry entry with a `linkStatus`. */
type StatusCode = { [C in ErrorCode]: (typeof ERRORS)[C] extends { linkStatus: string } ? C : never }[ErrorCode]

/** One error class per status-carrying code; the type makes a new registry entry add its class here. */
const ERROR_OF: { readonly [C in StatusCode]: (message: string) => SoclinkError } = {
  ERR_OUT_OF_RANGE: (m) => new OutOfRangeError(m),
  ERR_FORBIDDEN: (m) => new ForbiddenError(m),
  ERR_UNSUPPORTED_REQUEST: (m) => new UnsupportedRequestError(m),
  ERR_LINK_FULL: (m) => new LinkFullError(m)
}

const CODE_OF_STATUS = new Map<number, StatusCode>(
  (Object.keys(ERROR_OF) as StatusCode[]).map((code) => [Status[ERRORS[code].linkStatus], code])
)

/** The status the owner side answers `code` with. */
export function linkStatusOf (code: StatusCode): number {
  return Status[ERRORS[code].linkStatus]
}

/**
 * The error a requester raises for a completion `status` that is not OK.
 * A status this daemon does not know is an Unsupported Request, as a PCIe
 * requester treats a reserved completion status (§2.3.2).
 */
export function errorOfLinkStatus (status: number, message: string): SoclinkError {
  return ERROR_OF[CODE_OF_STATUS.get(status) ?? 'ERR_UNSUPPORTED_REQUEST'](message)
}

/** What a completion `status` means, in the registry's words. */
export function describeLinkStatus (status: number | null | undefined): string {
  return ERRORS[CODE_OF_STATUS.get(status ?? -1) ?? 'ERR_UNSUPPORTED_REQUEST'].doc
}
