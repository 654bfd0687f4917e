// The virtio-side and vhost-side rpmsg buses over the in-memory transport
// (test/support/rpmsg-pair.ts): a channel made on the vhost side appears on
// the virtio side by name service, the vhost side learns the remote address
// by the address service, messages flow both ways in order, and an
// oversized message is refused (tx exhaustion: rpmsg-tx-exhaustion.test.ts).

import t from 'tap'
import { once } from 'node:events'
import { rpmsgChannelPair } from '../support/rpmsg-pair.js'
import { RPMSG_ADDR_ANY, RPMSG_MAX_PAYLOAD, RPMSG_NS_ADDR, VIRTIO_RPMSG_F_AS, VIRTIO_RPMSG_F_NS } from '../../daemon/src/rpmsg/wire.js'
import type { RpmsgChannel } from '../../daemon/src/rpmsg/core.js'

const seqPayload = (seq: number): Uint8Array => {
  const p = new Uint8Array(4 + (seq % 50))
  new DataView(p.buffer).setUint32(0, seq, true)
  p.fill(seq & 0xff, 4)
  return p
}
const seqOf = (p: Uint8Array): number => new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(0, true)

const connected = async (): Promise<Awaited<ReturnType<typeof rpmsgChannelPair>>> => await rpmsgChannelPair('rpmsg-client-sample')

t.test('name service and address service join a channel', async (t) => {
  const { pair, host, guest } = await connected()
  t.ok(pair.loop.virtio.hasFeature(VIRTIO_RPMSG_F_NS) && pair.loop.virtio.hasFeature(VIRTIO_RPMSG_F_AS), 'F_NS | F_AS negotiated')
  t.equal(host.src, 1024)
  t.equal(guest.name, 'rpmsg-client-sample')
  t.equal(guest.dst, host.src, 'the virtio side knows the vhost endpoint from NS')
  t.ok(guest.src >= 1024)
  t.ok(guest.announce)
  t.equal(host.dst, guest.src, 'the vhost side learned the virtio endpoint from AS')
  t.ok(pair.virtio.endpoints.has(RPMSG_NS_ADDR))
  t.same(pair.vhost.counters.serviceErrors + pair.virtio.counters.serviceErrors, 0)

  const destroyed = once(pair.virtio, 'channel-destroyed')
  pair.vhost.destroyChannel('rpmsg-client-sample')
  await destroyed
  t.equal(pair.virtio.channel('rpmsg-client-sample'), undefined)
  t.notOk(pair.virtio.endpoints.has(guest.src))
  t.equal(host.dst, RPMSG_ADDR_ANY)
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(pair.vhost.counters.serviceErrors, 0, 'the AS FREE answer is ignored quietly')
})

t.test('10,000 messages each way, none lost, duplicated or reordered', async (t) => {
  const { pair, host, guest } = await connected()
  const N = 10_000
  const atGuest: number[] = []
  const atHost: number[] = []
  let bad = 0
  const done = new Promise<void>((resolve) => {
    const check = (): void => { if (atGuest.length === N && atHost.length === N) resolve() }
    guest.on('message', (p, src) => { if (src !== host.src || p.length !== 4 + (seqOf(p) % 50)) bad++; atGuest.push(seqOf(p)); check() })
    host.on('message', (p, src) => { if (src !== guest.src || p.length !== 4 + (seqOf(p) % 50)) bad++; atHost.push(seqOf(p)); check() })
  })
  const pumpOut = async (ch: RpmsgChannel): Promise<void> => { for (let i = 0; i < N; i++) await ch.send(seqPayload(i)) }
  await Promise.all([pumpOut(host), pumpOut(guest), done])
  t.equal(bad, 0)
  t.ok(atGuest.every((s, i) => s === i), 'vhost -> virtio in order, each once')
  t.ok(atHost.every((s, i) => s === i), 'virtio -> vhost in order, each once')
  t.equal(pair.virtio.endpoints.counters.unknown, 0)
  t.equal(pair.vhost.endpoints.counters.unknown, 0)
  t.equal(pair.virtio.counters.malformed + pair.vhost.counters.malformed, 0)
})

t.test('an oversized message is refused with ERR_RPMSG_SIZE', async (t) => {
  const { host, guest } = await connected()
  await t.rejects(host.send(new Uint8Array(RPMSG_MAX_PAYLOAD + 1)), { code: 'ERR_RPMSG_SIZE' })
  t.throws(() => { guest.trySend(new Uint8Array(RPMSG_MAX_PAYLOAD + 1)) }, { code: 'ERR_RPMSG_SIZE' })
  const got = once(host, 'message') as Promise<[Uint8Array, number]>
  await guest.send(new Uint8Array(RPMSG_MAX_PAYLOAD).fill(7))
  const [p] = await got
  t.equal(p.length, RPMSG_MAX_PAYLOAD, 'a full 496-byte payload goes')
})
