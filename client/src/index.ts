// soclink's client library: the control API client, the rpmsg gateway client, their errors and types.
export { ControlClient } from './control-client.js'
export type { EventStream } from './event-stream.js'
export { ApiError } from './errors.js'
export type { ConnectionOptions } from './credentials.js'
export type * from './types.js'
export { RpmsgClient, RpmsgEndpoint, RPMSG_ADDR_ANY } from './rpmsg-client.js'
export type { RpmsgChannelEvent, RpmsgChannelBinding, ClaimChannelOptions, RpmsgMessage, CreateEndpointOptions, ConnectOptions, RpmsgEndpointEvents, SendOptions } from './rpmsg-client.js'
