// Daemon settings: flags over environment (SOCLINK_*) over a config file
// (--config, JSON or YAML) over defaults. Every setting has one name in all
// three: the file key `deadAfterMs` is the flag `--dead-after-ms` and the
// variable `SOCLINK_DEAD_AFTER_MS`. Pure: callers pass argv, env and a file
// reader, so tests need no process. How each kind of value is read: values.ts.

import { hostname } from 'node:os'
import { parseArgs } from 'node:util'
import { createRequire } from 'node:module'
import { ConfigError } from '../errors.js'
import { VHOST_DRIVERS } from '../hw/pcie/function-table.js'
import {
  ROLES, fromFile, fromText, normalizePeerUrl, type HostPort, type Kind, type NtbPairSetting, type PcieFunctionSetting, type PeerEntry, type PeerSetting, type RegionSetting, type RoleName, type WindowSetting
} from './values.js'
import { RPMSG_BUF_SIZE } from '../rpmsg/wire.js'
import { RPMSG_MAX_BUF_SIZE } from '../rpmsg/bufsz.js'

export { ROLES, normalizePeerUrl, parseSize, type HostPort, type NtbPairSetting, type PcieFunctionSetting, type PeerEntry, type PeerSetting, type RegionSetting, type RoleName, type WindowSetting } from './values.js'

export interface Settings {
  role: RoleName
  name: string
  listen: HostPort
  api: HostPort
  peers: PeerSetting[]
  secret: string
  logLevel: string
  heartbeatMs: number
  deadAfterMs: number
  resumeWindowMs: number
  reconnectMaxMs: number
  maxPayload: number
  maxReplayBytes: number
  handshakeTimeoutMs: number
  maxPreAuthBytes: number
  maxPendingLinks: number
  maxBodyBytes: number
  maxPeers: number
  maxWindows: number
  maxRegionSize: number
  maxRegionMemory: number
  maxGatewayBufferedBytes: number
  gatewayStallMs: number
  maxEndpointsPerConnection: number
  maxEndpoints: number
  linkWaitMs: number
  linkEncoding: 'compact' | 'protobuf'
  linkMask: 'zero' | 'random'
  regions: RegionSetting[]
  doorbells: string[]
  windows: WindowSetting[]
  memorySize: number
  ring: 'split' | 'packed'
  interrupts: 'msi' | 'intx'
  pcieFunctions: PcieFunctionSetting[]
  rpmsgSample: boolean
  vhostDriver: typeof VHOST_DRIVERS[number]
  ntbMws: number
  ntbMwSize: number
  ntbDbCount: number
  ntbSpadCount: number
  ntbPairs: NtbPairSetting[]
  rpmsgBufSize: number
  rpmsgNumBufs: number
  rpmsgBind: 'kernel' | 'eager'
  rpmsgBindChannels: string[]
  faultInjection: boolean
  apiTokenFile: string
  apiInsecure: boolean
  linkInsecure: boolean
  tlsCert: string
  tlsKey: string
  tlsCa: string
}

interface Spec {
  kind: Kind
  doc: string
  /** Not settable by flag or environment (structured, config file only). */
  fileOnly?: boolean
  /** int and size: the smallest and largest value allowed. */
  range?: [number, number]
  /** size: a power of two. */
  pow2?: boolean
}

/** Every setting, with its one name. */
export const SETTINGS: Record<keyof Settings, Spec> = {
  role: { kind: 'role', doc: `what this daemon is: ${ROLES.join(', ')}` },
  name: { kind: 'string', doc: 'node name, unique among linked daemons (default HOSTNAME-ROLE)' },
  listen: { kind: 'hostport', doc: 'HOST:PORT for peer links (default 127.0.0.1:7400)' },
  api: { kind: 'hostport', doc: 'HOST:PORT for the control API (default 127.0.0.1:7401)' },
  peers: { kind: 'peers', doc: 'peer URL to dial, ws://HOST:PORT[/v1/link], wss://HOST:PORT[/v1/link] or HOST:PORT (wss:// with tlsCert, else ws://) (repeatable; comma-separated in the environment); in the config file also {name, secretFile, url?}: a peer with a secret of its own, read from secretFile (dialed if it has a url)' },
  secret: { kind: 'string', doc: 'shared secret for link authentication (or --secret-file)' },
  tlsCert: { kind: 'string', doc: 'TLS certificate file (PEM, with tlsKey): the link port serves wss://, the control API https://, peers given as HOST:PORT are dialed wss://, and this certificate is the client certificate of dials; reloaded on SIGHUP' },
  tlsKey: { kind: 'string', doc: 'the private key file (PEM) of tlsCert' },
  tlsCa: { kind: 'string', doc: 'CA certificate file (PEM; needs tlsCert): peers\' certificates must come from this CA (else the system\'s CAs verify servers); the link port requires a client certificate from it (mutual TLS), and a peer\'s node name must be one its certificate names (CN or DNS SAN)' },
  logLevel: { kind: 'string', doc: 'pino level: fatal, error, warn, info, debug, trace (default info)' },
  heartbeatMs: { kind: 'int', doc: 'ping interval on a quiet link (default 1000)' },
  deadAfterMs: { kind: 'int', doc: 'a connection silent this long is dropped (default 5000)' },
  resumeWindowMs: { kind: 'int', doc: 'how long a dropped session waits to resume before the link is down (default 15000)' },
  reconnectMaxMs: { kind: 'int', doc: 'upper bound of the redial backoff (default 2000)' },
  maxPayload: { kind: 'int', doc: 'largest WebSocket message accepted, bytes (default 67108864)' },
  handshakeTimeoutMs: { kind: 'int', range: [100, 600_000], doc: 'links: time from connect to an authenticated link; an acceptor closes the connection then, whatever it is doing (default 5000)' },
  maxPreAuthBytes: { kind: 'size', range: [1024, 1 << 30], doc: 'links: bytes a connection may send before it has authenticated, in one WebSocket frame (the Hello is a few hundred); more, or a second frame, and it is cut off (default 4K)' },
  maxPendingLinks: { kind: 'int', range: [1, 1_000_000], doc: 'links: connections not yet authenticated at once; past it a new connection is closed at once (default 64)' },
  maxBodyBytes: { kind: 'size', range: [1024, 1 << 30], doc: 'control API: largest JSON request body (default 64K; memory PUTs have their own 16M limit)' },
  maxPeers: { kind: 'int', range: [1, 1_000_000], doc: 'peers this daemon may dial (configured and POST /v1/peers; default 64)' },
  maxWindows: { kind: 'int', range: [1, 1_000_000], doc: 'windows this daemon may have open on peers\' regions (default 1024)' },
  maxRegionSize: { kind: 'size', range: [4096, Number.MAX_SAFE_INTEGER], doc: 'largest region POST /v1/regions or the regions setting may create (default 1G)' },
  maxRegionMemory: { kind: 'size', range: [4096, Number.MAX_SAFE_INTEGER], doc: 'the sizes of every region POST /v1/regions and the regions setting create, added up (default 4G; regions are sparse, so this bounds their memory)' },
  maxGatewayBufferedBytes: { kind: 'size', range: [65536, 1 << 30], doc: 'rpmsg gateway: bytes waiting to be written to one application; past it the gateway stops reading that application (default 16M)' },
  gatewayStallMs: { kind: 'int', range: [100, 3_600_000], doc: 'rpmsg gateway: how long an application may stay past maxGatewayBufferedBytes before it is disconnected (close 1008 ERR_RPMSG_SLOW_READER; default 30000)' },
  maxEndpointsPerConnection: { kind: 'int', range: [1, 1_000_000], doc: 'rpmsg gateway: endpoints one application connection may own (default 1024)' },
  maxEndpoints: { kind: 'int', range: [1, 1_000_000], doc: 'rpmsg gateway: endpoints all application connections of this daemon may own together (default 8192)' },
  maxReplayBytes: { kind: 'int', doc: 'unacknowledged bytes held for replay before a link fails (default 67108864); REST writes, read completions and the rpmsg gateway may fill half of it, then wait' },
  linkWaitMs: { kind: 'int', doc: 'how long a REST write waits for room in a full link, and a non-posted read whose owner answers RETRY is asked again, before the request is answered 503 ERR_LINK_FULL with Retry-After (default 5000)' },
  linkEncoding: { kind: 'linkEncoding', doc: 'links: compact (default: compact hot frames and write combining with peers that speak them) or protobuf (every frame protobuf, no combining: as soclink 0.1)' },
  linkMask: { kind: 'linkMask', doc: 'the WebSocket masking key of links this daemon dials: zero (default: RFC 6455 §5.3 masking with an all-zero key, so frames go out without a masked copy) or random (a fresh key per frame, for links through HTTP intermediaries)' },
  regions: { kind: 'regions', doc: 'regions to create at start, NAME:SIZE (repeatable); in the config file also {name, size, peers: [node names]}: only those peers may open windows onto it' },
  doorbells: { kind: 'list', doc: 'doorbell targets to declare at start (repeatable)' },
  windows: { kind: 'windows', doc: 'windows to open at start: [{peer, region, offset, size, replica}]', fileOnly: true },
  memorySize: { kind: 'size', doc: 'system memory of a root complex: rc, ntb-virtio and ntb-vhost hosts; the ep\'s outbound window onto the rc\'s; e.g. 16M (default)' },
  ring: { kind: 'ring', doc: 'PCIe rc and ntb-virtio: virtqueue layout the drivers ask for, split (default) or packed' },
  interrupts: { kind: 'interrupts', doc: 'PCIe rc: msi (default) or intx' },
  pcieFunctions: { kind: 'functions', doc: 'PCIe ep: endpoint functions, [{name, controller?, vendorId?, deviceId?, subsysVendorId?, subsysId?, classCode?, numVrings?, vringSize?, vhostDriver? (rpmsg | soclink-test | none)}]; default one vhost0 on pcie0', fileOnly: true },
  vhostDriver: { kind: 'vhostDriver', doc: 'PCIe ep: the vhost-client driver of endpoint functions that name none; ntb-vhost: the vhost device\'s driver; rpmsg (default; virtio device 7), soclink-test (the test device) or none (no client linked: the subsystem ids as configured)' },
  // The NTB function's configfs attributes (pci-epf-ntb.c: num_mws, mw1..mw4, db_count, spad_count).
  ntbMws: { kind: 'int', range: [1, 4], doc: 'NTB board: memory windows per host, 1 to 4 (num_mws; default 2)' },
  ntbMwSize: { kind: 'size', range: [4096, 1 << 30], pow2: true, doc: 'NTB board: size of every memory window, a power of two from 4K to 1G (mw1..mw4; default 4M)' },
  ntbDbCount: { kind: 'int', range: [4, 32], doc: 'NTB board: MSI vectors per host, the link vector included, 4 to 32 (db_count; default 32)' },
  ntbSpadCount: { kind: 'int', range: [1, 1024], doc: 'NTB board: scratchpads per host, 1 to 1024 (spad_count; default 64)' },
  ntbPairs: { kind: 'pairs', doc: 'NTB board: two hosts joined by one NTB function, HOSTA:HOSTB (repeatable; comma-separated in the environment; in the file a list of "HOSTA:HOSTB"). None (default): hosts are paired in the order they link, 1st with 2nd, 3rd with 4th' },
  rpmsgNumBufs: { kind: 'int', range: [1, 4096], pow2: true, doc: 'rpmsg buffers per direction, a power of two up to 4096 (default 256, as Linux): the vhost side sizes its rings with it (a PCIe rpmsg function\'s vringSize must be 0 or equal, else refused), the virtio side posts at most this many of the ring\'s entries' },
  rpmsgBufSize: { kind: 'size', range: [RPMSG_BUF_SIZE, RPMSG_MAX_BUF_SIZE], doc: 'rpmsg buffer size, header included: 512 (default, as Linux) up to 65551; larger buffers are used when both sides are configured for them (VIRTIO_RPMSG_F_BUFSZ), and the largest payload follows' },
  rpmsgBind: { kind: 'rpmsgBind', doc: 'virtio side (rc, ntb-virtio): when a channel the vhost side announces is bound (its endpoint made, AS ASSIGN sent): kernel (default) when a driver claims it, as rpmsg_dev_probe() (the rpmsg sample, an application\'s ClaimChannel, rpmsgBindChannels); eager at once, for every channel' },
  rpmsgBindChannels: { kind: 'list', doc: 'virtio side: channel names bound as soon as they are announced, with rpmsgBind kernel too (repeatable; comma-separated in the environment); an application may still claim them' },
  rpmsgSample: { kind: 'boolean', doc: 'load the kernel\'s rpmsg-client-sample driver (rc, ep, NTB hosts); the vhost side also links its channel. A bare flag; true or false in the environment and file (default false)' },
  faultInjection: { kind: 'boolean', doc: 'allow fault plans on links (PUT /v1/peers/:peer/faults: close, reset, blackhole, delay), for tests and drills. A bare flag; true or false in the environment and file (default false)' },
  apiTokenFile: { kind: 'string', doc: 'control API: file of bearer tokens, one "SCOPE TOKEN" a line (scopes read, rpmsg, admin; # comments); every request then needs Authorization: Bearer TOKEN. Reread on SIGHUP. Required (with TLS) for an API beyond loopback (default none: open)' },
  apiInsecure: { kind: 'boolean', doc: 'control API: let it listen beyond loopback without a token file or without TLS, with a warning. A bare flag; true or false in the environment and file (default false)' },
  linkInsecure: { kind: 'boolean', doc: 'links: let the link port listen beyond loopback with neither mutual TLS (tlsCa) nor a shared secret, with a warning: anyone who reaches it can link. A bare flag; true or false in the environment and file (default false)' }
}

const DEFAULTS: Omit<Settings, 'name'> = {
  role: 'rc',
  listen: { host: '127.0.0.1', port: 7400 },
  api: { host: '127.0.0.1', port: 7401 },
  peers: [],
  secret: '',
  tlsCert: '',
  tlsKey: '',
  tlsCa: '',
  logLevel: 'info',
  heartbeatMs: 1000,
  deadAfterMs: 5000,
  resumeWindowMs: 15000,
  reconnectMaxMs: 2000,
  maxPayload: 64 * 1024 * 1024,
  maxReplayBytes: 64 * 1024 * 1024,
  handshakeTimeoutMs: 5000,
  maxPreAuthBytes: 4 * 1024,
  maxPendingLinks: 64,
  maxBodyBytes: 64 * 1024,
  maxPeers: 64,
  maxWindows: 1024,
  maxRegionSize: 1024 * 1024 * 1024,
  maxRegionMemory: 4 * 1024 * 1024 * 1024,
  maxGatewayBufferedBytes: 16 * 1024 * 1024,
  gatewayStallMs: 30_000,
  maxEndpointsPerConnection: 1024,
  maxEndpoints: 8192,
  linkWaitMs: 5000,
  linkEncoding: 'compact',
  linkMask: 'zero',
  regions: [],
  doorbells: [],
  windows: [],
  memorySize: 16 * 1024 * 1024,
  ring: 'split',
  interrupts: 'msi',
  pcieFunctions: [{ name: 'vhost0', controller: 'pcie0' }],
  ntbMws: 2,
  ntbMwSize: 4 * 1024 * 1024,
  ntbDbCount: 32,
  ntbSpadCount: 64,
  ntbPairs: [],
  rpmsgSample: false,
  vhostDriver: 'rpmsg',
  rpmsgBufSize: 512,
  rpmsgNumBufs: 256,
  rpmsgBind: 'kernel',
  rpmsgBindChannels: [],
  faultInjection: false,
  apiTokenFile: '',
  apiInsecure: false,
  linkInsecure: false
}

export const flagOf = (key: string): string => key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())
export const envOf = (key: string): string => 'SOCLINK_' + flagOf(key).replace(/-/g, '_').toUpperCase()
/** Repeatable flags are singular (--peer, --region, --doorbell); their keys plural. */
const SINGULAR: Partial<Record<keyof Settings, string>> = { peers: 'peer', regions: 'region', doorbells: 'doorbell', ntbPairs: 'ntb-pair', rpmsgBindChannels: 'rpmsg-bind-channel' }
/** Kinds whose flag repeats and whose environment variable is comma-separated. */
const repeats = (kind: Kind): boolean => kind === 'list' || kind === 'peers' || kind === 'regions' || kind === 'pairs'
const flagName = (key: keyof Settings): string => SINGULAR[key] ?? flagOf(key)

export interface Sources {
  argv: string[]
  env: Record<string, string | undefined>
  readFile: (path: string) => string
}

/**
 * Result of reading argv: settings to run a daemon with, or to check the
 * health of the one they describe (--health-check), or a request for
 * help/version.
 */
export type Loaded = { kind: 'run' | 'health-check', settings: Settings } | { kind: 'help', text: string } | { kind: 'version' }

export function loadSettings (src: Sources): Loaded {
  const options: Record<string, { type: 'string' | 'boolean', multiple?: boolean, short?: string }> = {
    config: { type: 'string' },
    'secret-file': { type: 'string' },
    'health-check': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' }
  }
  for (const [key, spec] of Object.entries(SETTINGS) as Array<[keyof Settings, Spec]>) {
    if (spec.fileOnly === true) continue
    options[flagName(key)] = spec.kind === 'boolean' ? { type: 'boolean' } : { type: 'string', multiple: repeats(spec.kind) }
  }
  let parsed
  try {
    parsed = parseArgs({ args: src.argv, options, strict: true, allowPositionals: false })
  } catch (err) {
    throw new ConfigError(`${(err as Error).message} (see soclinkd --help)`)
  }
  const flags = parsed.values as Record<string, string | string[] | boolean | undefined>
  if (flags.help === true) return { kind: 'help', text: helpText() }
  if (flags.version === true) return { kind: 'version' }

  const configPath = (flags.config as string | undefined) ?? src.env.SOCLINK_CONFIG
  const file: Record<string, unknown> = configPath !== undefined ? readConfigFile(src, configPath) : {}
  for (const key of Object.keys(file)) {
    if (!(key in SETTINGS) && key !== 'secretFile') throw new ConfigError(`${configPath}: unknown setting ${JSON.stringify(key)}`)
  }

  const out: Record<string, unknown> = { ...DEFAULTS }
  for (const [key, spec] of Object.entries(SETTINGS) as Array<[keyof Settings, Spec]>) {
    const flag = flags[flagName(key)]
    const env = spec.fileOnly === true ? undefined : src.env[envOf(key)]
    // A boolean flag takes no value: present is true.
    if (flag !== undefined) out[key] = typeof flag === 'boolean' ? flag : checked(spec, fromText(key, spec.kind, flag as string | string[], `--${flagName(key)}`), `--${flagName(key)}`)
    else if (env !== undefined && env !== '') out[key] = checked(spec, fromText(key, spec.kind, repeats(spec.kind) ? env.split(',') : env, envOf(key)), envOf(key))
    else if (key in file) out[key] = checked(spec, fromFile(spec.kind, file[key], `${configPath}: ${key}`), `${configPath}: ${key}`)
  }
  out.secret = resolveSecret(src, [
    [flags.secret as string | undefined, flags['secret-file'] as string | undefined],
    [src.env.SOCLINK_SECRET, src.env.SOCLINK_SECRET_FILE],
    [file.secret as string | undefined, file.secretFile as string | undefined]
  ])
  if (out.name === undefined) out.name = `${hostname()}-${out.role as string}`
  const s = out as unknown as Settings
  checkTls(s)
  checkLiveness(s)
  // A bare HOST:PORT is wss:// with tlsCert (normalizePeerUrl).
  const secure = s.tlsCert !== ''
  s.peers = s.peers.map((p) => typeof p === 'string' ? normalizePeerUrl(p, secure) : p.url === undefined ? p : { ...p, url: normalizePeerUrl(p.url, secure) })
  const named = s.peers.filter((p): p is PeerEntry => typeof p !== 'string').map((p) => p.name)
  const twice = named.find((n, i) => named.indexOf(n) !== i)
  if (twice !== undefined) throw new ConfigError(`peers: ${twice} is given twice`)
  if (named.includes(s.name)) throw new ConfigError(`peers: ${s.name} is this daemon's own name`)
  const dialed = dialUrls(s.peers).length
  if (dialed > s.maxPeers) throw new ConfigError(`${dialed} peers to dial: more than maxPeers (${s.maxPeers})`)
  return { kind: flags['health-check'] === true ? 'health-check' : 'run', settings: s }
}

/** The peers to dial: every URL, with the name it must answer to when configured with one. */
export function dialUrls (peers: readonly PeerSetting[]): Array<{ url: string, name?: string }> {
  return peers.flatMap((p) => typeof p === 'string' ? [{ url: p }] : p.url !== undefined ? [{ url: p.url, name: p.name }] : [])
}

/** The peers with a secret of their own. */
export function peerSecretFiles (peers: readonly PeerSetting[]): PeerEntry[] {
  return peers.filter((p): p is PeerEntry => typeof p !== 'string')
}

/**
 * A link is pinged every heartbeatMs and dropped after deadAfterMs of
 * silence (link/liveness.ts): a quiet link is silent for up to heartbeatMs
 * plus a round trip between Pongs, so a deadAfterMs not above heartbeatMs
 * drops healthy links over and over.
 */
function checkLiveness (s: Settings): void {
  if (s.deadAfterMs <= s.heartbeatMs) {
    throw new ConfigError(`deadAfterMs (--dead-after-ms ${s.deadAfterMs}) must be more than heartbeatMs (--heartbeat-ms ${s.heartbeatMs}): a link pinged every ${s.heartbeatMs} ms is silent that long between answers, and would be dropped while healthy; a few heartbeats is usual (the defaults are 1000 and 5000)`)
  }
}

/** TLS files come as a set: a certificate with its key, and a CA only beside them. */
function checkTls (s: Settings): void {
  if ((s.tlsCert === '') !== (s.tlsKey === '')) {
    throw new ConfigError(`tlsCert and tlsKey come together: ${s.tlsCert === '' ? 'tlsKey is set without tlsCert' : 'tlsCert is set without tlsKey'} (--tls-cert FILE --tls-key FILE)`)
  }
  if (s.tlsCa !== '' && s.tlsCert === '') {
    throw new ConfigError('tlsCa needs tlsCert and tlsKey: a daemon that verifies its peers\' certificates (mutual TLS) presents its own (--tls-cert FILE --tls-key FILE)')
  }
}

/**
 * The secret from the first source (flags, environment, file) that gives
 * one, inline or as a file to read; at one level, inline wins.
 */
function resolveSecret (src: Sources, levels: Array<[string | undefined, string | undefined]>): string {
  for (const [inline, path] of levels) {
    const hasInline = inline !== undefined && inline !== ''
    const hasPath = path !== undefined && path !== ''
    if (hasInline) return inline
    if (hasPath) {
      try {
        return src.readFile(path).trim()
      } catch (err) {
        throw new ConfigError(`cannot read secret file ${path}: ${(err as Error).message}`)
      }
    }
  }
  return ''
}

// The YAML parser is some 70 modules: loaded only when a YAML config file is read, not on every start.
let yamlParse: ((text: string) => unknown) | undefined
function parseYaml (text: string): unknown {
  yamlParse ??= (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse
  return yamlParse(text)
}

function readConfigFile (src: Sources, path: string): Record<string, unknown> {
  let text: string
  try {
    text = src.readFile(path)
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`)
  }
  let value: unknown
  try {
    value = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text)
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid ${/\.json$/i.test(path) ? 'JSON' : 'YAML'}: ${(err as Error).message}`)
  }
  if (value === null || value === undefined) return {}
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`config file ${path} must hold a mapping of settings`)
  const v = value as Record<string, unknown>
  // secretFile is accepted in the file beside the settings proper.
  const { secretFile, ...rest } = v
  if (secretFile !== undefined && typeof secretFile !== 'string') throw new ConfigError(`${path}: secretFile must be a string`)
  return secretFile !== undefined ? { ...rest, secretFile } as Record<string, unknown> : rest
}

/** A value's range and power-of-two bounds, where its spec sets them. */
function checked (spec: Spec, v: unknown, where: string): unknown {
  if (typeof v !== 'number') return v
  if (spec.range !== undefined && (v < spec.range[0] || v > spec.range[1])) throw new ConfigError(`${where}: ${v} is outside ${spec.range[0]}..${spec.range[1]}`)
  if (spec.pow2 === true && 2 ** Math.round(Math.log2(v)) !== v) throw new ConfigError(`${where}: ${v} is not a power of two`)
  return v
}

function helpText (): string {
  const rows = (Object.entries(SETTINGS) as Array<[keyof Settings, Spec]>).map(([key, spec]) =>
    spec.fileOnly === true
      ? `  (file) ${key}\n      ${spec.doc}`
      : `  --${flagName(key)}${spec.kind === 'boolean' ? '' : spec.kind === 'int' ? ' N' : ' VALUE'}   [${envOf(key)}] [file: ${key}]\n      ${spec.doc}`)
  return [
    'soclinkd: the soclink daemon',
    '',
    'usage: soclinkd [--role ROLE] [--name NAME] [--listen HOST:PORT] [--api HOST:PORT] [--peer URL]... [options]',
    '',
    'Settings come from flags, then SOCLINK_* environment variables, then the',
    'config file (--config FILE, JSON or YAML, keys as in [file: ...]), then defaults.',
    '',
    '  --config FILE   [SOCLINK_CONFIG]',
    '  --secret-file FILE   [SOCLINK_SECRET_FILE] [file: secretFile]',
    ...rows,
    '',
    '  --health-check',
    '      do not start: GET /healthz on the control API these settings describe (an unspecified',
    '      host is asked on loopback; https with tlsCert, trusting tlsCa; a token from apiTokenFile)',
    '      and exit 0 if it answers 200, else 1 with the reason. The Docker image\'s HEALTHCHECK',
    '  --help, --version'
  ].join('\n')
}
