// rpmsg over the NTB transports (test/support/ntb-pair.ts): the vhost
// rpmsg bus on HOST1 announces a channel, the virtio rpmsg bus on HOST2
// creates it, 1,000 messages go each way; then the link goes down (the
// virtio device is removed, the vhost device reset), comes back, and the
// channel is announced again and carries messages. The same holds when the
// virtio side's TYPE disappears from HOST1's spad 0 with the link up.

import t, { type Test } from 'tap'
import { claimAnnounced } from '../support/rpmsg-pair.js'
import { ntbTransports, type NtbTransports } from '../support/ntb-pair.js'
import { until } from '../support/daemon.js'
import { VhostRpmsgDriver, type VhostRpmsgBus } from '../../daemon/src/rpmsg/vhost-rpmsg.js'
import { VirtioRpmsgDriver, type VirtioRpmsgBus } from '../../daemon/src/rpmsg/virtio-rpmsg.js'
import { RPMSG_ADDR_ANY } from '../../daemon/src/rpmsg/wire.js'
import type { RpmsgChannel } from '../../daemon/src/rpmsg/core.js'
import type { VirtioDevice } from '../../daemon/src/virtio/virtio.js'
import { VIRTIO_ID_RPMSG } from '../../daemon/src/uapi/virtio-config.js'
import { Spad, TYPE_VIRTIO } from '../../daemon/src/transport/ntb-spads.js'

const NAME = 'rpmsg-client-sample'

const payload = (seq: number): Uint8Array => {
  const p = new Uint8Array(4 + (seq % 60))
  new DataView(p.buffer).setUint32(0, seq, true)
  p.fill(seq & 0xff, 4)
  return p
}
const seqOf = (p: Uint8Array): number => new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(0, true)

/** N messages each way; resolves with what each side received, in order. */
async function exchange (host: RpmsgChannel, guest: RpmsgChannel, n: number): Promise<{ atHost: number[], atGuest: number[], bad: number }> {
  const atHost: number[] = []
  const atGuest: number[] = []
  let bad = 0
  const onGuest = (p: Uint8Array, src: number): void => { if (src !== host.src || p.length !== 4 + (seqOf(p) % 60)) bad++; atGuest.push(seqOf(p)) }
  const onHost = (p: Uint8Array, src: number): void => { if (src !== guest.src || p.length !== 4 + (seqOf(p) % 60)) bad++; atHost.push(seqOf(p)) }
  guest.on('message', onGuest)
  host.on('message', onHost)
  const pump = async (ch: RpmsgChannel): Promise<void> => { for (let i = 0; i < n; i++) await ch.send(payload(i)) }
  await Promise.all([pump(host), pump(guest)])
  await until(`${n} messages each way`, () => atHost.length >= n && atGuest.length >= n ? true : undefined)
  guest.off('message', onGuest)
  host.off('message', onHost)
  return { atHost, atGuest, bad }
}

interface Rig { n: NtbTransports, vhostDriver: VhostRpmsgDriver, virtioDriver: VirtioRpmsgDriver, vhost: VhostRpmsgBus, host: RpmsgChannel }

async function rig (t: Test): Promise<Rig & { dev: VirtioDevice }> {
  const vhostDriver = new VhostRpmsgDriver()
  const virtioDriver = new VirtioRpmsgDriver()
  const n = await ntbTransports({ id: { device: VIRTIO_ID_RPMSG, vendor: 0x1af4 }, vhostDrivers: [vhostDriver], virtioDrivers: [virtioDriver] })
  t.teardown(n.stop)
  const vhost = vhostDriver.bus(n.vhost.device)
  // Made before the virtio side is there: announced at DRIVER_OK.
  const host = vhost.createChannel(NAME)
  const next = n.nextDevice()
  await n.start()
  const { dev, outcome } = await next
  if (outcome !== 'bound') throw new Error(`virtio side: ${outcome}: ${dev.lastError?.message}`)
  return { n, vhostDriver, virtioDriver, vhost, host, dev }
}

/** The channel on HOST2 once name service and address service joined it. */
async function joined (r: Rig, dev: VirtioDevice): Promise<{ virtio: VirtioRpmsgBus, guest: RpmsgChannel }> {
  const virtio = r.virtioDriver.bus(dev)
  await until('the channel is announced and bound', () => claimAnnounced(virtio, NAME) !== undefined && r.host.dst !== RPMSG_ADDR_ANY ? true : undefined)
  return { virtio, guest: virtio.channel(NAME)! }
}

t.test('a channel announced by HOST1 carries 1,000 messages each way, in order', async (t) => {
  const r = await rig(t)
  const { virtio, guest } = await joined(r, r.dev)
  t.equal(guest.dst, r.host.src, 'NS told HOST2 the vhost endpoint')
  t.equal(r.host.dst, guest.src, 'AS told HOST1 the virtio endpoint')
  const { atHost, atGuest, bad } = await exchange(r.host, guest, 1000)
  t.equal(bad, 0)
  t.ok(atGuest.every((s, i) => s === i) && atGuest.length === 1000, 'HOST1 -> HOST2: each once, in order')
  t.ok(atHost.every((s, i) => s === i) && atHost.length === 1000, 'HOST2 -> HOST1: each once, in order')
  t.equal(virtio.counters.malformed + r.vhost.counters.malformed, 0)
  t.equal(r.n.host1.view.counters.refused, 0)
})

t.test('link down removes the virtio device and resets the vhost device; link up brings rpmsg back', async (t) => {
  const r = await rig(t)
  const first = await joined(r, r.dev)
  t.same((await exchange(r.host, first.guest, 100)).bad, 0)

  const removed = new Promise<[VirtioDevice, string]>((resolve) => { r.n.virtio.once('removed', (dev, why) => { resolve([dev, why]) }) })
  const down = new Promise<string>((resolve) => { r.n.vhost.once('down', resolve) })
  const resets: number[] = []
  r.n.vhost.device.notifier.on('reset', () => { resets.push(1) })
  await r.n.host1.linkDisable()
  const [gone, why] = await removed
  t.equal(gone, r.dev)
  t.equal(why, 'link down')
  t.equal(await down, 'link down')
  t.equal(resets.length, 1, 'the vhost device was reset, as on surprise removal')
  t.same(r.n.virtioBus.devices, [], 'HOST2 has no virtio device')
  t.equal(r.n.host2.translation, null, 'MW0\'s translation was cleared')
  t.ok(r.n.vhost.vqs.every((q) => !q.ready), 'HOST1\'s queues stopped')
  t.equal(r.vhost.running, false)
  t.equal(r.host.dst, RPMSG_ADDR_ANY, 'the channel lost its remote address')
  t.equal(r.n.host1.spads[Spad.VIRTIO_TYPE], 0, 'HOST1 forgot the virtio side\'s TYPE')
  t.equal(r.n.host1.spads[Spad.VHOST_DEVICE_STATUS], 0)

  const next = r.n.nextDevice()
  await r.n.host1.linkEnable()
  const { dev, outcome } = await next
  t.equal(outcome, 'bound')
  t.not(dev, r.dev, 'a new device')
  t.equal(r.n.host1.spads[Spad.VIRTIO_TYPE], TYPE_VIRTIO)
  const second = await joined(r, dev)
  t.not(second.guest, first.guest)
  const { atHost, atGuest, bad } = await exchange(r.host, second.guest, 1000)
  t.equal(bad, 0)
  t.ok(atGuest.every((s, i) => s === i) && atHost.every((s, i) => s === i), 'in order both ways after the link came back')
  t.equal(r.n.vhost.counters.sessions, 2)
  t.equal(r.n.virtio.counters.sessions, 2)
})

t.test('the virtio side\'s TYPE going away from HOST1\'s spad 0 restarts the handshake', async (t) => {
  const r = await rig(t)
  await joined(r, r.dev)
  const removed = new Promise<string>((resolve) => { r.n.virtio.once('removed', (_dev, why) => { resolve(why) }) })
  const next = r.n.nextDevice()
  r.n.host1.spads[Spad.VIRTIO_TYPE] = 0
  // HOST2 says "look at the scratchpads" (CONFIG_DB, bit 15).
  r.n.host2.peerDbSet(2 ** 15)
  t.match(await removed, /TYPE went away/)
  const { dev, outcome } = await next
  t.equal(outcome, 'bound')
  const { guest } = await joined(r, dev)
  t.equal((await exchange(r.host, guest, 200)).bad, 0)
})
