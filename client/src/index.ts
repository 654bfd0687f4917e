// soclink's client library: the control API client, the rpmsg gateway client, their errors and types.
export { ControlClient } from './control-client.js'
export type { EventStream } from './event-stream.js'
export { ApiError } from './errors.js'
export type { ConnectionOptions } from './credentials.js'
// The control API's types are the contracts' (proto/api), under the names they always had.
export type {
  Health, NodeInfo, Subscriber, Region, PeerState, Peer, FaultAction, FaultPlan, PeerFaults, Window, WindowRequest, WriteResult, Doorbell, RingResult, NodeEvent,
  PciEpFunction, PciEpFunctionAttrs, PciFunctionIds, PciEndpointState, PciEpController, PciEpTree, PciFunction, PciRootComplex, VirtioStatusBit, Device, Virtqueue,
  TestRunRequest, TestRunResult, RpmsgChannelInfo, RpmsgEndpointInfo, RpmsgBusInfo, RpmsgEndpointList,
  NtbInterface, NtbPair, NtbBoard, NtbDeviceState, NtbTransportState, NtbHost, NtbState, NtbLinkResult, NtbBitOwner, NtbDoorbells, NtbDbRequest,
  NtbSpads, NtbSpadWrite, NtbWindow, NtbWindows, NtbPerfState, NtbPerfRequest, NtbPerfResult, ErrorBody
} from '../../proto/api/index.js'
export { RpmsgClient, RpmsgEndpoint, RPMSG_ADDR_ANY } from './rpmsg-client.js'
export type { RpmsgChannelEvent, RpmsgChannelBinding, ClaimChannelOptions, RpmsgMessage, CreateEndpointOptions, ConnectOptions, RpmsgEndpointEvents, SendOptions } from './rpmsg-client.js'
