// Shapes of the control API's replies, field for field (see
// daemon/src/api/schemas.ts).

export interface Health { status: string }

export interface NodeInfo {
  name: string
  role: string
  version: string
  incarnation: string
  uptimeSeconds: number
  listen: string | null
}

export interface Subscriber { peer: string, window: number, base: number, size: number, replica: boolean }

export interface Region {
  id: number
  name: string
  size: number
  populatedPages: number
  writes: number
  subscribers: Subscriber[]
}

export type PeerState = 'up' | 'down' | 'connecting'

export interface Peer {
  name: string
  url: string | null
  direction: 'dialed' | 'accepted'
  role: string
  state: PeerState
  incarnation: string
  rttMs: number | null
  lastError: string
  unacked: number
  counters: Record<string, number>
  /** The link's fault plan (fault injection); null: none. */
  faults: PeerFaults | null
}

export type FaultAction = 'close' | 'reset' | 'blackhole' | 'delay'

/** A fault plan (PUT /v1/peers/:peer/faults): only actions is required. */
export interface FaultPlan {
  actions: FaultAction[]
  count?: number
  afterMs?: number
  gapMs?: number
  maxGapMs?: number
  ms?: number
  maxMs?: number
  delayMs?: number
  seed?: number
}

export interface PeerFaults {
  plan: Required<FaultPlan>
  fired: number
  remaining: number
  active: 'blackhole' | 'delay' | null
  held: number
  lost: number
  counts: Record<FaultAction, number>
}

export interface Window {
  id: number
  peer: string
  region: string | number
  offset: number
  size: number
  replica: boolean
  state: 'opening' | 'open' | 'failed' | 'closed'
  regionId: number
  regionName: string
  lastError: string
  unordered: number
  counters: { writes: number, updates: number, reads: number, errors: number }
}

export interface WindowRequest { peer: string, region: string | number, offset?: number, size: number, replica?: boolean }

export interface WriteResult { offset: number, length: number }

export interface Doorbell { name: string, rings: number, lastValue: number }

export interface RingResult { peer: string, target: string, value: number }

export type NodeEvent =
  | { type: 'doorbell', time: string, peer: string, target: string, value: number }
  | { type: 'link', time: string, peer: string, state: 'up' | 'down', reason: string }
  | { type: 'peer', time: string, peer: string, state: string, error: string }
  | { type: 'window', time: string, window: number, peer: string, state: string, error: string }
  | { type: 'error', time: string, peer: string, message: string }

// ---------------------------------------------------------------- PCIe and virtio
// (daemon/src/api/pcie-schemas.ts)

/** An endpoint function: functions/pci_epf_vhost/<name> in pci_ep configfs. */
export interface PciEpFunction {
  name: string
  type: 'vhost'
  vendorId: number
  deviceId: number
  revisionId: number
  classCode: number
  subsysVendorId: number
  subsysId: number
  interruptPin: number
  msiInterrupts: number
  numVrings: number
  vringSize: number
  vhostDriver: string
}

/** The attributes a function is created or changed with. */
export type PciEpFunctionAttrs = Partial<Omit<PciEpFunction, 'name'>>

export interface PciFunctionIds {
  vendorId: number
  deviceId: number
  revisionId: number
  classCode: number
  subsystemVendorId: number
  subsystemId: number
  interruptPin: number
}

/** A started controller's state (pci_epc). */
export interface PciEndpointState {
  name: string
  rcPeer: string
  started: boolean
  header: PciFunctionIds
  command: number
  bars: Array<{ index: number, size: number, flags: number, region: string, busAddress: number }>
  outbound: Array<{ window: number, pciAddr: number, size: number, state: string }>
  intx: boolean
  counters: { msi: number, intxAssert: number, intxDeassert: number, outboundMaps: number, outboundUnmaps: number, linkEventErrors: number }
}

export interface PciEpController {
  name: string
  function: string | null
  started: boolean
  lastError: string
  /** null while stopped. */
  endpoint: PciEndpointState | null
}

export interface PciEpTree { functions: PciEpFunction[], controllers: PciEpController[] }

/** A function the root complex found; header fields are null until enumerated. */
export type PciFunction = { [K in keyof PciFunctionIds]: number | null } & {
  peer: string
  state: 'enumerating' | 'ready' | 'failed'
  lastError: string
  /** Failed on a timeout: enumeration is tried again while the link is up. */
  retrying: boolean
  bars: Array<{ index: number, size: number, flags: number, busAddress: number, window: number }>
  msi: number
  intx: boolean
}

export interface PciRootComplex { memorySize: number, region: string, spurious: number, functions: PciFunction[] }

export type VirtioStatusBit = 'ACKNOWLEDGE' | 'DRIVER' | 'DRIVER_OK' | 'FEATURES_OK' | 'NEEDS_RESET' | 'FAILED'

export interface Device {
  name: string
  side: 'virtio' | 'vhost'
  peer: string
  transport: 'virtio-pci-epf' | 'pci-epf-vhost' | 'ntb-virtio' | 'ntb-vhost'
  deviceId: number
  vendorId: number
  status: number
  statusBits: VirtioStatusBit[]
  /** "0x..." */
  deviceFeatures: string
  driverFeatures: string
  driver: string | null
  needsReset: string
  lastError: string
  /** virtio: the last probe timed out and the device will be probed again. */
  retrying: boolean
  /** The test device's counters on this side, when the test driver is bound. */
  test: { sent: number, received: number, verified: number, errors: number, bytes: number } | null
}

export interface Virtqueue {
  device: string
  side: 'virtio' | 'vhost'
  index: number
  name: string
  layout: 'split' | 'packed'
  size: number
  region: string
  desc: number | null
  driverArea: number | null
  deviceArea: number | null
  availIdx: number | null
  usedIdx: number | null
  availWrap: boolean | null
  usedWrap: boolean | null
  lastSeenAvail: number | null
  ready: boolean
  counters: { kicks: number, kicksSuppressed: number | null, interrupts: number, buffers: number, errors: number }
  lastError: string
}

export interface TestRunRequest { tx: number, rx: number, timeoutMs?: number }

/** One run's counters: tx buffers sent, rx buffers received and verified, payload bytes both ways. */
export interface TestRunResult { sent: number, received: number, verified: number, errors: number, bytes: number, seconds: number }

/** An rpmsg channel on a daemon's rpmsg bus (GET /v1/rpmsg/channels). */
export interface RpmsgChannelInfo {
  name: string
  /** Its local address; null while unbound (virtio side, rpmsgBind kernel: until a driver or application claims it). */
  src: number | null
  /** The remote address; null until bound (vhost side: by the address service). */
  dst: number | null
  side: 'virtio' | 'vhost'
  device: string
  /** Who holds it: a driver, an application's claim, soclink_config, soclink_eager; null: none. */
  driver: string | null
}

/** A local address on a daemon's rpmsg bus (GET /v1/rpmsg/endpoints). */
export interface RpmsgEndpointInfo {
  addr: number
  side: 'virtio' | 'vhost'
  device: string
  channel: string | null
  service: 'ns' | 'as' | null
  /** gateway: made by an application through ws /v1/rpmsg; bus: the bus's own (a service, or a channel). */
  owner: 'gateway' | 'bus'
  /** The owning gateway connection's id and remote address. */
  connection: number | null
  client: string | null
  /** dropped: Received messages the gateway dropped because its client read too slowly. */
  counters: { sent: number, received: number, dropped: number }
}

export interface RpmsgBusInfo { side: 'virtio' | 'vhost', device: string, counters: Record<string, number> }

export interface RpmsgEndpointList { endpoints: RpmsgEndpointInfo[], buses: RpmsgBusInfo[] }

// ---------------------------------------------------------------- NTB
// (daemon/src/api/ntb-schemas.ts and routes/ntb-tool-schemas.ts)

/** One host's interface of the board's NTB function. */
export interface NtbInterface {
  side: 'primary' | 'secondary'
  host: string
  peer: string | null
  controller: string
  started: boolean
  linkup: boolean
  linkStatus: boolean
  doorbells: { configured: boolean, count: number }
  msi: number[]
  memoryWindows: Array<{
    idx: number
    bar: number
    offset: number
    size: number
    translation: { addr: number, size: number, state: 'mapping' | 'mapped', attached: boolean } | null
  }>
  spads: number[]
  peerSpadBacked: boolean
  lastError: string
  counters: Record<string, number>
}

export interface NtbPair {
  name: string
  a: string
  b: string | null
  configured: boolean
  layout: { spadOffset: number, mw1Offset: number, dbEntrySize: number, spadSize: number, configBar: number, peerSpadBar: number, mwBars: number[] }
  interfaces: NtbInterface[]
}

/** GET /v1/ntb on the board (role ntb). */
export interface NtbBoard {
  role: 'ntb'
  autoPairing: boolean
  config: { numMws: number, mwSizes: number[], dbCount: number, spadCount: number }
  pairs: NtbPair[]
  unpaired: string[]
}

/** ntb_hw_epf as a host sees it. */
export interface NtbDeviceState {
  name: string
  peer: string
  ready: boolean
  link: boolean
  vectors: number
  dbCount: number
  dbValidMask: number
  dbBits: number
  dbMask: number
  mwCount: number
  mwAlign: { addrAlign: number, sizeAlign: number } | null
  translations: Array<{ widx: number, addr: number, size: number }>
  peerMws: Array<{ widx: number, bar: number, base: number, size: number }>
  spadCount: number
  spads: number[]
  peerSpads: number[]
  counters: Record<string, number>
}

export interface NtbTransportState {
  transport: 'ntb-virtio' | 'ntb-vhost'
  state: string
  peerType: string
  lastError: string
  virtioAddr: number | null
  mwSize: number | null
  device: { name: string, deviceId: number, vendorId: number, status: number, statusBits: string[], features: string, driver: string | null } | null
  queues: Array<{ index: number, name: string, size: number, ready: boolean } & Record<string, unknown>>
  counters: Record<string, number>
}

/** GET /v1/ntb on a host (roles ntb-virtio, ntb-vhost). */
export interface NtbHost {
  role: 'ntb-virtio' | 'ntb-vhost'
  side: 'virtio' | 'vhost'
  board: string | null
  memorySize: number
  lastError: string
  /** The bring-up timed out and is tried again. */
  retrying: boolean
  device: NtbDeviceState | null
  transport: NtbTransportState | null
}

export type NtbState = NtbBoard | NtbHost

/** POST /v1/ntb/link. */
export interface NtbLinkResult { enabled: boolean, link: boolean }

/** What the transport and ntb_perf use: touching it needs force. */
export interface NtbBitOwner { bit: number, owner: string }

/** GET and POST /v1/ntb/db. */
export interface NtbDoorbells { bits: number, mask: number, validMask: number, vectorCount: number, owned: NtbBitOwner[] }

export interface NtbDbRequest { clear?: number, mask?: number, unmask?: number, force?: boolean }

/** GET /v1/ntb/spad. */
export interface NtbSpads { count: number, spads: number[], peerSpads: number[], owned: Array<{ from: number, to: number, owner: string }> }

export interface NtbSpadWrite { idx: number, value: number }

export interface NtbWindow {
  widx: number
  addrAlign: number
  sizeAlign: number
  sizeMax: number
  translation: { addr: number, size: number } | null
  owner: string | null
}

/** GET /v1/ntb/mw. */
export interface NtbWindows { count: number, windows: NtbWindow[], peerWindows: Array<{ widx: number, base: number, size: number }> }

/** GET /v1/ntb/perf. */
export interface NtbPerfState {
  state: 'stopped' | 'down' | 'mapping' | 'ready' | 'unavailable'
  reason: string
  widx: number
  bits: { request: number, answer: number } | null
  buffer: { addr: number, size: number } | null
  running: boolean
  /** The run going on: bytes written of bytes, then round trips done of pings; null when none is. */
  run: { bytes: number, written: number, pings: number, pinged: number } | null
  lastError: string
  /** lateAnswers: answers to requests whose ping had timed out, dropped. */
  counters: { answered: number, strayAnswers: number, lateAnswers: number, runs: number, failedRuns: number }
}

export interface NtbPerfRequest { bytes?: number, chunk?: number, pings?: number }

/** POST /v1/ntb/perf: MB/s in 10^6 bytes per second, round trips in microseconds. */
export interface NtbPerfResult {
  bytes: number
  chunk: number
  seconds: number
  mbps: number
  pings: number
  rtt: { min: number, avg: number, p99: number }
}
