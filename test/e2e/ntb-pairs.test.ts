// Four hosts in two pairs on one board (--ntb-pair), real daemon processes:
// each pair runs rpmsg through its own NTB function, both at once, with the
// same channel name on both; every message carries its pair's tag and each
// application sees only its own. A fifth host that no pair names waits
// unpaired; pairs are made and removed configfs-style through the board's
// control API, refused (ERR_BUSY) while an interface is started.

import t from 'tap'
import { RpmsgClient } from '../../client/src/index.js'
import { until, within, type Daemon } from '../support/daemon.js'
import { channelEvent } from '../support/rpmsg-procs.js'
import { boardState, echo, exchange, hostState, hostUp, inOrder, startBoard, startHost } from '../support/ntb-daemons.js'

const N = 2000
const PAIRS = [{ vhost: 'h1a', virtio: 'h2a', tag: 0xa }, { vhost: 'h1b', virtio: 'h2b', tag: 0xb }]

const daemons = new Map<string, Daemon>()
const clients: RpmsgClient[] = []
t.teardown(async () => {
  for (const c of clients) await c.close()
  for (const d of [...daemons.values()].reverse()) await d.stop()
})
const board = await startBoard(['--ntb-pair', 'h1a:h2a', '--ntb-pair', 'h1b:h2b'])
daemons.set('board', board)
// Not in pair order: the pairs are what the board was told, not the order of linking.
for (const [name, side] of [['h1b', 'vhost'], ['h2a', 'virtio'], ['h2b', 'virtio'], ['h1a', 'vhost']] as const) {
  daemons.set(name, await startHost(name, side, board))
}
const d = (name: string): Daemon => daemons.get(name)!

async function connect (api: string): Promise<RpmsgClient> {
  const c = await RpmsgClient.connect(api)
  clients.push(c)
  return c
}

async function post (api: string, path: string, body?: unknown): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fetch(api + path, body === undefined ? { method: 'POST' } : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

async function del (api: string, path: string): Promise<{ status: number, body: unknown }> {
  const res = await fetch(api + path, { method: 'DELETE' })
  return { status: res.status, body: res.status === 204 ? null : await res.json() }
}

t.test('two pairs as configured, each host translated by its own partner', async (t) => {
  for (const p of PAIRS) {
    const [s1, s2] = [await hostUp(d(p.vhost)), await hostUp(d(p.virtio))]
    t.equal(s1.transport!.virtioAddr, s2.transport!.virtioAddr, `${p.vhost} found ${p.virtio}'s MW0`)
  }
  const b = await boardState(board)
  t.match(b, { autoPairing: false, unpaired: [] }, 'pairs come from --ntb-pair')
  t.same(b.pairs.map((p) => [p.name, p.a, p.b, p.configured]), [['ntb0', 'h1a', 'h2a', true], ['ntb1', 'h1b', 'h2b', true]], 'ntb0 joins h1a and h2a, ntb1 h1b and h2b')
  for (const p of b.pairs) {
    for (const i of p.interfaces) {
      t.match(i, { started: true, linkStatus: true, peer: i.host === p.a ? p.b : p.a }, `${p.name}: ${i.host}'s interface is up, facing ${i.peer ?? '?'}`)
    }
    const v = p.interfaces.find((i) => i.host.startsWith('h1'))!
    t.match(v.memoryWindows[0]!.translation, { attached: true }, `${p.name}: ${v.host}'s MW1 is translated by its partner`)
  }
})

t.test(`both pairs at once, the same channel name on both: ${N} tagged messages each, no crosstalk`, async (t) => {
  const runs = await Promise.all(PAIRS.map(async (p) => {
    const sender = await connect(d(p.virtio).api)
    const app = await connect(d(p.vhost).api)
    const announced = channelEvent(sender, 'ntb-echo', true)
    const ept = await app.createEndpoint({ name: 'ntb-echo', announce: true })
    const e = echo(ept)
    const ch = await announced
    const out = await sender.createEndpoint()
    const problems = await within(exchange(out, ch.dst, p.tag, N), `pair ${p.tag}: ${N} round trips`, 120_000)
    return { p, problems, seen: e.seen, ept: ch.dst }
  }))
  for (const r of runs) {
    t.same(r.problems, [], `${r.p.virtio} got back only its own ${N} messages, in order`)
    t.same(inOrder(r.seen, r.p.tag, N), [], `${r.p.vhost}'s application got only ${r.p.virtio}'s ${N} messages, in order`)
  }
})

t.test('a host no pair names waits unpaired; pairs are made and removed through the API, not while started', async (t) => {
  const stray = await startHost('stray', 'virtio', board)
  daemons.set('stray', stray)
  const b = await until('the board lists the stray host', async () => {
    const s = await boardState(board)
    return s.unpaired.includes('stray') ? s : undefined
  })
  t.equal(b.pairs.length, 2, 'no pair was made for it')
  t.match(await hostState(stray), { board: null, device: null, transport: null }, 'it has no function to enumerate')

  const busy = await post(board.api, '/v1/ntb/pairs', { a: 'stray', b: 'h1a' })
  t.match(busy, { status: 409, body: { error: { code: 'ERR_BUSY' } } }, 'h1a is in a started pair: ERR_BUSY')
  t.match(await del(board.api, '/v1/ntb/pairs/h1a'), { status: 409, body: { error: { code: 'ERR_BUSY' } } }, 'a started pair is not removed')
  t.match(await del(board.api, '/v1/ntb/pairs/nobody'), { status: 404, body: { error: { code: 'ERR_NOT_FOUND' } } }, 'a host no pair names: 404')
  t.match(await post(board.api, '/v1/ntb/pairs', { a: 'stray', b: 'stray' }), { status: 400 }, 'a host paired with itself')
  t.match(await post(board.api, '/v1/ntb/pairs', { a: 'stray', b: 'late', c: 1 }), { status: 400, body: { error: { code: 'ERR_VALIDATION' } } }, 'unknown fields are refused')

  const made = await post(board.api, '/v1/ntb/pairs', { a: 'stray', b: 'late' })
  t.match(made, { status: 201, body: { name: 'ntb2', a: 'stray', b: 'late', configured: true } }, 'paired with a host not linked yet')
  const iface = (made.body.interfaces as Array<{ host: string, started: boolean, linkStatus: boolean }>).find((i) => i.host === 'stray')
  t.match(iface, { started: true, linkStatus: false }, 'the linked host starts at once and waits for its partner, link down')
  const s = await until('the stray host enumerates the function', async () => {
    const st = await hostState(stray)
    return st.device?.ready === true ? st : undefined
  })
  t.match(s, { board: 'board', device: { link: false } }, 'ntb_hw_epf bound; no link without the partner')
  t.equal((await boardState(board)).unpaired.length, 0, 'nobody is unpaired now')

  t.match(await del(board.api, '/v1/ntb/pairs/stray'), { status: 409 }, 'busy while the stray host is linked')
  await stray.stop()
  daemons.delete('stray')
  await until('the stray host\'s interface stops', async () => {
    const p = (await boardState(board)).pairs.find((x) => x.name === 'ntb2')
    return p?.interfaces.every((i) => !i.started) === true ? true : undefined
  })
  t.equal((await del(board.api, '/v1/ntb/pairs/late')).status, 204, 'removed by either host\'s name once nothing is started')
  t.same((await boardState(board)).pairs.map((p) => p.name), ['ntb0', 'ntb1'], 'the other pairs stay')
  t.match(await post(d('h2a').api, '/v1/ntb/pairs', { a: 'x', b: 'y' }), { status: 404, body: { error: { code: 'ERR_NOT_FOUND', message: /not an NTB board \(role ntb-virtio\)/ } } }, 'a host makes no pairs')
})
