// Every error code soclink answers with, defined once: its HTTP status (the
// control API), the WebSocket close code when the fault ends an rpmsg
// gateway connection (RFC 6455 §7.4.1), and the link frame status or Goodbye
// code when a link carries it (proto/link.proto). The rpmsg gateway sends
// the code itself (rpmsg.proto Error.code), so a fault has the same code over
// REST and over the gateway. SoclinkError takes only these codes, so an
// unknown one does not compile; test/unit/error-registry.test.ts checks the
// rest (each code thrown anywhere is here, each documented status has codes).

export interface ErrorSpec {
  /** The control API's status for it. 500 means a daemon fault: the API answers ERR_INTERNAL and logs it. */
  readonly http: number
  /** The close code when this fault ends an rpmsg gateway connection (RFC 6455 §7.4.1). */
  readonly close?: 1008 | 1009 | 1011
  /** The link.proto Status a completion carries for it. */
  readonly linkStatus?: 'STATUS_UNSUPPORTED_REQUEST' | 'STATUS_COMPLETER_ABORT' | 'STATUS_RETRY' | 'STATUS_ACCESS_DENIED'
  /** The link.proto Goodbye.Code a link ends with for it. */
  readonly goodbye?: 'CODE_PROTOCOL' | 'CODE_OVERFLOW'
  /** What it means, for the README's table and the OpenAPI document. */
  readonly doc: string
}

export const ERRORS = {
  // ---- requests the API refuses (fastify, Node's HTTP parser, JSON Schema)
  ERR_VALIDATION: { http: 400, doc: 'a request its JSON Schema, or a rule beyond it, refuses' },
  ERR_BAD_JSON: { http: 400, doc: 'a JSON body that does not parse, or is empty' },
  ERR_BAD_REQUEST: { http: 400, doc: 'a malformed HTTP request (bad Content-Length, request line, plain HTTP to HTTPS, a WebSocket upgrade to a plain route)' },
  ERR_BAD_URL: { http: 400, doc: 'a URL that does not decode' },
  ERR_UNAUTHENTICATED: { http: 401, doc: 'no bearer token, or one this daemon does not hold' },
  ERR_ROUTE_NOT_FOUND: { http: 404, doc: 'a method and path no route serves' },
  ERR_REQUEST_TIMEOUT: { http: 408, doc: 'the request did not arrive in time' },
  ERR_BODY_TOO_LARGE: { http: 413, doc: 'a body over maxBodyBytes, or a write over a link\'s bound' },
  ERR_URI_TOO_LONG: { http: 414, doc: 'a path parameter longer than the router takes' },
  ERR_MEDIA_TYPE: { http: 415, doc: 'a content type no route reads' },
  ERR_UPGRADE_REQUIRED: { http: 426, doc: 'plain HTTP to a WebSocket route' },
  ERR_HEADERS_TOO_LARGE: { http: 431, doc: 'a request line and headers larger than Node accepts' },
  // ---- the daemon's own
  ERR_CONFIG: { http: 400, doc: 'settings that cannot be used' },
  ERR_OUT_OF_RANGE: { http: 400, linkStatus: 'STATUS_COMPLETER_ABORT', doc: 'an access outside a region or window (PCIe Completer Abort)' },
  ERR_FORBIDDEN: { http: 403, linkStatus: 'STATUS_ACCESS_DENIED', doc: 'what this daemon, or a token\'s scope, or a region\'s owner does not allow' },
  ERR_NOT_FOUND: { http: 404, close: 1011, doc: 'a named object that is not there (the gateway with no rpmsg at all closes)' },
  ERR_UNSUPPORTED_REQUEST: { http: 404, linkStatus: 'STATUS_UNSUPPORTED_REQUEST', doc: 'an access to something that does not exist (PCIe Unsupported Request)' },
  ERR_CONFLICT: { http: 409, doc: 'a request that conflicts with existing state (a name in use)' },
  ERR_BUSY: { http: 409, doc: 'an object in use (configfs -EBUSY)' },
  ERR_LIMIT: { http: 409, doc: 'a request past one of the daemon\'s limits (a setting names each)' },
  ERR_REGION_INTERNAL: { http: 409, doc: 'a region of a role\'s hardware model, removed only with its role' },
  ERR_COMMAND: { http: 409, doc: 'the other side answered a command (virtio-pci-epf, NTB CMD) with ERROR' },
  ERR_INTERNAL: { http: 500, doc: 'a fault of the daemon itself; the log says more' },
  ERR_FRAME: { http: 502, goodbye: 'CODE_PROTOCOL', doc: 'a peer\'s frame that does not follow proto/link.proto' },
  ERR_UNAVAILABLE: { http: 503, doc: 'a link, device or window that cannot carry the request now' },
  ERR_LINK_FULL: { http: 503, linkStatus: 'STATUS_RETRY', doc: 'a link with no room now (back-pressure; Retry-After)' },
  ERR_REPLAY_OVERFLOW: { http: 503, goodbye: 'CODE_OVERFLOW', doc: 'a link\'s replay buffer past its bound: the session ends' },
  ERR_NTB: { http: 503, doc: 'an NTB transport that failed without a code of its own' },
  ERR_TIMEOUT: { http: 504, doc: 'a request that waited longer than it may' },
  // ---- rpmsg (RpmsgError; the gateway's Error.code)
  ERR_RPMSG_FORMAT: { http: 400, close: 1008, doc: 'a malformed rpmsg name, header, NS or AS message, or gateway message' },
  ERR_RPMSG_VERSION: { http: 400, close: 1008, doc: 'a gateway batch whose version is not 2' },
  ERR_RPMSG_SIZE: { http: 400, doc: 'a message larger than a buffer carries, or a buffer size out of range' },
  ERR_RPMSG_SLOW_READER: { http: 400, close: 1008, doc: 'a gateway application that read nothing for gatewayStallMs' },
  ERR_RPMSG_ADDR: { http: 409, doc: 'a reserved rpmsg address, one in use, none free, or no address to send to' },
  ERR_RPMSG_UNSUPPORTED: { http: 409, doc: 'what this side of the bus does not do (announce on the virtio side, claim on the vhost side)' },
  ERR_RPMSG_LIMIT: { http: 409, doc: 'past maxEndpointsPerConnection or maxEndpoints' },
  ERR_RPMSG_DESTROYED: { http: 409, doc: 'a send that waited for a buffer when its endpoint was destroyed' },
  ERR_RPMSG_BATCH_SIZE: { http: 413, close: 1009, doc: 'a gateway batch over MAX_BATCH_BYTES' },
  ERR_RPMSG_NO_BUFFER: { http: 503, doc: 'no free rpmsg buffer now (trySend); retry' },
  ERR_RPMSG_DETACHED: { http: 503, doc: 'an endpoint whose bus is gone for now' },
  ERR_RPMSG_OVERFLOW: { http: 503, doc: 'messages for a gateway endpoint dropped past the bound (reported once per episode)' },
  ERR_RPMSG_LOST: { http: 503, doc: 'sends answered Sent that the peer never acknowledged before its session ended' },
  ERR_RPMSG_DRIVER: { http: 503, doc: 'an rpmsg driver\'s probe, remove or callback threw without a code' },
  ERR_RPMSG_ENDPOINT: { http: 503, doc: 'an endpoint\'s callback threw without a code' },
  ERR_RPMSG_SEND: { http: 503, doc: 'the sample driver\'s send failed without a code' },
  ERR_RPMSG_TIMEOUT: { http: 504, doc: 'no rpmsg buffer came free within the send\'s timeout' },
  // ---- virtio and vhost cores (VirtioError, VhostError): the device under them failed
  ERR_VIRTIO_FEATURES: { http: 503, doc: 'the device cleared FEATURES_OK: it refused the features' },
  ERR_VIRTIO_LEGACY: { http: 503, doc: 'the device does not offer VIRTIO_F_VERSION_1' },
  ERR_VIRTIO_NEEDS_RESET: { http: 503, doc: 'the device set DEVICE_NEEDS_RESET' },
  ERR_VIRTIO_QUEUE: { http: 503, doc: 'a queue callback threw, or the device is broken' },
  ERR_VIRTIO_DRIVER: { http: 503, doc: 'a virtio driver\'s probe or remove threw without a code' },
  ERR_VIRTIO_REMOVED: { http: 503, doc: 'work a driver could not finish because it was removed' },
  ERR_VHOST_FEATURES: { http: 503, doc: 'the virtio side finalized features the device does not offer' },
  ERR_VHOST_NOTIFIER: { http: 503, doc: 'a notifier listener threw' },
  ERR_VHOST_DRIVER: { http: 503, doc: 'a vhost driver\'s probe or remove threw without a code' },
  ERR_VHOST_QUEUE: { http: 503, doc: 'a vhost queue callback threw without a code' },
  // ---- virtqueues (RingError, uapi/ring-error.ts): a ring that breaks the rules
  ERR_RING_SIZE: { http: 400, doc: 'a ring size not a power of two in [1, 32768] (packed: any in [1, 32768]), or a bad alignment' },
  ERR_RING: { http: 503, doc: 'a buffer the driver may not add (no segments, bad address or length)' },
  ERR_RING_FULL: { http: 503, doc: 'not enough free descriptors for the buffer' },
  ERR_RING_USED: { http: 503, doc: 'the device broke the used ring' },
  ERR_RING_BROKEN: { http: 503, doc: 'a queue that saw a device bug and takes no more work (vq->broken)' },
  ERR_RING_AVAIL: { http: 503, doc: 'the driver made more buffers available than the ring holds (avail->idx too far ahead; packed: slots still held)' },
  ERR_RING_INDEX: { http: 503, doc: 'a head or next index outside its table' },
  ERR_RING_LOOP: { http: 503, doc: 'a chain longer than its table (a loop)' },
  ERR_RING_ADDRESS: { http: 503, doc: 'a ring part, indirect table or buffer the device may not access' },
  ERR_RING_LENGTH: { http: 503, doc: 'a chain whose lengths add up past 2^32 - 1' },
  ERR_RING_ORDER: { http: 503, doc: 'a readable descriptor after a writable one' },
  ERR_RING_INDIRECT: { http: 503, doc: 'an indirect descriptor not allowed or not well formed' },
  ERR_RING_ID: { http: 503, doc: 'packed: complete() of a buffer id the device does not hold' }
} as const satisfies Record<`ERR_${string}`, ErrorSpec>

export type ErrorCode = keyof typeof ERRORS

/** Codes whose names start with `P`: a domain's closed set. */
type CodesOf<P extends string> = Extract<ErrorCode, `${P}${string}`>

export type RpmsgErrorCode = CodesOf<'ERR_RPMSG_'>
export type VirtioErrorCode = CodesOf<'ERR_VIRTIO_'>
export type VhostErrorCode = CodesOf<'ERR_VHOST_'>
export type RingErrorCode = 'ERR_RING' | CodesOf<'ERR_RING_'>

export function isErrorCode (code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code)
}

/** The entry of `code`; undefined only for a code forced past the types (a cast). */
const specOf = (code: ErrorCode): ErrorSpec | undefined => isErrorCode(code) ? ERRORS[code] : undefined

/** The control API's status for `code` (500, a daemon fault, for a code not in the registry). */
export const httpStatusOf = (code: ErrorCode): number => specOf(code)?.http ?? 500

/** The close code when `code` ends an rpmsg gateway connection (1008, policy violation, unless the registry says otherwise). */
export const closeCodeOf = (code: ErrorCode): number => specOf(code)?.close ?? 1008
