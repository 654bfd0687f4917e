// soclink's client library: the control API client and its types.
export { ControlClient, type EventStream } from './control-client.js'
export { ApiError } from './errors.js'
export type * from './types.js'
