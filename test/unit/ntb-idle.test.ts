// An idle NTB pair sends nothing: after rpmsg came up and carried messages,
// the transports' fallback polls (every pollMs, in case a doorbell is lost)
// only read. Over many polls of both sides, neither writes a scratchpad,
// HOST2's memory (rings and buffers, directly or through HOST1's peer MW 0)
// or rings a doorbell; in the daemons each of those would be a frame on the
// link. The fallback still works: a kick that never arrives is found by the
// next poll. Polls are counted (counters.polls), never timed.

import t, { type Test } from 'tap'
import { claimAnnounced } from '../support/rpmsg-pair.js'
import { ntbPair, silent, type NtbSide } from '../support/ntb-pair.js'
import { until } from '../support/daemon.js'
import { NtbVhost } from '../../daemon/src/transport/ntb-vhost.js'
import { NtbVirtio } from '../../daemon/src/transport/ntb-virtio.js'
import { VhostBus } from '../../daemon/src/vhost/bus.js'
import { VirtioBus } from '../../daemon/src/virtio/bus.js'
import { VhostRpmsgDriver } from '../../daemon/src/rpmsg/vhost-rpmsg.js'
import { VirtioRpmsgDriver } from '../../daemon/src/rpmsg/virtio-rpmsg.js'
import { RPMSG_ADDR_ANY } from '../../daemon/src/rpmsg/wire.js'
import type { RpmsgChannel } from '../../daemon/src/rpmsg/core.js'
import { VIRTIO_ID_RPMSG } from '../../daemon/src/uapi/virtio-config.js'

const NAME = 'rpmsg-idle'
const POLLS = 50
const BASE = 16 << 20

/** Every write and doorbell either host makes: scratchpads (own and peer), HOST2's memory, HOST1's peer MW 0, peer_db_set. */
interface Tally { spadWrites: number, memoryWrites: number, mwWrites: number, doorbells: number }

function tally (host1: NtbSide, host2: NtbSide): () => Tally {
  let spadWrites = 0
  let memoryWrites = 0
  for (const side of [host1, host2]) {
    const own = side.spadWrite.bind(side)
    const peer = side.peerSpadWrite.bind(side)
    side.spadWrite = (idx, value) => { spadWrites++; own(idx, value) }
    side.peerSpadWrite = (idx, value) => { spadWrites++; peer(idx, value) }
  }
  host2.memory.observe(() => { memoryWrites++ })
  return () => ({ spadWrites, memoryWrites, mwWrites: host1.view.counters.writes, doorbells: host1.rang.length + host2.rang.length })
}

interface Rig { host1: NtbSide, host2: NtbSide, vhost: NtbVhost, virtio: NtbVirtio, host: RpmsgChannel, guest: RpmsgChannel, tally: () => Tally }

async function rig (t: Test, packed: boolean): Promise<Rig> {
  const { host1, host2 } = ntbPair({ memorySize: BASE + (16 << 20) })
  const vhostBus = new VhostBus()
  const virtioBus = new VirtioBus()
  const vhostDriver = new VhostRpmsgDriver()
  const virtioDriver = new VirtioRpmsgDriver({ packed })
  await vhostBus.registerDriver(vhostDriver)
  await virtioBus.registerDriver(virtioDriver)
  // A poll every millisecond: many polls happen while the test waits for them.
  const vhost = new NtbVhost({ ntb: host1, id: { device: VIRTIO_ID_RPMSG, vendor: 0x1af4 }, logger: silent, pollMs: 1 })
  const virtio = new NtbVirtio({ ntb: host2, memory: host2.memory, base: BASE, size: 8 << 20, bus: virtioBus, logger: silent, pollMs: 1 })
  await vhostBus.registerDevice(vhost.device)
  t.teardown(async () => {
    await virtio.stop()
    await vhost.stop()
    await vhostBus.unregisterDevice(vhost.device)
  })
  const host = vhostDriver.bus(vhost.device).createChannel(NAME)
  const device = new Promise<void>((resolve) => { virtio.once('device', () => { resolve() }) })
  await Promise.all([vhost.start(), virtio.start()])
  await device
  const dev = virtioBus.devices[0]!
  await until('the channel is announced and bound', () => claimAnnounced(virtioDriver.bus(dev), NAME) !== undefined && host.dst !== RPMSG_ADDR_ANY ? true : undefined)
  return { host1, host2, vhost, virtio, host, guest: virtioDriver.bus(dev).channel(NAME)!, tally: tally(host1, host2) }
}

/** `n` messages each way, all received. */
async function traffic (r: Rig, n: number): Promise<void> {
  let atHost = 0
  let atGuest = 0
  const onHost = (): void => { atHost++ }
  const onGuest = (): void => { atGuest++ }
  r.host.on('message', onHost)
  r.guest.on('message', onGuest)
  for (let i = 0; i < n; i++) {
    await r.host.send(Uint8Array.of(i & 0xff, 1, 2, 3))
    await r.guest.send(Uint8Array.of(i & 0xff, 4, 5, 6))
  }
  await until(`${n} messages each way`, () => atHost === n && atGuest === n ? true : undefined)
  r.host.off('message', onHost)
  r.guest.off('message', onGuest)
}

/** Waits until both sides have polled `polls` more times. */
async function polls (r: Rig, polls: number): Promise<void> {
  const h = r.vhost.counters.polls + polls
  const v = r.virtio.counters.polls + polls
  await until(`${polls} polls on each side`, () => r.vhost.counters.polls >= h && r.virtio.counters.polls >= v ? true : undefined)
}

for (const packed of [false, true]) {
  const layout = packed ? 'packed' : 'split'
  t.test(`${layout} rings: after traffic, ${POLLS} polls of each side write nothing and ring nothing`, async (t) => {
    const r = await rig(t, packed)
    await traffic(r, 100)
    // The last message's buffers settle (completions, re-armed notifications).
    await polls(r, 5)
    const before = r.tally()
    await polls(r, POLLS)
    t.same(r.tally(), before, `${POLLS} polls: no scratchpad, memory or peer MW 0 writes, no doorbells`)
    t.equal(r.vhost.state, 'up')
    t.equal(r.virtio.state, 'up')

    await traffic(r, 10)
    t.ok(r.tally().doorbells > before.doorbells, 'traffic still rings doorbells')
    await polls(r, 5)
    const after = r.tally()
    await polls(r, POLLS)
    t.same(r.tally(), after, 'and idle again afterwards')
  })
}

for (const packed of [false, true]) {
  t.test(`${packed ? 'packed' : 'split'} rings: a lost kick is still found by the fallback poll`, async (t) => {
    const r = await rig(t, packed)
    await traffic(r, 10)
    // HOST2's next kicks of vq 1 (its tx, HOST1's rx) never reach HOST1.
    const ring = r.host2.peerDbSet.bind(r.host2)
    let lost = 0
    r.host2.peerDbSet = (bits) => {
      if (bits === 0b10) { lost++; return }
      ring(bits)
    }
    const got: Uint8Array[] = []
    r.host.on('message', (p) => { got.push(p) })
    await r.guest.send(Uint8Array.of(7, 7, 7))
    await until('HOST1 receives the message', () => got.length === 1 ? true : undefined)
    t.equal(lost, 1, 'the kick was rung and lost')
    t.same([...got[0]!], [7, 7, 7], 'HOST1 got the message from a poll')
  })
}
