// Buffer sizes above 512 (rpmsg/bufsz.ts): the config layout, the choice
// each side makes, and what a pair of buses configured each way ends up
// with: the bigger size only when both sides are configured for it, and the
// largest payload follows on both sides.

import t from 'tap'
import { once } from 'node:events'
import { rpmsgChannelPair, type RpmsgPairOptions } from '../support/rpmsg-pair.js'
import {
  VIRTIO_RPMSG_F_BUFSZ, acceptedBufSize, checkBufSize, chooseBufSize, decodeBufSizes, encodeBufSizes
} from '../../daemon/src/rpmsg/bufsz.js'

t.test('struct virtio_rpmsg_config: two little-endian u32 at offsets 0 and 4', async (t) => {
  t.same([...encodeBufSizes({ txbufSize: 0x0800, rxbufSize: 0x1_0203 })], [0x00, 0x08, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00])
  t.same(decodeBufSizes(Uint8Array.of(0x00, 0x02, 0, 0, 0x00, 0x10, 0, 0)), { txbufSize: 512, rxbufSize: 4096 })
  t.equal(VIRTIO_RPMSG_F_BUFSZ, 2, 'feature bit 2, after F_NS (0) and the address service\'s F_AS (1)')
  t.throws(() => decodeBufSizes(new Uint8Array(7)), { code: 'ERR_RPMSG_FORMAT' })
})

t.test('the driver takes the smallest size, never below 512; the device accepts only one size within its own', async (t) => {
  t.equal(chooseBufSize(2048, { txbufSize: 2048, rxbufSize: 2048 }), 2048)
  t.equal(chooseBufSize(4096, { txbufSize: 1024, rxbufSize: 2048 }), 1024)
  t.equal(chooseBufSize(512, { txbufSize: 8192, rxbufSize: 8192 }), 512)
  t.equal(chooseBufSize(2048, { txbufSize: 16, rxbufSize: 16 }), 512, 'a device below 512 gets 512')
  t.equal(acceptedBufSize(2048, { txbufSize: 1024, rxbufSize: 1024 }), 1024)
  t.throws(() => acceptedBufSize(2048, { txbufSize: 4096, rxbufSize: 4096 }), { code: 'ERR_RPMSG_SIZE' }, 'more than the device offered')
  t.throws(() => acceptedBufSize(2048, { txbufSize: 1024, rxbufSize: 2048 }), { code: 'ERR_RPMSG_SIZE' }, 'two sizes')
  t.throws(() => acceptedBufSize(2048, { txbufSize: 256, rxbufSize: 256 }), { code: 'ERR_RPMSG_SIZE' }, 'below 512')
  t.equal(checkBufSize(65551), 65551, 'the largest: a 65535-byte payload (rpmsg_hdr.len is a u16) and the 16-byte header')
  t.throws(() => checkBufSize(65552), { code: 'ERR_RPMSG_SIZE' })
  t.throws(() => checkBufSize(511), { code: 'ERR_RPMSG_SIZE' })
})

const joined = async (opts: RpmsgPairOptions): Promise<Awaited<ReturnType<typeof rpmsgChannelPair>>> => await rpmsgChannelPair('big', opts)

const cases: Array<{ name: string, opts: RpmsgPairOptions, size: number, bufsz: boolean }> = [
  { name: 'both sides 2048', opts: { virtioBufSize: 2048, vhostBufSize: 2048 }, size: 2048, bufsz: true },
  { name: 'virtio 4096, vhost 1024', opts: { virtioBufSize: 4096, vhostBufSize: 1024 }, size: 1024, bufsz: true },
  { name: 'virtio 512 (default), vhost 2048', opts: { vhostBufSize: 2048 }, size: 512, bufsz: false },
  { name: 'virtio 2048, vhost 512 (default)', opts: { virtioBufSize: 2048 }, size: 512, bufsz: false },
  { name: 'both 2048, but the vhost transport has no config space', opts: { virtioBufSize: 2048, vhostBufSize: 2048, noConfig: true }, size: 512, bufsz: false }
]

for (const c of cases) {
  t.test(`${c.name}: ${c.size}-byte buffers on both sides`, async (t) => {
    const { pair, host, guest } = await joined(c.opts)
    t.equal(pair.loop.virtio.hasFeature(VIRTIO_RPMSG_F_BUFSZ), c.bufsz, `VIRTIO_RPMSG_F_BUFSZ ${c.bufsz ? '' : 'not '}negotiated`)
    t.equal(pair.virtio.bufSize, c.size, 'virtio side')
    t.equal(pair.vhost.bufSize, c.size, 'vhost side')
    t.equal(pair.virtio.maxPayload, c.size - 16, 'the largest payload follows')
    t.equal(pair.vhost.maxPayload, c.size - 16)
    if (c.bufsz) t.same(decodeBufSizes(pair.loop.config.slice(0, 8)), { txbufSize: c.size, rxbufSize: c.size }, 'the driver wrote its choice back')

    const biggest = new Uint8Array(c.size - 16).map((_, i) => i & 0xff)
    const atGuest = once(guest, 'message') as Promise<[Uint8Array, number]>
    await host.send(biggest)
    t.same([...(await atGuest)[0]], [...biggest], `a ${c.size - 16}-byte message vhost -> virtio`)
    const atHost = once(host, 'message') as Promise<[Uint8Array, number]>
    await guest.send(biggest)
    t.same([...(await atHost)[0]], [...biggest], 'and virtio -> vhost')
    t.throws(() => { host.trySend(new Uint8Array(c.size - 15)) }, { code: 'ERR_RPMSG_SIZE' }, 'one byte more is refused')
    t.throws(() => { guest.trySend(new Uint8Array(c.size - 15)) }, { code: 'ERR_RPMSG_SIZE' })
  })
}

t.test('a reset goes back to 512 until the next negotiation, which gives the big size again', async (t) => {
  const { pair } = await joined({ virtioBufSize: 2048, vhostBufSize: 2048 })
  t.equal(pair.vhost.bufSize, 2048)
  await pair.virtioBus.removeDevice(pair.loop.virtio)
  t.equal(pair.vhost.bufSize, 512, 'reset: back to 512')
  t.same(decodeBufSizes(pair.loop.config.slice(0, 8)), { txbufSize: 2048, rxbufSize: 2048 }, 'the device offers its size again')
  t.equal(await pair.virtioBus.addDevice(pair.loop.virtio), 'bound')
  t.equal(pair.virtioDriver.bus(pair.loop.virtio).bufSize, 2048)
  t.equal(pair.vhost.bufSize, 2048)
})

t.test('numBufs 16: rings of 16, 16 rx buffers posted, the 17th send finds no buffer while the far side is held', async (t) => {
  const { pair, host, guest } = await joined({ numBufs: 16 })
  t.equal(pair.virtio.rvq.num, 16, 'the vhost side sized the rings')
  t.equal(pair.virtio.svq.num, 16)
  pair.loop.pause()
  let sent = 0
  for (;;) {
    try { guest.trySend(Uint8Array.of(sent)); sent++ } catch (err) { t.match(err, { code: 'ERR_RPMSG_NO_BUFFER' }); break }
  }
  t.equal(sent, 16, 'the 16 tx buffers ran out after 16 sends')
  pair.loop.resume()
  const got: number[] = []
  await new Promise<void>((resolve) => { host.on('message', (p: Uint8Array) => { got.push(p[0]!); if (got.length === sent) resolve() }) })
  t.same(got, Array.from({ length: sent }, (_, i) => i), 'they all arrive once the far side runs')
})
