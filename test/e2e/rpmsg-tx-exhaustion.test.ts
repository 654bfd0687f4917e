// tx exhaustion through the client library against real daemons. An
// application that does not read is not enough to stall a sender (the bus
// takes every message off the ring whatever the endpoint does), so the far
// daemon itself stops consuming: the ep process is frozen with SIGSTOP,
// while the rc application sends, and thawed with SIGCONT. Both daemons
// tolerate a silent link for longer than the freeze (--dead-after-ms).
//
// While the ep is frozen the rc's 256 tx buffers fill; then
// RpmsgEndpoint.trySend rejects with ERR_RPMSG_NO_BUFFER at once, send()
// waits in the daemon (GET /v1/rpmsg/connections shows it waiting) until
// its timeout (ERR_RPMSG_TIMEOUT, counted in the bus's timeouts), and a
// send() still waiting when the ep thaws goes through, after everything
// sent before it, in order.

import t from 'tap'
import { RpmsgClient, type RpmsgEndpoint, type RpmsgMessage } from '../../client/src/index.js'
import { startDaemon, until, within, type Daemon } from '../support/daemon.js'
import { channelEvent, getJson, startRpmsgEp, type EndpointsBody } from '../support/rpmsg-procs.js'
import { scaled } from '../support/time.js'

const msg = (seq: number): Uint8Array => Buffer.from(`seq ${seq}`)
const seqOf = (m: RpmsgMessage): number => Number(Buffer.from(m.payload).toString().slice(4))

async function take (ept: RpmsgEndpoint, count: number, what: string): Promise<RpmsgMessage[]> {
  const got: RpmsgMessage[] = []
  const all = (async () => {
    for await (const m of ept) {
      got.push(m)
      if (got.length >= count) return got
    }
    throw new Error(`${what}: the endpoint ended`)
  })()
  return await within(all, what, 30_000)
}

const daemons: Daemon[] = []
const clients: RpmsgClient[] = []
let frozen: Daemon | null = null
t.teardown(async () => {
  if (frozen !== null) frozen.proc.kill('SIGCONT')
  for (const c of clients) await c.close()
  for (const d of daemons.reverse()) await d.stop()
})

t.test('a frozen far side: trySend fails at once, send retries until its timeout, a waiting send goes when buffers return', async (t) => {
  const slow = ['--dead-after-ms', '120000']
  const rc = await startDaemon('rc', ['--role', 'rc', ...slow])
  daemons.push(rc)
  const ep = await startRpmsgEp(rc, slow)
  daemons.push(ep)
  const rcApp = await RpmsgClient.connect(rc.api)
  const epApp = await RpmsgClient.connect(ep.api)
  clients.push(rcApp, epApp)
  const up = channelEvent(rcApp, 'tx-exhaustion', true)
  const epEpt = await epApp.createEndpoint({ name: 'tx-exhaustion', announce: true })
  const dst = (await up).dst
  const rcEpt = await rcApp.createEndpoint()
  await rcEpt.send(dst, msg(-1))
  t.equal(seqOf((await take(epEpt, 1, 'the first message'))[0]!), -1, 'messages flow')
  await epEpt.send(rcEpt.addr, Buffer.from('ack'))
  await take(rcEpt, 1, 'the ack: the ep has taken everything so far')

  const timeouts = async (): Promise<number> => (await getJson<EndpointsBody>(rc.api, '/v1/rpmsg/endpoints')).body.buses[0]!.counters.timeouts!
  const waitingSends = async (): Promise<number> =>
    (await getJson<{ connections: Array<{ waiting: number }> }>(rc.api, '/v1/rpmsg/connections')).body.connections.reduce((n, c) => n + c.waiting, 0)

  ep.proc.kill('SIGSTOP')
  frozen = ep
  let filled = 0
  let refused: unknown = null
  while (refused === null && filled < 1000) {
    try {
      await rcEpt.trySend(dst, msg(filled))
      filled++
    } catch (err) {
      refused = err
    }
  }
  t.equal(filled, 256, 'the rc\'s 256 tx buffers fill while the ep takes none')
  t.match(refused, { code: 'ERR_RPMSG_NO_BUFFER' }, 'then trySend rejects with ERR_RPMSG_NO_BUFFER, answered at once by the daemon')

  const before = await timeouts()
  await t.rejects(rcEpt.send(dst, msg(5000), { timeoutMs: 300 }), { code: 'ERR_RPMSG_TIMEOUT' }, 'send() gives up with ERR_RPMSG_TIMEOUT')
  t.equal(await timeouts() - before, 1, 'the daemon counted one send that timed out waiting')

  let settled = false
  const waiting = rcEpt.send(dst, msg(filled), { timeoutMs: scaled(60_000) })
  void waiting.then(() => { settled = true }, () => { settled = true })
  await until('the send waiting in the daemon', async () => await waitingSends() === 1 ? true : undefined)
  t.notOk(settled, 'a send() with time left waits while the ep is frozen')

  ep.proc.kill('SIGCONT')
  frozen = null
  await within(waiting, 'the waiting send', 30_000)
  t.pass('it goes once the ep takes buffers again')
  const got = (await take(epEpt, filled + 1, 'everything sent while frozen')).map(seqOf)
  t.same(got, Array.from({ length: filled + 1 }, (_, i) => i), 'the ep application gets the 256, then the waiting one; never the one that timed out')
  await rcEpt.send(dst, msg(9999))
  t.equal(seqOf((await take(epEpt, 1, 'the next message'))[0]!), 9999, 'and nothing else was in between')
})
