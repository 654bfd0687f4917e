// rpmsg on packed rings (issue 15, item 4): the vhost rpmsg device offers
// VIRTIO_F_RING_PACKED, so a virtio side asked for packed rings (setting
// ring: packed) gets them, over PCIe (in-process rc and ep) and over NTB
// (the real NTB transports on an in-memory NTB). Before, the device did not
// offer the bit and rpmsg ran on split rings without a word.
//
// Checked byte for byte: the virtio side's tx ring ("output") and the
// buffers it points to are read by test/c/packed_rpmsg.c, compiled with `cc`
// against the kernel's <linux/virtio_ring.h> (struct vring_packed_desc,
// VRING_PACKED_DESC_F_AVAIL/_USED), which prints the rpmsg message of each
// descriptor the device has used: first the AS ASSIGN the claim sent, then
// our messages, in order.

import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { RpmsgChannel } from '../../daemon/src/rpmsg/core.js'
import { VhostRpmsgDriver, type VhostRpmsgBus } from '../../daemon/src/rpmsg/vhost-rpmsg.js'
import { VirtioRpmsgDriver, type VirtioRpmsgBus } from '../../daemon/src/rpmsg/virtio-rpmsg.js'
import { RPMSG_ADDR_ANY, RPMSG_AS_ADDR, RPMSG_AS_ASSIGN, encodeAsMsg } from '../../daemon/src/rpmsg/wire.js'
import { VIRTIO_F_RING_PACKED, VIRTIO_ID_RPMSG } from '../../daemon/src/uapi/virtio-config.js'
import { until } from '../support/daemon.js'
import { linkUrl, rpmsgReady, startNode } from '../support/nodes.js'
import { ntbTransports } from '../support/ntb-pair.js'
import { claimAnnounced } from '../support/rpmsg-pair.js'

const source = fileURLToPath(new URL('../c/packed_rpmsg.c', import.meta.url))
const ccMissing = (spawnSync('cc', ['--version']).error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
const MESSAGES = ['msg 1', 'msg 2', 'msg 3', 'msg 4', 'msg 5']

interface Memory { read: (addr: number, len: number) => Uint8Array }

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** Both sides on packed rings; the channel announced by the vhost side, claimed on the virtio side, bound. */
async function packedChannel (t: Test, virtio: VirtioRpmsgBus, vhost: VhostRpmsgBus): Promise<{ host: RpmsgChannel, guest: RpmsgChannel }> {
  t.ok(virtio.dev.hasFeature(VIRTIO_F_RING_PACKED), 'VIRTIO_F_RING_PACKED negotiated')
  t.same([virtio.rvq.addrs.layout, virtio.svq.addrs.layout], ['packed', 'packed'], 'the virtio side\'s rings are packed')
  const host = vhost.createChannel('packed')
  const guest = await until('the channel on the virtio side', () => claimAnnounced(virtio, 'packed'))
  await until('the vhost side bound', () => host.dst !== RPMSG_ADDR_ANY ? true : undefined)
  return { host, guest }
}

/** Our five messages to the vhost side, then the tx ring as the kernel's structs read it. */
async function checkTxRing (t: Test, virtio: VirtioRpmsgBus, host: RpmsgChannel, guest: RpmsgChannel, memory: Memory): Promise<void> {
  const got: string[] = []
  host.on('message', (p: Uint8Array) => { got.push(Buffer.from(p).toString()) })
  for (const m of MESSAGES) await guest.send(Buffer.from(m))
  await until('the vhost side received them', () => got.length === MESSAGES.length ? true : undefined)
  t.same(got, MESSAGES, 'the vhost side read them from the packed ring')
  if (ccMissing) { t.comment('no C compiler: `cc` is not installed; the byte-for-byte check is skipped'); return }

  const dir = mkdtempSync(join(tmpdir(), 'soclink-packed-rpmsg-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const ring = virtio.svq.addrs
  // The image spans the ring and every buffer it points to (bus address = offset from lo).
  const addrs = [ring.desc, ring.driver, ring.device, ...virtioBuffers(virtio)]
  const lo = Math.min(...addrs)
  const hi = Math.max(...addrs) + virtio.bufSize
  const image = join(dir, 'mem.img')
  writeFileSync(image, memory.read(lo, hi - lo))
  const exe = join(dir, 'packed_rpmsg')
  const cc = spawnSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-o', exe, source], { encoding: 'utf8' })
  t.equal(cc.status, 0, 'cc compiles test/c/packed_rpmsg.c', { stderr: cc.stderr })
  const run = spawnSync(exe, [image, String(lo), String(ring.desc), String(ring.num), String(ring.driver), String(ring.device)], { encoding: 'utf8' })
  t.equal(run.status, 0, 'packed_rpmsg reads the image', { stderr: run.stderr })
  const lines = run.stdout.trimEnd().split('\n')
  t.match(lines.slice(0, 2), [/^driver event: off_wrap=\d+ flags=\d$/, /^device event: off_wrap=\d+ flags=\d$/], 'the event suppression structures')
  const descs = lines.slice(2)
  const ids = descs.map((l) => /id=(\d+)/.exec(l)?.[1])
  t.equal(new Set(ids).size, descs.length, 'each used descriptor names its own buffer id')
  const as = hex(encodeAsMsg({ name: 'packed', dst: guest.src, src: host.src, flags: RPMSG_AS_ASSIGN }))
  t.same(descs.map((l) => l.replace(/ id=\d+/, '')), [
    `desc[0] write=0 hdr src=${guest.src} dst=${RPMSG_AS_ADDR} reserved=0 len=44 flags=0 data=${as}`,
    ...MESSAGES.map((m, i) => `desc[${i + 1}] write=0 hdr src=${guest.src} dst=${host.src} reserved=0 len=${m.length} flags=0 data=${hex(Buffer.from(m))}`)
  ], 'in ring order: the claim\'s AS ASSIGN, then our messages, each a struct rpmsg_hdr and its payload')
}

/** Every buffer the virtio side holds (its private list, read for the test). */
function virtioBuffers (virtio: VirtioRpmsgBus): number[] {
  return (virtio as unknown as { allocated: number[] }).allocated
}

/** 200 messages each way on the channel, in order. */
async function traffic (t: Test, host: RpmsgChannel, guest: RpmsgChannel): Promise<void> {
  const N = 200
  const atHost: string[] = []
  const atGuest: string[] = []
  host.on('message', (p: Uint8Array) => { atHost.push(Buffer.from(p).toString()) })
  guest.on('message', (p: Uint8Array) => { atGuest.push(Buffer.from(p).toString()) })
  const before = atHost.length
  await Promise.all([
    (async () => { for (let i = 0; i < N; i++) await guest.send(Buffer.from(`up ${i}`)) })(),
    (async () => { for (let i = 0; i < N; i++) await host.send(Buffer.from(`down ${i}`)) })()
  ])
  await until('all delivered', () => atHost.length - before >= N && atGuest.length >= N ? true : undefined)
  t.same(atHost.slice(before), Array.from({ length: N }, (_x, i) => `up ${i}`), 'virtio -> vhost on packed rings, in order')
  t.same(atGuest, Array.from({ length: N }, (_x, i) => `down ${i}`), 'vhost -> virtio, in order (the ring wraps)')
}

t.test('PCIe: --ring packed carries rpmsg on packed rings', async (t) => {
  const rc = await startNode('rc', ['--role', 'rc', '--ring', 'packed'])
  const ep = await startNode('ep', ['--role', 'ep', '--peer', linkUrl(rc)])
  t.teardown(async () => { await ep.stop('test'); await rc.stop('test') })
  const { virtioBus, vhostBus } = await rpmsgReady(rc, ep)
  const { host, guest } = await packedChannel(t, virtioBus, vhostBus)
  await checkTxRing(t, virtioBus, host, guest, rc.pcieRc!.rc.sysmem)
  await traffic(t, host, guest)
})

t.test('NTB: a packed-ring virtio side (HOST2) and the vhost side (HOST1) carry rpmsg', async (t) => {
  const vhostDriver = new VhostRpmsgDriver()
  const virtioDriver = new VirtioRpmsgDriver({ packed: true })
  const n = await ntbTransports({ id: { device: VIRTIO_ID_RPMSG, vendor: 0x1af4 }, vhostDrivers: [vhostDriver], virtioDrivers: [virtioDriver], memorySize: 32 << 20 })
  t.teardown(n.stop)
  const next = n.nextDevice()
  await n.start()
  const { dev, outcome } = await next
  t.equal(outcome, 'bound')
  const { host, guest } = await packedChannel(t, virtioDriver.bus(dev), vhostDriver.bus(n.vhost.device))
  await checkTxRing(t, virtioDriver.bus(dev), host, guest, n.host2.memory)
  await traffic(t, host, guest)
})
