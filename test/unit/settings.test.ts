// loadSettings: flags over environment over config file over defaults, one
// name per setting in all three. Pure: argv, env and a fake file reader.

import t from 'tap'
import { hostname } from 'node:os'
import { dialUrls, loadSettings, peerSecretFiles, type Loaded, type Settings, type Sources } from '../../daemon/src/config/settings.js'
import { ConfigError } from '../../daemon/src/errors.js'

/** A file reader over an in-memory map; missing paths throw like fs does. */
function files (map: Record<string, string>): Sources['readFile'] {
  return (path) => {
    const text = map[path]
    if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: 'ENOENT' })
    return text
  }
}

function load (argv: string[], env: Record<string, string> = {}, fileMap: Record<string, string> = {}): Settings {
  const loaded = loadSettings({ argv, env, readFile: files(fileMap) })
  if (loaded.kind !== 'run') throw new Error(`expected settings, got ${loaded.kind}`)
  return loaded.settings
}

const CONFIG_ERROR = { name: 'ConfigError', code: 'ERR_CONFIG' }

t.test('no arguments: defaults that run on loopback', async (t) => {
  const s = load([])
  t.same(s, {
    role: 'rc',
    name: `${hostname()}-rc`,
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
    maxPayload: 67108864,
    maxReplayBytes: 67108864,
    handshakeTimeoutMs: 5000,
    maxPreAuthBytes: 4096,
    maxPendingLinks: 64,
    maxBodyBytes: 65536,
    maxPeers: 64,
    maxWindows: 1024,
    maxRegionSize: 1073741824,
    maxRegionMemory: 4294967296,
    maxGatewayBufferedBytes: 16777216,
    gatewayStallMs: 30000,
    maxEndpointsPerConnection: 1024,
    maxEndpoints: 8192,
    linkWaitMs: 5000,
    linkEncoding: 'compact',
    linkMask: 'zero',
    regions: [],
    doorbells: [],
    windows: [],
    memorySize: 16777216,
    ring: 'split',
    interrupts: 'msi',
    pcieFunctions: [{ name: 'vhost0', controller: 'pcie0' }],
    ntbMws: 2,
    ntbMwSize: 4194304,
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
  })
  t.equal(load(['--role', 'ep']).name, `${hostname()}-ep`, 'the default name follows the role')
})

t.test('precedence: flag > environment > file > default', async (t) => {
  const yaml = 'deadAfterMs: 111\nheartbeatMs: 99\nrole: ep\nlisten: 0.0.0.0:9000\n'
  const fileMap = { '/etc/soclink.yaml': yaml }
  const env = { SOCLINK_CONFIG: '/etc/soclink.yaml', SOCLINK_DEAD_AFTER_MS: '333', SOCLINK_ROLE: 'ntb' }

  const fileOnly = load([], { SOCLINK_CONFIG: '/etc/soclink.yaml' }, fileMap)
  t.equal(fileOnly.deadAfterMs, 111, 'file over default')
  t.equal(fileOnly.heartbeatMs, 99)
  t.equal(fileOnly.role, 'ep')
  t.same(fileOnly.listen, { host: '0.0.0.0', port: 9000 })
  t.equal(fileOnly.resumeWindowMs, 15000, 'default where nothing is set')

  const withEnv = load([], env, fileMap)
  t.equal(withEnv.deadAfterMs, 333, 'environment over file')
  t.equal(withEnv.role, 'ntb')
  t.equal(withEnv.heartbeatMs, 99, 'file still fills the rest')

  const withFlag = load(['--dead-after-ms', '444'], env, fileMap)
  t.equal(withFlag.deadAfterMs, 444, 'flag over environment')
  t.equal(withFlag.role, 'ntb')

  t.equal(load([], { ...env, SOCLINK_DEAD_AFTER_MS: '' }, fileMap).deadAfterMs, 111, 'an empty variable counts as unset')
})

t.test('every setting has one name in flags, environment and file', async (t) => {
  const cases: Array<[keyof Settings, string, string, unknown]> = [
    ['heartbeatMs', '--heartbeat-ms', 'SOCLINK_HEARTBEAT_MS', 250],
    ['deadAfterMs', '--dead-after-ms', 'SOCLINK_DEAD_AFTER_MS', 9000],
    ['resumeWindowMs', '--resume-window-ms', 'SOCLINK_RESUME_WINDOW_MS', 1234],
    ['reconnectMaxMs', '--reconnect-max-ms', 'SOCLINK_RECONNECT_MAX_MS', 77],
    ['maxPayload', '--max-payload', 'SOCLINK_MAX_PAYLOAD', 4096],
    ['maxReplayBytes', '--max-replay-bytes', 'SOCLINK_MAX_REPLAY_BYTES', 8192],
    ['handshakeTimeoutMs', '--handshake-timeout-ms', 'SOCLINK_HANDSHAKE_TIMEOUT_MS', 750],
    ['maxPreAuthBytes', '--max-pre-auth-bytes', 'SOCLINK_MAX_PRE_AUTH_BYTES', 8192],
    ['maxPendingLinks', '--max-pending-links', 'SOCLINK_MAX_PENDING_LINKS', 5],
    ['maxBodyBytes', '--max-body-bytes', 'SOCLINK_MAX_BODY_BYTES', 4096],
    ['maxPeers', '--max-peers', 'SOCLINK_MAX_PEERS', 3],
    ['maxWindows', '--max-windows', 'SOCLINK_MAX_WINDOWS', 5],
    ['maxRegionSize', '--max-region-size', 'SOCLINK_MAX_REGION_SIZE', 65536],
    ['maxRegionMemory', '--max-region-memory', 'SOCLINK_MAX_REGION_MEMORY', 131072],
    ['maxGatewayBufferedBytes', '--max-gateway-buffered-bytes', 'SOCLINK_MAX_GATEWAY_BUFFERED_BYTES', 1048576],
    ['gatewayStallMs', '--gateway-stall-ms', 'SOCLINK_GATEWAY_STALL_MS', 900],
    ['maxEndpointsPerConnection', '--max-endpoints-per-connection', 'SOCLINK_MAX_ENDPOINTS_PER_CONNECTION', 7],
    ['maxEndpoints', '--max-endpoints', 'SOCLINK_MAX_ENDPOINTS', 9],
    ['linkWaitMs', '--link-wait-ms', 'SOCLINK_LINK_WAIT_MS', 2500],
    ['linkEncoding', '--link-encoding', 'SOCLINK_LINK_ENCODING', 'protobuf'],
    ['linkMask', '--link-mask', 'SOCLINK_LINK_MASK', 'random'],
    ['rpmsgBind', '--rpmsg-bind', 'SOCLINK_RPMSG_BIND', 'eager'],
    ['logLevel', '--log-level', 'SOCLINK_LOG_LEVEL', 'debug'],
    ['name', '--name', 'SOCLINK_NAME', 'board-7'],
    ['secret', '--secret', 'SOCLINK_SECRET', 'hunter2'],
    ['apiTokenFile', '--api-token-file', 'SOCLINK_API_TOKEN_FILE', '/run/secrets/api-tokens']
  ]
  for (const [key, flag, env, value] of cases) {
    t.equal(load([flag, String(value)])[key], value, flag)
    t.equal(load([], { [env]: String(value) })[key], value, env)
    t.equal(load(['--config', 'c.json'], {}, { 'c.json': JSON.stringify({ [key]: value }) })[key], value, `file key ${key}`)
  }
  t.same(load(['--api', '[::1]:8080']).api, { host: '::1', port: 8080 })
  t.same(load([], { SOCLINK_LISTEN: '10.0.0.2:7500' }).listen, { host: '10.0.0.2', port: 7500 })
})

t.test('peers: repeatable, normalized to ws:// URLs with /v1/link', async (t) => {
  t.same(load(['--peer', '127.0.0.1:7400', '--peer', 'ws://board:7500', '--peer', 'wss://x.example:443/custom']).peers, [
    'ws://127.0.0.1:7400/v1/link',
    'ws://board:7500/v1/link',
    'wss://x.example/custom'
  ])
  t.same(load([], { SOCLINK_PEERS: '10.0.0.1:7400, 10.0.0.2:7400' }).peers,
    ['ws://10.0.0.1:7400/v1/link', 'ws://10.0.0.2:7400/v1/link'], 'comma-separated in the environment')
  t.same(load(['--config', 'c.yaml'], {}, { 'c.yaml': 'peers:\n  - host1:7400\n' }).peers, ['ws://host1:7400/v1/link'])
  t.same(load(['--peer', 'a:1'], { SOCLINK_PEERS: 'b:2' }).peers, ['ws://a:1/v1/link'], 'a flag replaces the list')
})

t.test('TLS files: one name each in flags, environment and file; a certificate with its key, a CA beside them', async (t) => {
  const names: Array<[keyof Settings, string, string]> = [
    ['tlsCert', '--tls-cert', 'SOCLINK_TLS_CERT'], ['tlsKey', '--tls-key', 'SOCLINK_TLS_KEY'], ['tlsCa', '--tls-ca', 'SOCLINK_TLS_CA']
  ]
  const flags = names.flatMap(([key, flag]) => [flag, `/etc/soclink/${key}.pem`])
  const want = { tlsCert: '/etc/soclink/tlsCert.pem', tlsKey: '/etc/soclink/tlsKey.pem', tlsCa: '/etc/soclink/tlsCa.pem' }
  t.match(load(flags), want, 'flags')
  t.match(load([], Object.fromEntries(names.map(([key, , env]) => [env, `/etc/soclink/${key}.pem`]))), want, 'environment')
  t.match(load(['--config', 'c.json'], {}, { 'c.json': JSON.stringify(want) }), want, 'file keys')
  t.match(load(['--tls-cert', 'c.pem', '--tls-key', 'k.pem']), { tlsCert: 'c.pem', tlsKey: 'k.pem', tlsCa: '' }, 'TLS without a CA: no mutual TLS')
  t.throws(() => load(['--tls-cert', 'c.pem']), { ...CONFIG_ERROR, message: /tlsCert and tlsKey come together: tlsCert is set without tlsKey/ })
  t.throws(() => load([], { SOCLINK_TLS_KEY: 'k.pem' }), { ...CONFIG_ERROR, message: /tlsKey is set without tlsCert/ })
  t.throws(() => load(['--tls-ca', 'ca.pem']), { ...CONFIG_ERROR, message: /tlsCa needs tlsCert and tlsKey/ })
  const help = loadSettings({ argv: ['--help'], env: {}, readFile: files({}) })
  for (const [key, flag, env] of names) t.match(help.kind === 'help' ? help.text : '', new RegExp(`${flag} VALUE\\s+\\[${env}\\] \\[file: ${key}\\]`), `--help lists ${flag}`)
})

t.test('peers with TLS: a bare HOST:PORT is dialed wss://, a URL as given', async (t) => {
  const tls = ['--tls-cert', 'c.pem', '--tls-key', 'k.pem']
  t.same(load([...tls, '--peer', 'rc:7400', '--peer', 'ws://plain:7400', '--peer', 'wss://board:7500']).peers,
    ['wss://rc:7400/v1/link', 'ws://plain:7400/v1/link', 'wss://board:7500/v1/link'])
  t.same(load(['--peer', 'rc:7400']).peers, ['ws://rc:7400/v1/link'], 'without tlsCert: ws://')
})

t.test('peer URLs: what a dialer can use, and no more than maxPeers', async (t) => {
  for (const bad of ['ws://user:pw@host:1', 'ws://host:1/v1/link?x=1', 'ws://host:1/#frag', 'ws://a b:1', 'ws://-:1', 'http://host:1', 'ws://' + 'a'.repeat(3000) + ':1']) {
    t.throws(() => load(['--peer', bad]), CONFIG_ERROR, `--peer ${bad.slice(0, 40)}`)
  }
  t.same(load(['--peer', 'host_1:7400', '--peer', '[::1]:7400']).peers, ['ws://host_1:7400/v1/link', 'ws://[::1]:7400/v1/link'])
  t.throws(() => load(['--peer', 'a:1', '--peer', 'b:1', '--max-peers', '1']), CONFIG_ERROR, 'more peers configured than maxPeers')
})

t.test('limits are bounded themselves', async (t) => {
  t.throws(() => load(['--max-pre-auth-bytes', '10']), CONFIG_ERROR, 'a pre-auth limit too small for a handshake')
  t.throws(() => load(['--handshake-timeout-ms', '0']), CONFIG_ERROR)
  t.throws(() => load(['--max-endpoints', '0']), CONFIG_ERROR)
  t.equal(load(['--max-region-size', '2G']).maxRegionSize, 2 ** 31)
})

t.test('regions and doorbells', async (t) => {
  t.same(load(['--region', 'a:64K']).regions, [{ name: 'a', size: 65536 }])
  t.same(load(['--region', 'a:64K', '--region', 'bar:0x1000', '--region', 'c:2M', '--region', 'd:1G', '--region', 'e:100']).regions, [
    { name: 'a', size: 65536 }, { name: 'bar', size: 4096 }, { name: 'c', size: 2097152 }, { name: 'd', size: 1073741824 }, { name: 'e', size: 100 }
  ])
  t.same(load([], { SOCLINK_REGIONS: 'x:4K,y:8K' }).regions, [{ name: 'x', size: 4096 }, { name: 'y', size: 8192 }])
  t.same(load(['--config', 'c.yaml'], {}, { 'c.yaml': 'regions:\n  - m:1K\n  - {name: n, size: 16}\n' }).regions,
    [{ name: 'm', size: 1024 }, { name: 'n', size: 16 }])
  for (const bad of ['a', 'a:', ':64K', 'a:0', 'a:-1', 'a:64Q', 'a:1.5K']) {
    t.throws(() => load(['--region', bad]), CONFIG_ERROR, `--region ${bad}`)
  }
  t.same(load(['--doorbell', 'db0', '--doorbell', 'msi:3']).doorbells, ['db0', 'msi:3'])
})

t.test('regions with a peers list (config file): only those peers may open windows onto them', async (t) => {
  t.same(load(['--config', 'c.yaml'], {}, { 'c.yaml': 'regions:\n  - {name: s, size: 4096, peers: [ep, ep2]}\n  - o:4K\n' }).regions,
    [{ name: 's', size: 4096, peers: ['ep', 'ep2'] }, { name: 'o', size: 4096 }])
  t.same(load(['--config', 'c.json'], {}, { 'c.json': '{"regions": [{"name": "s", "size": 16, "peers": []}]}' }).regions, [{ name: 's', size: 16, peers: [] }], 'an empty list: no peer')
  t.same(load(['--config', 'c.yaml'], {}, { 'c.yaml': 'regions:\n  - {name: v, size: 64K, peers: [ep]}\n' }).regions, [{ name: 'v', size: 65536, peers: ['ep'] }], 'a size with a suffix')
  for (const bad of ['{name: s, size: 0}', '{name: s, size: 12Q}', '{name: s, size: 16, peers: ep}', '{name: s, size: 16, peers: [1]}', '{name: s, size: 16, peers: [""]}', '{name: s, size: 16, owner: x}']) {
    t.throws(() => load(['--config', 'c.yaml'], {}, { 'c.yaml': `regions:\n  - ${bad}\n` }), CONFIG_ERROR, bad)
  }
})

t.test('peers with a secret of their own (config file): {name, secretFile, url?}', async (t) => {
  const yaml = 'peers:\n  - host1:7400\n  - {name: rc, secretFile: /run/secrets/rc, url: rc-host:7400}\n  - {name: ep2, secretFile: /run/secrets/ep2}\n'
  const s = load(['--config', 'c.yaml'], {}, { 'c.yaml': yaml })
  t.same(s.peers, [
    'ws://host1:7400/v1/link',
    { name: 'rc', secretFile: '/run/secrets/rc', url: 'ws://rc-host:7400/v1/link' },
    { name: 'ep2', secretFile: '/run/secrets/ep2' }
  ], 'URLs normalized; an entry without url is a peer that dials us')
  t.same(dialUrls(s.peers), [{ url: 'ws://host1:7400/v1/link' }, { url: 'ws://rc-host:7400/v1/link', name: 'rc' }])
  t.same(peerSecretFiles(s.peers).map((p) => p.name), ['rc', 'ep2'])
  t.throws(() => load(['--config', 'c.yaml'], {}, { 'c.yaml': 'peers:\n  - {name: rc, secret: hunter2}\n' }),
    { ...CONFIG_ERROR, message: /never written in the config file; give secretFile/ }, 'a secret inline in the file is refused')
  for (const bad of ['{name: rc}', '{secretFile: /x}', '{name: "", secretFile: /x}', '{name: rc, secretFile: /x, url: "http://x:1"}', '{name: rc, secretFile: /x, extra: 1}']) {
    t.throws(() => load(['--config', 'c.yaml'], {}, { 'c.yaml': `peers:\n  - ${bad}\n` }), CONFIG_ERROR, bad)
  }
  t.throws(() => load(['--config', 'c.yaml'], {}, { 'c.yaml': 'peers:\n  - {name: rc, secretFile: /a}\n  - {name: rc, secretFile: /b}\n' }), CONFIG_ERROR, 'a name given twice')
  t.throws(() => load(['--name', 'rc', '--config', 'c.yaml'], {}, { 'c.yaml': 'peers:\n  - {name: rc, secretFile: /a}\n' }), CONFIG_ERROR, 'our own name')
  t.throws(() => load(['--max-peers', '1', '--config', 'c.yaml'], {}, { 'c.yaml': 'peers:\n  - a:1\n  - {name: rc, secretFile: /x, url: b:1}\n' }), CONFIG_ERROR, 'dialed entries count toward maxPeers')
  t.equal(load(['--max-peers', '1', '--config', 'c.yaml'], {}, { 'c.yaml': 'peers:\n  - a:1\n  - {name: rc, secretFile: /x}\n' }).peers.length, 2, 'entries that are not dialed do not')
})

t.test('windows come from the config file only', async (t) => {
  const yaml = 'windows:\n  - {peer: ep, region: bar0, size: 4096}\n  - {peer: ep, region: 2, offset: 8192, size: 16, replica: false}\n'
  t.same(load(['--config', 'w.yml'], {}, { 'w.yml': yaml }).windows, [
    { peer: 'ep', region: 'bar0', offset: 0, size: 4096, replica: true },
    { peer: 'ep', region: 2, offset: 8192, size: 16, replica: false }
  ])
  t.throws(() => load(['--windows', 'x']), CONFIG_ERROR)
  t.same(load([], { SOCLINK_WINDOWS: 'x' }).windows, [], 'no environment variable for windows')
  t.throws(() => load(['--config', 'w.yml'], {}, { 'w.yml': 'windows:\n  - {peer: ep, region: r, size: 1, extra: 1}\n' }), CONFIG_ERROR)
})

t.test('--secret-file is read and trimmed; --secret wins over it', async (t) => {
  const fileMap = { '/run/secret': '  s3cret\n' }
  t.equal(load(['--secret-file', '/run/secret'], {}, fileMap).secret, 's3cret')
  t.equal(load([], { SOCLINK_SECRET_FILE: '/run/secret' }, fileMap).secret, 's3cret')
  t.equal(load(['--secret', 'flag', '--secret-file', '/run/secret'], {}, fileMap).secret, 'flag')
  t.throws(() => load(['--secret-file', '/missing']), { ...CONFIG_ERROR, message: /cannot read secret file \/missing/ })
})

t.test('deadAfterMs must be more than heartbeatMs: else a healthy link is dropped between pings', async (t) => {
  for (const argv of [['--dead-after-ms', '500'], ['--heartbeat-ms', '5000'], ['--heartbeat-ms', '300', '--dead-after-ms', '300']]) {
    t.throws(() => load(argv), { code: 'ERR_CONFIG', message: /deadAfterMs \(--dead-after-ms \d+\) must be more than heartbeatMs \(--heartbeat-ms \d+\)/ }, argv.join(' '))
  }
  t.throws(() => load([], { SOCLINK_HEARTBEAT_MS: '6000' }), { code: 'ERR_CONFIG' }, 'from the environment too')
  t.equal(load(['--heartbeat-ms', '100', '--dead-after-ms', '101']).deadAfterMs, 101, 'more than heartbeatMs is taken')
})

t.test('refusals are ConfigErrors (ERR_CONFIG)', async (t) => {
  const cases: Array<[string, () => unknown]> = [
    ['unknown flag', () => load(['--bogus', '1'])],
    ['positional argument', () => load(['rc'])],
    ['unknown file key', () => load(['--config', 'c.json'], {}, { 'c.json': '{"deadAfterMs": 1, "bogus": 2}' })],
    ['bad role flag', () => load(['--role', 'gpu'])],
    ['bad role in env', () => load([], { SOCLINK_ROLE: 'RC' })],
    ['bad role in file', () => load(['--config', 'c.yaml'], {}, { 'c.yaml': 'role: switch\n' })],
    ['non-integer flag', () => load(['--heartbeat-ms', '1.5'])],
    ['negative integer in env', () => load([], { SOCLINK_DEAD_AFTER_MS: '-1' })],
    ['string for an int in file', () => load(['--config', 'c.json'], {}, { 'c.json': '{"heartbeatMs": "100"}' })],
    ['bad host:port', () => load(['--listen', '127.0.0.1'])],
    ['port out of range', () => load(['--api', '127.0.0.1:70000'])],
    ['unreadable config file', () => load(['--config', '/nope.yaml'])],
    ['invalid JSON', () => load(['--config', 'c.json'], {}, { 'c.json': '{deadAfterMs: 1' })],
    ['invalid YAML', () => load(['--config', 'c.yaml'], {}, { 'c.yaml': 'a: [1, 2\n' })],
    ['file not a mapping', () => load(['--config', 'c.yaml'], {}, { 'c.yaml': '- 1\n- 2\n' })],
    ['bad peer URL', () => load(['--peer', 'ws://[bad'])],
    ['peer with a bad port', () => load(['--peer', 'x:99999'])]
  ]
  for (const [name, fn] of cases) {
    let err: unknown
    try { fn() } catch (e) { err = e }
    t.ok(err instanceof ConfigError, `${name}: ConfigError`)
    t.equal((err as ConfigError | undefined)?.code, 'ERR_CONFIG', `${name}: ERR_CONFIG`)
  }
})

t.test('--help and --version', async (t) => {
  const help = loadSettings({ argv: ['--help'], env: {}, readFile: files({}) })
  t.equal(help.kind, 'help')
  if (help.kind === 'help') {
    t.match(help.text, /--dead-after-ms N\s+\[SOCLINK_DEAD_AFTER_MS\] \[file: deadAfterMs\]/)
    t.match(help.text, /--peer VALUE\s+\[SOCLINK_PEERS\] \[file: peers\]/)
  }
  t.same(loadSettings({ argv: ['--version'], env: {}, readFile: files({}) }), { kind: 'version' })
})

t.test('PCIe settings: sizes, choices and functions', async (t) => {
  t.equal(load(['--memory-size', '64M']).memorySize, 64 * 1024 * 1024)
  t.equal(load(['--ring', 'packed']).ring, 'packed')
  t.throws(() => load(['--ring', 'twisted']), { code: 'ERR_CONFIG' })
  t.equal(load(['--interrupts', 'intx']).interrupts, 'intx')
  const s = load(['--config', 'c.yaml'], {}, { 'c.yaml': 'pcieFunctions:\n  - {name: f1, subsysId: 7}\n' })
  t.same(s.pcieFunctions, [{ name: 'f1', subsysId: 7 }])
  t.throws(() => load(['--config', 'c.yaml'], {}, { 'c.yaml': 'pcieFunctions:\n  - {name: f1, colour: red}\n' }), { code: 'ERR_CONFIG' })
  const rp = load(['--config', 'c.yaml'], {}, { 'c.yaml': 'pcieFunctions:\n  - {name: vhost0, controller: pcie0, vhostDriver: rpmsg}\n' })
  t.same(rp.pcieFunctions, [{ name: 'vhost0', controller: 'pcie0', vhostDriver: 'rpmsg' }], 'vhostDriver picks the vhost-client driver')
  t.throws(() => load(['--config', 'c.yaml'], {}, { 'c.yaml': 'pcieFunctions:\n  - {name: f1, vhostDriver: virtio-net}\n' }), { code: 'ERR_CONFIG' }, 'only soclink-test or rpmsg')
  t.throws(() => load(['--config', 'c.yaml'], {}, { 'c.yaml': 'pcieFunctions:\n  - {name: f1, vhostDriver: 7}\n' }), { code: 'ERR_CONFIG' })
})

t.test('apiInsecure: a bare flag, true or false in the environment and file', async (t) => {
  t.equal(load([]).apiInsecure, false, 'off by default')
  t.equal(load(['--api-insecure']).apiInsecure, true, '--api-insecure')
  t.equal(load([], { SOCLINK_API_INSECURE: 'true' }).apiInsecure, true, 'SOCLINK_API_INSECURE=true')
  t.equal(load(['--config', 'c.yaml'], {}, { 'c.yaml': 'apiInsecure: true\n' }).apiInsecure, true, 'file key apiInsecure')
})

t.test('linkInsecure: a bare flag, true or false in the environment and file', async (t) => {
  t.equal(load([]).linkInsecure, false, 'off by default')
  t.equal(load(['--link-insecure']).linkInsecure, true, '--link-insecure')
  t.equal(load([], { SOCLINK_LINK_INSECURE: 'true' }).linkInsecure, true, 'SOCLINK_LINK_INSECURE=true')
  t.equal(load(['--config', 'c.yaml'], {}, { 'c.yaml': 'linkInsecure: true\n' }).linkInsecure, true, 'file key linkInsecure')
})

t.test('--health-check: the same settings, to check the daemon they describe instead of running one', async (t) => {
  const src = (argv: string[]): Loaded => loadSettings({ argv, env: { SOCLINK_API: '0.0.0.0:9' }, readFile: () => { throw new Error('no files') } })
  const checked = src(['--health-check', '--api-token-file', 't'])
  t.equal(checked.kind, 'health-check')
  t.match(checked.kind === 'health-check' && checked.settings, { api: { host: '0.0.0.0', port: 9 }, apiTokenFile: 't' }, 'flags and environment as for a run')
  t.equal(src([]).kind, 'run')
  const help = src(['--help'])
  t.match(help.kind === 'help' && help.text, /--health-check\n.*GET \/healthz/s, '--help describes it')
})

t.test('rpmsgSample: a bare flag, true or false in the environment and file', async (t) => {
  t.equal(load([]).rpmsgSample, false, 'off by default')
  t.equal(load(['--rpmsg-sample']).rpmsgSample, true, '--rpmsg-sample')
  t.equal(load([], { SOCLINK_RPMSG_SAMPLE: 'true' }).rpmsgSample, true, 'SOCLINK_RPMSG_SAMPLE=true')
  t.equal(load([], { SOCLINK_RPMSG_SAMPLE: 'false' }).rpmsgSample, false, 'SOCLINK_RPMSG_SAMPLE=false')
  t.equal(load(['--config', 'c.yaml'], {}, { 'c.yaml': 'rpmsgSample: true\n' }).rpmsgSample, true, 'file key rpmsgSample')
  t.equal(load(['--config', 'c.json'], {}, { 'c.json': '{"rpmsgSample": true}' }).rpmsgSample, true, 'JSON file')
  t.equal(load(['--rpmsg-sample'], { SOCLINK_RPMSG_SAMPLE: 'false' }).rpmsgSample, true, 'flag over environment')
  t.equal(load(['--config', 'c.yaml'], { SOCLINK_RPMSG_SAMPLE: 'false' }, { 'c.yaml': 'rpmsgSample: true\n' }).rpmsgSample, false, 'environment over file')
  t.throws(() => load(['--rpmsg-sample=yes']), CONFIG_ERROR, 'the flag takes no value')
  t.throws(() => load([], { SOCLINK_RPMSG_SAMPLE: 'yes' }), CONFIG_ERROR, 'only true or false in the environment')
  t.throws(() => load(['--config', 'c.yaml'], {}, { 'c.yaml': 'rpmsgSample: "true"\n' }), CONFIG_ERROR, 'a boolean in the file, not a string')
  const help = loadSettings({ argv: ['--help'], env: {}, readFile: files({}) })
  t.match(help.kind === 'help' ? help.text : '', /--rpmsg-sample\s+\[SOCLINK_RPMSG_SAMPLE\] \[file: rpmsgSample\]/, 'help lists it with no VALUE')
})

t.test('vhostDriver: rpmsg unless told otherwise, one of the drivers the ep registers', async (t) => {
  t.equal(load([]).vhostDriver, 'rpmsg')
  t.equal(load(['--vhost-driver', 'soclink-test']).vhostDriver, 'soclink-test')
  t.equal(load([], { SOCLINK_VHOST_DRIVER: 'soclink-test' }).vhostDriver, 'soclink-test')
  t.throws(() => load(['--vhost-driver', 'net']), CONFIG_ERROR)
})

t.test('rpmsgBufSize: 512 (Linux) up to 65551, sizes with units', async (t) => {
  t.equal(load([]).rpmsgBufSize, 512)
  t.equal(load(['--rpmsg-buf-size', '2K']).rpmsgBufSize, 2048)
  t.equal(load([], { SOCLINK_RPMSG_BUF_SIZE: '4096' }).rpmsgBufSize, 4096)
  t.throws(() => load(['--rpmsg-buf-size', '256']), CONFIG_ERROR)
  t.throws(() => load(['--rpmsg-buf-size', '1M']), CONFIG_ERROR)
})

t.test('NTB board settings: the function\'s attributes, bounded as pci-epf-ntb.c and ntb_hw_epf need', async (t) => {
  const d = load(['--role', 'ntb'])
  t.same([d.ntbMws, d.ntbMwSize, d.ntbDbCount, d.ntbSpadCount, d.ntbPairs], [2, 4 << 20, 32, 64, []], 'defaults: 2 windows of 4M, 32 vectors, 64 scratchpads, pairs in link order')
  const cases: Array<[keyof Settings, string, string, string, unknown]> = [
    ['ntbMws', '--ntb-mws', 'SOCLINK_NTB_MWS', '4', 4],
    ['ntbMwSize', '--ntb-mw-size', 'SOCLINK_NTB_MW_SIZE', '1M', 1 << 20],
    ['ntbDbCount', '--ntb-db-count', 'SOCLINK_NTB_DB_COUNT', '8', 8],
    ['ntbSpadCount', '--ntb-spad-count', 'SOCLINK_NTB_SPAD_COUNT', '128', 128]
  ]
  for (const [key, flag, env, text, value] of cases) {
    t.equal(load([flag, text])[key], value, flag)
    t.equal(load([], { [env]: text })[key], value, env)
    t.equal(load(['--config', 'c.yaml'], {}, { 'c.yaml': `${key}: ${text}\n` })[key], value, `file key ${key}`)
  }
  t.equal(load(['--config', 'c.json'], {}, { 'c.json': '{"ntbMwSize": 65536}' }).ntbMwSize, 65536, 'a size in the file may be a number')
  const refused: Array<[string, string[]]> = [
    ['no windows', ['--ntb-mws', '0']],
    ['five windows (MAX_MW 4)', ['--ntb-mws', '5']],
    ['a window size not a power of two', ['--ntb-mw-size', '3M']],
    ['a window below 4K', ['--ntb-mw-size', '2K']],
    ['a window above 1G', ['--ntb-mw-size', '2G']],
    ['3 vectors (ntb_hw_epf asks for at least 4)', ['--ntb-db-count', '3']],
    ['33 vectors (MAX_DB_COUNT 32)', ['--ntb-db-count', '33']],
    ['no scratchpads', ['--ntb-spad-count', '0']]
  ]
  for (const [what, argv] of refused) t.throws(() => load(argv), CONFIG_ERROR, what)
  t.throws(() => load(['--config', 'c.yaml'], {}, { 'c.yaml': 'ntbDbCount: 64\n' }), { ...CONFIG_ERROR, message: /c\.yaml: ntbDbCount: 64 is outside 4\.\.32/ }, 'the file\'s value is bounded too, and named')
})

t.test('ntbPairs: repeatable --ntb-pair HOSTA:HOSTB, a list in the file; a host in one pair at most', async (t) => {
  t.same(load(['--ntb-pair', 'h1:h2', '--ntb-pair', 'h3:h4']).ntbPairs, [{ a: 'h1', b: 'h2' }, { a: 'h3', b: 'h4' }])
  t.same(load([], { SOCLINK_NTB_PAIRS: 'h1:h2, h3:h4' }).ntbPairs, [{ a: 'h1', b: 'h2' }, { a: 'h3', b: 'h4' }], 'comma-separated in the environment')
  t.same(load(['--config', 'c.yaml'], {}, { 'c.yaml': 'ntbPairs:\n  - host1:host2\n' }).ntbPairs, [{ a: 'host1', b: 'host2' }], 'file key ntbPairs')
  for (const bad of ['h1', 'h1:', ':h2', 'h1:h1', 'h1:h2:h3', 'h 1:h2']) t.throws(() => load(['--ntb-pair', bad]), CONFIG_ERROR, `--ntb-pair ${bad}`)
  t.throws(() => load(['--ntb-pair', 'h1:h2', '--ntb-pair', 'h2:h3']), { ...CONFIG_ERROR, message: /h2 is in two ntb pairs/ })
  t.throws(() => load(['--config', 'c.yaml'], {}, { 'c.yaml': 'ntbPairs:\n  - [h1, h2]\n' }), CONFIG_ERROR, 'strings in the file')
  const help = loadSettings({ argv: ['--help'], env: {}, readFile: files({}) })
  t.match(help.kind === 'help' ? help.text : '', /--ntb-pair VALUE\s+\[SOCLINK_NTB_PAIRS\] \[file: ntbPairs\]/, 'help lists the singular flag')
})

t.test('rpmsgBind: kernel (default) or eager; rpmsgBindChannels: names, repeatable', async (t) => {
  t.equal(load([]).rpmsgBind, 'kernel')
  t.throws(() => load(['--rpmsg-bind', 'lazy']), { code: 'ERR_CONFIG' })
  t.same(load(['--rpmsg-bind-channel', 'a', '--rpmsg-bind-channel', 'b']).rpmsgBindChannels, ['a', 'b'])
  t.same(load([], { SOCLINK_RPMSG_BIND_CHANNELS: 'a,b' }).rpmsgBindChannels, ['a', 'b'])
  t.same(load(['--config', 'c.json'], {}, { 'c.json': '{"rpmsgBindChannels": ["x"]}' }).rpmsgBindChannels, ['x'])
})

t.test('rpmsgNumBufs: 256 per direction (Linux), a power of two up to 4096', async (t) => {
  t.equal(load([]).rpmsgNumBufs, 256)
  t.equal(load(['--rpmsg-num-bufs', '64']).rpmsgNumBufs, 64)
  t.equal(load([], { SOCLINK_RPMSG_NUM_BUFS: '1024' }).rpmsgNumBufs, 1024)
  t.throws(() => load(['--rpmsg-num-bufs', '100']), CONFIG_ERROR, 'not a power of two')
  t.throws(() => load(['--rpmsg-num-bufs', '8192']), CONFIG_ERROR, 'too many')
})
