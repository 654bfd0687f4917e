// --rpmsg-buf-size between two real daemons: configured on both sides, the
// bigger buffers are used and every application is told the bigger largest
// payload; configured on one side only, both stay at Linux's 512.

import t, { type Test } from 'tap'
import { once } from 'node:events'
import { RpmsgClient, type RpmsgChannelEvent } from '../../client/src/index.js'
import { startDaemon, until, within, type Daemon } from '../support/daemon.js'

async function pair (t: Test, rcSize: number, epSize: number): Promise<{ rc: Daemon, ep: Daemon }> {
  const rc = await startDaemon('rc', ['--role', 'rc', '--rpmsg-buf-size', String(rcSize)])
  const ep = await startDaemon('ep', ['--role', 'ep', '--rpmsg-buf-size', String(epSize), '--peer', rc.link])
  t.teardown(async () => { await ep.stop(); await rc.stop() })
  for (const d of [ep, rc]) {
    await until(`${d.name}'s rpmsg bus`, async () => {
      const res = await fetch(d.api + '/v1/rpmsg/endpoints')
      return res.status === 200 && ((await res.json()) as { buses: unknown[] }).buses.length > 0 ? true : undefined
    }, 20_000)
  }
  return { rc, ep }
}

async function exchange (t: Test, rc: Daemon, ep: Daemon, expected: number): Promise<void> {
  const epApp = await RpmsgClient.connect(ep.api)
  const rcApp = await RpmsgClient.connect(rc.api)
  t.teardown(async () => { await epApp.close(); await rcApp.close() })
  const seen = once(rcApp, 'channel') as Promise<[RpmsgChannelEvent]>
  const echo = await epApp.createEndpoint({ name: 'big-echo', announce: true })
  const mine = await rcApp.createEndpoint()
  t.equal(echo.maxPayload, expected, `the ep application may send ${expected} bytes`)
  t.equal(mine.maxPayload, expected, `the rc application may send ${expected} bytes`)
  const [ch] = await within(seen, 'the channel event')
  const biggest = new Uint8Array(expected).map((_, i) => (i * 7) & 0xff)
  await mine.send(ch.dst, biggest)
  const it = echo[Symbol.asyncIterator]()
  const got = (await within(it.next(), 'the message at the ep')).value as { src: number, payload: Uint8Array }
  t.ok(Buffer.from(got.payload).equals(biggest), `a ${expected}-byte message arrived whole`)
  await echo.send(got.src, got.payload)
  const back = (await within(mine[Symbol.asyncIterator]().next(), 'the echo at the rc')).value as { payload: Uint8Array }
  t.ok(Buffer.from(back.payload).equals(biggest), 'and came back whole')
  await t.rejects(mine.send(ch.dst, new Uint8Array(expected + 1)), { code: 'ERR_RPMSG_SIZE' }, 'one byte more is refused')
}

t.test('both daemons at 4096: 4080-byte payloads both ways', async (t) => {
  const { rc, ep } = await pair(t, 4096, 4096)
  await exchange(t, rc, ep, 4080)
})

t.test('only the ep at 4096: both stay at 512 (496-byte payloads)', async (t) => {
  const { rc, ep } = await pair(t, 512, 4096)
  await exchange(t, rc, ep, 496)
})
