// tx exhaustion on the in-memory rpmsg pair (test/support/rpmsg-pair.ts),
// each side in turn: with the far side holding every buffer (its doorbells
// paused, so it takes nothing), trySend fails at once with
// ERR_RPMSG_NO_BUFFER (rpmsg_trysend(): -ENOMEM) and send() waits, then
// fails with ERR_RPMSG_TIMEOUT (rpmsg_send(): -ERESTARTSYS after 15 s in the
// kernel); when the far side takes buffers during the wait, the waiting
// sends go, in the order they were made, after everything sent before them.

import t from 'tap'
import { once } from 'node:events'
import { rpmsgChannelPair, rpmsgPair, TEST_CLAIMER } from '../support/rpmsg-pair.js'
import { RPMSG_ADDR_ANY } from '../../daemon/src/rpmsg/wire.js'
import type { RpmsgBusCore, RpmsgChannel } from '../../daemon/src/rpmsg/core.js'
import { scaled } from '../support/time.js'

async function connected (): Promise<{ pair: Awaited<ReturnType<typeof rpmsgPair>>, host: RpmsgChannel, guest: RpmsgChannel }> {
  const pair = await rpmsgPair()
  const created = once(pair.virtio, 'channel-created') as Promise<[RpmsgChannel]>
  const bound = once(pair.vhost, 'channel-bound')
  const host = pair.vhost.createChannel('tx-exhaustion')
  const [guest] = await created
  // rpmsgBind kernel: bound once a driver claims it (rpmsg_dev_probe()).
  pair.virtio.claimChannel(guest, TEST_CLAIMER)
  await bound
  return { pair, host, guest }
}

const turn = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

/** Settles to 'pending' if `p` has not settled after a few event-loop turns (doorbells are delivered on later turns). */
async function state (p: Promise<unknown>): Promise<'resolved' | 'rejected' | 'pending'> {
  let s: 'resolved' | 'rejected' | 'pending' = 'pending'
  p.then(() => { s = 'resolved' }, () => { s = 'rejected' })
  for (let i = 0; i < 5; i++) await turn()
  return s
}

for (const side of ['virtio', 'vhost'] as const) {
  t.test(`${side} side: every tx buffer in flight`, async (t) => {
    const { pair, host, guest } = await connected()
    const [ch, far, bus]: [RpmsgChannel, RpmsgChannel, RpmsgBusCore] = side === 'virtio' ? [guest, host, pair.virtio] : [host, guest, pair.vhost]
    const got: number[] = []
    far.on('message', (p) => { got.push(new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(0, true)) })
    const msg = (seq: number): Uint8Array => { const p = new Uint8Array(8); new DataView(p.buffer).setUint32(0, seq, true); return p }

    pair.loop.pause()
    let filled = 0
    let refused: unknown = null
    for (let i = 0; i < 1000 && refused === null; i++) {
      try {
        ch.trySend(msg(filled))
        filled++
      } catch (err) {
        refused = err
      }
    }
    t.equal(filled, 256, 'every one of the 256 buffers of one direction went')
    t.match(refused, { code: 'ERR_RPMSG_NO_BUFFER' }, 'then trySend throws ERR_RPMSG_NO_BUFFER at once')
    t.equal(bus.counters.noBuffer, 1, 'counted')

    const late = ch.send(msg(9999), { timeoutMs: 20 })
    t.equal(bus.waiting, 1, 'send() waits for a buffer instead of failing')
    await t.rejects(late, { code: 'ERR_RPMSG_TIMEOUT' }, 'and fails with ERR_RPMSG_TIMEOUT when none comes in time')
    t.equal(bus.counters.timeouts, 1, 'counted')
    t.equal(bus.waiting, 0, 'it waits no more')

    const waiting = [ch.send(msg(filled), { timeoutMs: scaled(60_000) }), ch.send(msg(filled + 1), { timeoutMs: scaled(60_000) }), ch.send(msg(filled + 2), { timeoutMs: scaled(60_000) })]
    t.equal(bus.waiting, 3, 'three sends wait')
    t.throws(() => { ch.trySend(msg(7777)) }, { code: 'ERR_RPMSG_NO_BUFFER' }, 'trySend does not pass them')
    t.same(await Promise.all(waiting.map(state)), ['pending', 'pending', 'pending'], 'nothing moves while the far side takes nothing')

    pair.loop.resume()
    await Promise.all(waiting)
    t.pass('the waiting sends go once the far side takes buffers')
    while (got.length < filled + 3) await turn()
    t.same(got, Array.from({ length: filled + 3 }, (_, i) => i), 'in order, after everything sent before them; the timed-out one never went')
    await ch.send(msg(filled + 3))
    while (got.length < filled + 4) await turn()
    t.equal(got.at(-1), filled + 3, 'and the bus sends on as before')
  })
}

t.test('destroying an endpoint fails its waiting sends: they never leave from an address someone else may take', async (t) => {
  const { pair, guest } = await rpmsgChannelPair('waiting')
  const mine = pair.virtio.createEndpoint(RPMSG_ADDR_ANY, () => {})
  pair.loop.pause()
  for (;;) { try { pair.virtio.trySend(mine.addr, guest.dst, Uint8Array.of(1)) } catch { break } }
  const waiting = pair.virtio.send(mine.addr, guest.dst, Uint8Array.of(2), { timeoutMs: scaled(60_000) })
  const other = pair.virtio.send(guest.src, guest.dst, Uint8Array.of(3), { timeoutMs: scaled(60_000) })
  t.equal(pair.virtio.waiting, 2)
  pair.virtio.destroyEndpoint(mine)
  await t.rejects(waiting, { code: 'ERR_RPMSG_DESTROYED' }, 'the destroyed endpoint\'s send fails at once')
  t.equal(pair.virtio.waiting, 1, 'another endpoint\'s send still waits')
  pair.loop.resume()
  await other
  t.pass('and goes once buffers come back')
})
