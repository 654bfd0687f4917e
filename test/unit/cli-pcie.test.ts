// The CLI's PCIe and virtio commands against a stub control API: each verb
// sends the request the API documents and prints the reply as a table, or
// as the reply itself under --json. Expected text written by hand.

import t from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { CommanderError } from 'commander'
import { buildProgram } from '../../client/src/cli/program.js'
import { testRunText, virtqueuesTable } from '../../client/src/cli/pcie-views.js'
import type { Device, PciEpController, PciEpFunction, PciRootComplex, TestRunResult, Virtqueue } from '../../proto/api/index.js'

const fn: PciEpFunction = {
  name: 'vhost0', type: 'vhost', vendorId: 0x104c, deviceId: 0xb500, revisionId: 0, classCode: 0xff0000, subsysVendorId: 0xffff,
  subsysId: 0xffe0, interruptPin: 1, msiInterrupts: 9, numVrings: 2, vringSize: 256, vhostDriver: 'soclink-test'
}
const stopped: PciEpController = { name: 'pcie0', function: 'vhost0', started: false, lastError: '', endpoint: null }
const device: Device = {
  name: 'virtio0', side: 'virtio', peer: 'ep', transport: 'virtio-pci-epf', deviceId: 0xffe0, vendorId: 0xffff, status: 15,
  statusBits: ['ACKNOWLEDGE', 'DRIVER', 'DRIVER_OK', 'FEATURES_OK'], deviceFeatures: '0x730000000', driverFeatures: '0x120000000',
  driver: 'soclink-test', needsReset: '', lastError: '', retrying: false, test: null
}
const split: Virtqueue = {
  device: 'virtio0', side: 'virtio', index: 0, name: 'tx', layout: 'split', size: 256, region: 'pcie.sysmem', desc: 0x10000,
  driverArea: 0x11000, deviceArea: 0x11210, availIdx: 500, usedIdx: 500, availWrap: null, usedWrap: null, lastSeenAvail: null,
  ready: true, counters: { kicks: 3, kicksSuppressed: 497, interrupts: 4, buffers: 500, errors: 0 }, lastError: ''
}
const packed: Virtqueue = {
  ...split, device: 'vhost0', side: 'vhost', index: 1, name: 'rx', layout: 'packed', availIdx: 12, availWrap: false,
  usedIdx: 10, usedWrap: true, lastSeenAvail: 12, counters: { kicks: 7, kicksSuppressed: null, interrupts: 2, buffers: 10, errors: 1 }
}
const pci: PciRootComplex = {
  memorySize: 16 * 1024 * 1024, region: 'pcie.sysmem', spurious: 0,
  functions: [{
    peer: 'ep', state: 'ready', lastError: '', retrying: false, vendorId: 0x104c, deviceId: 0xb500, revisionId: 0, classCode: 0xff0000,
    subsystemVendorId: 0xffff, subsystemId: 0xffe0, interruptPin: 1, bars: [{ index: 0, size: 4096, flags: 0, busAddress: 0x40000000, window: 1 }], msi: 3, intx: false
  }]
}
const run: TestRunResult = { sent: 500, received: 500, verified: 500, errors: 0, bytes: 2_000_000, seconds: 0.5 }

interface Seen { method: string, url: string, body: unknown }
const seen: Seen[] = []
const replies: Record<string, [number, unknown]> = {
  'GET /v1/pci-ep': [200, { functions: [fn], controllers: [stopped] }],
  'POST /v1/pci-ep/functions': [201, { ...fn, name: 'f1', deviceId: 0xb501 }],
  'PATCH /v1/pci-ep/functions/f1': [200, { ...fn, name: 'f1', vringSize: 128 }],
  'DELETE /v1/pci-ep/functions/f1': [204, null],
  'PUT /v1/pci-ep/controllers/pcie0/functions/f1': [204, null],
  'DELETE /v1/pci-ep/controllers/pcie0/functions/f1': [204, null],
  'POST /v1/pci-ep/controllers/pcie0/stop': [200, stopped],
  'POST /v1/pci-ep/controllers/pcie0/start': [503, { error: { code: 'ERR_UNAVAILABLE', message: 'no root complex is linked' } }],
  'GET /v1/pci': [200, pci],
  'GET /v1/devices': [200, { devices: [device] }],
  'GET /v1/devices/virtio0': [200, device],
  'GET /v1/virtqueues': [200, { virtqueues: [split, packed] }],
  'POST /v1/devices/virtio0/test': [200, run]
}

async function answer (req: IncomingMessage, res: ServerResponse): Promise<void> {
  let text = ''
  for await (const chunk of req) text += String(chunk)
  seen.push({ method: req.method!, url: req.url!, body: text === '' ? undefined : JSON.parse(text) })
  const [status, body] = replies[`${req.method!} ${req.url!}`] ?? [404, { error: { code: 'ERR_ROUTE_NOT_FOUND', message: 'no route' } }]
  res.writeHead(status, body === null ? {} : { 'content-type': 'application/json' }).end(body === null ? undefined : JSON.stringify(body))
}

const server = createServer((req, res) => { void answer(req, res) })
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
t.teardown(() => { server.close() })
const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

/** Runs `soclink --api <stub> ...args`; resolves with what it printed and the requests it sent. */
async function soclink (...args: string[]): Promise<{ out: string, requests: Seen[] }> {
  seen.length = 0
  const lines: string[] = []
  await buildProgram({ out: (text) => { lines.push(text) } }).parseAsync(['--api', api, ...args], { from: 'user' })
  return { out: lines.join('\n'), requests: [...seen] }
}

t.test('pci-ep shows the tree', async (t) => {
  const { out, requests } = await soclink('pci-ep')
  t.same(requests, [{ method: 'GET', url: '/v1/pci-ep', body: undefined }])
  t.equal(out,
    'FUNCTION  TYPE   VENDOR  DEVICE  REV   CLASS     SUBSYS VENDOR  SUBSYS  PIN  MSI  VRINGS  VRING SIZE  VHOST DRIVER\n' +
    'vhost0    vhost  0x104c  0xb500  0x00  0xff0000  0xffff         0xffe0    1    9       2         256  soclink-test\n\n' +
    'CONTROLLER  FUNCTION  STARTED  RC  BARS  OUTBOUND  MSI  INTX  LAST ERROR\n' +
    'pcie0       vhost0    no       -   -     -         -    -     -')
  t.same(JSON.parse((await soclink('--json', 'pci-ep')).out), { functions: [fn], controllers: [stopped] }, '--json prints the reply')
})

t.test('pci-ep function create, update, delete; link, unlink, start, stop', async (t) => {
  const created = await soclink('pci-ep', 'function', 'create', 'f1', '--device-id', '0xb501', '--num-vrings', '4', '--vhost-driver', 'soclink-test')
  t.same(created.requests, [{ method: 'POST', url: '/v1/pci-ep/functions', body: { name: 'f1', deviceId: 0xb501, numVrings: 4, vhostDriver: 'soclink-test' } }])
  t.match(created.out, /^FUNCTION .*\nf1 +vhost +0x104c +0xb501 /)
  const updated = await soclink('pci-ep', 'function', 'update', 'f1', '--vring-size', '128')
  t.same(updated.requests, [{ method: 'PATCH', url: '/v1/pci-ep/functions/f1', body: { vringSize: 128 } }])
  t.same((await soclink('pci-ep', 'function', 'delete', 'f1')).out, 'deleted function f1')
  const linked = await soclink('pci-ep', 'link', 'pcie0', 'f1')
  t.same(linked, { out: 'linked f1 into pcie0', requests: [{ method: 'PUT', url: '/v1/pci-ep/controllers/pcie0/functions/f1', body: undefined }] })
  t.same((await soclink('--json', 'pci-ep', 'unlink', 'pcie0', 'f1')).out, JSON.stringify({ controller: 'pcie0', function: 'f1', linked: false }, null, 2))
  const stop = await soclink('pci-ep', 'stop', 'pcie0')
  t.same(stop.requests, [{ method: 'POST', url: '/v1/pci-ep/controllers/pcie0/stop', body: undefined }])
  t.match(stop.out, /\npcie0 +vhost0 +no /)
  await t.rejects(soclink('pci-ep', 'start', 'pcie0'), { name: 'ApiError', code: 'ERR_UNAVAILABLE', status: 503 }, 'API errors reach the caller')
})

t.test('usage errors send nothing', async (t) => {
  const write = process.stderr.write
  process.stderr.write = () => true
  try {
    await t.rejects(soclink('pci-ep', 'function', 'update', 'f1'), CommanderError, 'update needs an attribute')
    await t.rejects(soclink('pci-ep', 'function', 'create', 'f1', '--vendor-id', 'abc'), CommanderError, 'a number that is not one')
    await t.rejects(soclink('test-device', 'run', 'virtio0'), CommanderError, 'COUNT is required')
  } finally {
    process.stderr.write = write
  }
  t.same(seen, [])
})

t.test('pci, devices, device', async (t) => {
  t.equal((await soclink('pci')).out,
    'system memory 16M in region pcie.sysmem; 0 spurious interrupts\n' +
    'PEER  STATE  VENDOR  DEVICE  REV   CLASS     SUBSYS VENDOR  SUBSYS  BARS             MSI  INTX  LAST ERROR\n' +
    'ep    ready  0x104c  0xb500  0x00  0xff0000  0xffff         0xffe0  0:4K@0x40000000    3  no    -')
  const table =
    'NAME     SIDE    PEER  TRANSPORT       ID             STATUS                                         FEATURES     DRIVER        LAST ERROR\n' +
    'virtio0  virtio  ep    virtio-pci-epf  0xffff:0xffe0  0x0f ACKNOWLEDGE,DRIVER,DRIVER_OK,FEATURES_OK  0x120000000  soclink-test  -'
  t.equal((await soclink('devices')).out, table)
  const one = await soclink('device', 'virtio0')
  t.same(one, { out: table, requests: [{ method: 'GET', url: '/v1/devices/virtio0', body: undefined }] })
  t.same(JSON.parse((await soclink('--json', 'devices')).out), [device])
})

t.test('virtqueues: addresses in hex, packed indices with their wrap counters', async (t) => {
  const expected =
    'DEVICE   IDX  NAME  LAYOUT  SIZE  DESC     AVAIL    USED     AVAIL IDX  USED IDX  LAST SEEN  KICKS  INTERRUPTS  ERRORS\n' +
    'virtio0    0  tx    split    256  0x10000  0x11000  0x11210  500        500       -              3           4       0\n' +
    'vhost0     1  rx    packed   256  0x10000  0x11000  0x11210  12/0       10/1      12             7           2       1'
  t.equal(virtqueuesTable([split, packed]), expected)
  t.equal((await soclink('virtqueues')).out, expected)
  t.equal(virtqueuesTable([]), 'no virtqueues')
})

t.test('test-device run', async (t) => {
  const r = await soclink('test-device', 'run', 'virtio0', '500')
  t.same(r.requests, [{ method: 'POST', url: '/v1/devices/virtio0/test', body: { tx: 500, rx: 500 } }])
  t.equal(r.out, 'virtio0: sent 500, received 500, verified 500, errors 0; 2000000 bytes in 0.500 s (2000 buffers/s, 4.0 MB/s)')
  const asym = await soclink('--json', 'test-device', 'run', 'virtio0', '10', '--rx', '0', '--timeout', '5000')
  t.same(asym.requests[0]!.body, { tx: 10, rx: 0, timeoutMs: 5000 })
  t.same(JSON.parse(asym.out), run)
  t.equal(testRunText('virtio0', { ...run, seconds: 0 }), 'virtio0: sent 500, received 500, verified 500, errors 0; 2000000 bytes in 0.000 s (rate -)')
})
