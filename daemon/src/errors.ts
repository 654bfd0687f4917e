// Errors carry a stable `code` (as Node's and fastify's do). They are thrown
// where the fault is found and mapped once, at the edge, to an HTTP status or
// a frame status. Every code, and what it maps to, is in error-codes.ts.

import type { ErrorCode } from './error-codes.js'

export { ERRORS, closeCodeOf, httpStatusOf, isErrorCode } from './error-codes.js'
export type { ErrorCode, ErrorSpec, RingErrorCode, RpmsgErrorCode, VhostErrorCode, VirtioErrorCode } from './error-codes.js'

export class SoclinkError extends Error {
  readonly code: ErrorCode
  constructor (code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** A frame or packet that does not follow proto/link.proto. */
export class FrameError extends SoclinkError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_FRAME', message, options)
  }
}

/** An access outside a region or window: PCIe Completer Abort. */
export class OutOfRangeError extends SoclinkError {
  constructor (message: string) {
    super('ERR_OUT_OF_RANGE', message)
  }
}

/** An access to something that does not exist: PCIe Unsupported Request. */
export class UnsupportedRequestError extends SoclinkError {
  constructor (message: string) {
    super('ERR_UNSUPPORTED_REQUEST', message)
  }
}

/** A named object that was asked for and is not there. */
export class NotFoundError extends SoclinkError {
  constructor (what: string, id: string | number) {
    super('ERR_NOT_FOUND', `no ${what} ${JSON.stringify(id)}`)
  }
}

/** A request that conflicts with existing state (a name in use, a busy link). */
export class ConflictError extends SoclinkError {
  constructor (message: string) {
    super('ERR_CONFLICT', message)
  }
}

/** A request this daemon is configured not to serve (fault injection without --fault-injection). */
export class ForbiddenError extends SoclinkError {
  constructor (message: string) {
    super('ERR_FORBIDDEN', message)
  }
}

/**
 * A control API request without a bearer token, or with one this daemon does
 * not hold (401). `challenge` is the WWW-Authenticate value (RFC 6750 §3).
 */
export class UnauthenticatedError extends SoclinkError {
  readonly challenge: string
  constructor (message: string, challenge: string) {
    super('ERR_UNAUTHENTICATED', message)
    this.challenge = challenge
  }
}

/** A control API request whose token's scope may not do it (403 insufficient_scope, RFC 6750 §3.1). */
export class InsufficientScopeError extends ForbiddenError {
  readonly challenge: string
  constructor (message: string, challenge: string) {
    super(message)
    this.challenge = challenge
  }
}

/** A link or window that cannot carry the request now. */
export class UnavailableError extends SoclinkError {
  constructor (message: string) {
    super('ERR_UNAVAILABLE', message)
  }
}

/** A request that waited longer than it may. */
export class TimeoutError extends SoclinkError {
  constructor (message: string) {
    super('ERR_TIMEOUT', message)
  }
}

/** Settings that cannot be used. */
export class ConfigError extends SoclinkError {
  constructor (message: string) {
    super('ERR_CONFIG', message)
  }
}

/** A configfs object in use (-EBUSY): an rpmsg channel item that is linked, linked again or removed while linked. */
export class BusyError extends SoclinkError {
  constructor (message: string) {
    super('ERR_BUSY', message)
  }
}

/** A request that would take this daemon past one of its limits (a setting names each). */
export class LimitError extends SoclinkError {
  constructor (message: string) {
    super('ERR_LIMIT', message)
  }
}

/** A region a role made for its hardware model (system memory, a BAR, a config space): only the role removes it. */
export class InternalRegionError extends SoclinkError {
  constructor (name: string) {
    super('ERR_REGION_INTERNAL', `region ${name} belongs to this daemon's hardware model; it goes when its role stops it, not by DELETE`)
  }
}

/**
 * A link whose replay buffer has no room for a writer now (back-pressure):
 * the writer waited as long as it may and should try again shortly; the
 * session goes on.
 */
export class LinkFullError extends SoclinkError {
  /** Seconds after which a retry is likely to find room (HTTP Retry-After). */
  readonly retryAfterSeconds: number
  constructor (message: string, retryAfterSeconds = 1) {
    super('ERR_LINK_FULL', message)
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** A request larger than a bound it can never fit in (a link's replay buffer). */
export class TooLargeError extends SoclinkError {
  constructor (message: string) {
    super('ERR_BODY_TOO_LARGE', message)
  }
}

/**
 * The other side answered a command with ERROR: the RFC's virtio-pci-epf
 * HOST_CMD/QUEUE_CMD status, or ntb_epf_send_command's COMMAND_STATUS_ERROR
 * (the kernel's -EINVAL). `command` is the command's number, where it has one.
 */
export class CommandError extends SoclinkError {
  readonly command: number | undefined
  constructor (message: string, command?: number) {
    super('ERR_COMMAND', message)
    this.command = command
  }
}
