// soclink's client library: the control API client, its errors and types.
export { ControlClient } from './control-client.js'
export type { EventStream } from './event-stream.js'
export { ApiError } from './errors.js'
export type * from './types.js'
