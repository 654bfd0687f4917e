// ntb_tool and ntb_perf between two real NTB hosts (a board, --role
// ntb-vhost and --role ntb-virtio daemon processes), through REST and the
// soclink command, while the virtio/vhost transport runs rpmsg on the same
// NTB device:
// - a scratchpad written on HOST1 is HOST2's peer scratchpad, and back;
// - a doorbell bit HOST1 rings on HOST2 (one no transport owns, masked on
//   HOST2 so that the transport does not take it) shows in HOST2's db;
// - what the transport or ntb_perf owns is refused without force;
// - `soclink ntb perf` prints its table; the bytes land in HOST1's perf
//   buffer; and rpmsg still runs afterwards (after a link down and up by
//   the tool, too).

import t from 'tap'
import { RpmsgClient } from '../../client/src/index.js'
import { cli, until, type Daemon } from '../support/daemon.js'
import { channelEvent, getJson } from '../support/rpmsg-procs.js'
import { echo, exchange, hostUp, startNtbTopology } from '../support/ntb-daemons.js'

const daemons: Daemon[] = []
const clients: RpmsgClient[] = []
t.teardown(async () => {
  for (const c of clients) await c.close()
  for (const d of [...daemons].reverse()) await d.stop()
})
const { board, host1, host2 } = await startNtbTopology(daemons)

interface Reply { status: number, body: unknown }

async function call (d: Daemon, method: string, path: string, body?: unknown): Promise<Reply> {
  const res = await fetch(d.api + path, body === undefined ? { method } : { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
  return { status: res.status, body: await res.json() }
}

interface Perf { state: string, buffer: { addr: number, size: number } | null, bits: { request: number, answer: number } | null }

await hostUp(host1)
await hostUp(host2)
const perf1 = await until('HOST1\'s ntb_perf ready', async () => {
  const r = await getJson<Perf>(host1.api, '/v1/ntb/perf')
  return r.body.state === 'ready' ? r.body : undefined
})
await until('HOST2\'s ntb_perf ready', async () => (await getJson<Perf>(host2.api, '/v1/ntb/perf')).body.state === 'ready' ? true : undefined)

t.test('scratchpads: one host\'s spad is the other\'s peer spad, through REST and the CLI', async (t) => {
  const w = await call(host1, 'PUT', '/v1/ntb/spad/40', { value: 0xdeadbeef })
  t.same(w, { status: 200, body: { idx: 40, value: 0xdeadbeef } }, 'HOST1 spad_write 40')
  const seen = await until('HOST2 reads it as peer spad 40', async () => {
    const s = (await getJson<{ peerSpads: number[] }>(host2.api, '/v1/ntb/spad')).body
    return s.peerSpads[40] === 0xdeadbeef ? s : undefined
  })
  t.equal(seen.peerSpads[40], 0xdeadbeef, 'HOST2 peer_spad_read 40')

  const set = await cli(host2.api, 'ntb', 'spad', 'peer', '41', '0x1234')
  t.same(set, { code: 0, stdout: 'peer scratchpad 41 = 0x00001234\n', stderr: '' }, 'soclink ntb spad peer 41 0x1234 on HOST2')
  const own = await until('HOST1 sees it as its own spad 41', async () => {
    const r = await cli(host1.api, '--json', 'ntb', 'spad')
    const s = JSON.parse(r.stdout) as { spads: number[] }
    return s.spads[41] === 0x1234 ? s : undefined
  })
  t.equal(own.spads[41], 0x1234)
  const table = await cli(host1.api, 'ntb', 'spad')
  t.match(table.stdout, /^IDX {2}OWN {9}PEER {8}OWNER\n/, 'the table\'s header')
  t.match(table.stdout, /\n {2}0 {2}0x00000001 {2}0x00000002 {2}the ntb-vhost transport \(ntb_virtio\.h scratchpads\)\n/, 'spad 0: TYPE_VIRTIO in HOST1\'s, TYPE_VHOST in HOST2\'s, the transport\'s')
  t.match(table.stdout, /\n 41 {2}0x00001234 {2}0x00000000 {2}-\n/, 'spad 41: free')
})

t.test('a doorbell bit HOST1 rings shows in HOST2\'s db while masked there', async (t) => {
  const masked = await call(host2, 'POST', '/v1/ntb/db', { mask: 0x100 })
  t.match(masked, { status: 200, body: { mask: 0x100, validMask: 0x7fff_ffff } }, 'HOST2 masks bit 8 (db_set_mask)')
  const rang = await call(host1, 'POST', '/v1/ntb/peer-db', { bits: 0x100 })
  t.same(rang, { status: 200, body: { rang: 0x100 } }, 'HOST1 peer_db_set bit 8')
  const db = await until('HOST2\'s db shows bit 8', async () => {
    const r = (await getJson<{ bits: number }>(host2.api, '/v1/ntb/db')).body
    return (r.bits & 0x100) !== 0 ? r : undefined
  })
  t.equal(db.bits & 0x100, 0x100, 'rung and not cleared')
  const cleared = await call(host2, 'POST', '/v1/ntb/db', { clear: 0x100, unmask: 0x100 })
  t.match(cleared, { status: 200, body: { bits: 0, mask: 0 } }, 'db_clear and db_clear_mask')
  const cliRing = await cli(host1.api, 'ntb', 'db', 'peer', '0x200')
  t.same(cliRing, { code: 0, stdout: 'rang 0x00000200 on the peer\n', stderr: '' }, 'soclink ntb db peer 0x200')
  const shown = await cli(host2.api, 'ntb', 'db')
  t.match(shown.stdout, /^valid 0x7fffffff \(31 bits, 31 vectors\)\nrung {2}0x[0-9a-f]{8}\nmask {2}0x00000000\nBITS {2}OWNER\n0-7 {3}the ntb-virtio transport \(queue notifications/, 'soclink ntb db prints the registers and the owners')
})

t.test('what the transport and ntb_perf own is refused without force', async (t) => {
  const busy = { status: 409, body: { error: { code: 'ERR_BUSY' } } }
  t.match(await call(host2, 'PUT', '/v1/ntb/spad/3', { value: 1 }), { ...busy, body: { error: { message: /scratchpad 3 belongs to the ntb-virtio transport/ } } }, 'HOST2 spad 3')
  t.match(await call(host2, 'PUT', '/v1/ntb/peer-spad/24', { value: 1 }), { ...busy, body: { error: { message: /device config/ } } }, 'HOST2 peer spad 24 (device config)')
  t.match(await call(host1, 'POST', '/v1/ntb/peer-db', { bits: 1 }), { ...busy, body: { error: { message: /bit 0 belongs to the ntb-vhost transport \(queue notifications/ } } }, 'a queue\'s bit')
  t.match(await call(host1, 'POST', '/v1/ntb/peer-db', { bits: 2 ** 30 }), { ...busy, body: { error: { message: /CONFIG_DB/ } } }, 'CONFIG_DB')
  t.match(await call(host2, 'POST', '/v1/ntb/db', { mask: 2 ** perf1.bits!.request }), { ...busy, body: { error: { message: /ntb_perf \(requests\)/ } } }, 'ntb_perf\'s request bit')
  t.match(await call(host2, 'PUT', '/v1/ntb/mw/0', { addr: 0x10_0000, size: 4096 }), { ...busy, body: { error: { message: /memory window 0 belongs to the ntb-virtio transport/ } } }, 'MW0')
  t.match(await call(host1, 'DELETE', '/v1/ntb/mw/1'), { ...busy, body: { error: { message: /ntb_perf/ } } }, 'MW1, ntb_perf\'s buffer')
  t.match(await call(host1, 'POST', '/v1/ntb/link', { up: false }), { ...busy, body: { error: { message: /the link belongs to the ntb-vhost transport/ } } }, 'link down')
  const refused = await cli(host2.api, 'ntb', 'spad', '0', '5')
  t.equal(refused.code, 1, 'the CLI: exit 1')
  t.match(refused.stderr, /^soclink: ERR_BUSY: spad_write: scratchpad 0 belongs to the ntb-virtio transport/)
  t.match(await call(host2, 'PUT', '/v1/ntb/spad/31', { value: 0, force: true }), { status: 200, body: { idx: 31, value: 0 } }, 'force: true writes it (spad 31: room no device uses)')
  t.match(await call(host1, 'POST', '/v1/ntb/link', { up: true }), { status: 200, body: { enabled: true, link: true } }, 'link up is no harm')
  t.match(await call(host2, 'GET', '/v1/ntb/mw'), { status: 200, body: { count: 2, windows: [{ widx: 0, owner: /ntb-virtio/ }, { widx: 1, owner: /ntb_perf/, translation: perf1.buffer }] } }, 'GET /v1/ntb/mw names the owners')
  t.match(await call(host2, 'POST', '/v1/ntb/db', { set: 1 }), { status: 400, body: { error: { code: 'ERR_VALIDATION', message: /unknown property "set"/ } } }, 'db_set: there is none (ntb_hw_epf has no db_set)')
  t.match(await call(host2, 'POST', '/v1/ntb/db', { clear: 2 ** 31 }), { status: 400, body: { error: { code: 'ERR_OUT_OF_RANGE' } } }, 'bits outside the valid mask')
  t.match(await call(host2, 'POST', '/v1/ntb/db', { clear: 1, bogus: 1 }), { status: 400, body: { error: { code: 'ERR_VALIDATION' } } }, 'strict bodies')
  t.match(await call(board, 'GET', '/v1/ntb/db'), { status: 404, body: { error: { code: 'ERR_NOT_FOUND', message: /not an NTB host \(role ntb\)/ } } }, 'the board is no host: 404')
})

t.test('link down with force ends the transport\'s session; link up brings it back, and ntb_perf with it', async (t) => {
  const down = await cli(host2.api, 'ntb', 'link', 'down', '--force')
  t.same(down, { code: 0, stdout: 'link disabled; link is down\n', stderr: '' }, 'soclink ntb link down --force on HOST2')
  await until('HOST1 sees the link down', async () => (await cli(host1.api, 'ntb', 'link')).stdout === 'link is down\n' ? true : undefined)
  const up = await cli(host2.api, 'ntb', 'link', 'up')
  t.same(up, { code: 0, stdout: 'link enabled; link is up\n', stderr: '' }, 'soclink ntb link up on HOST2: up, HOST1 never disabled it')
  const s2 = await hostUp(host2)
  t.match(s2, { device: { link: true }, transport: { state: 'up', device: { driver: 'virtio_rpmsg_bus' } } }, 'HOST2\'s transport is up again')
  await hostUp(host1)
  for (const d of [host1, host2]) {
    await until(`${d.name}'s ntb_perf ready again`, async () => (await getJson<Perf>(d.api, '/v1/ntb/perf')).body.state === 'ready' ? true : undefined)
  }
  t.pass('both hosts\' ntb_perf are ready again')
})

t.test('soclink ntb perf prints its table; the bytes land in the other host\'s buffer; rpmsg runs afterwards', async (t) => {
  const r = await cli(host2.api, 'ntb', 'perf', '--size', '4M', '--pings', '100')
  t.equal(r.code, 0, `exit 0 (stderr: ${r.stderr})`)
  const lines = r.stdout.trimEnd().split('\n')
  t.match(lines[0], /^SIZE +CHUNK +TIME S +MB\/S +PINGS +RTT MIN US +RTT AVG US +RTT P99 US$/, 'the header')
  const cells = lines[1]!.split(/\s+/)
  t.same(cells.slice(0, 2), ['4M', '64K'], 'size and chunk')
  t.equal(cells[4], '100', 'pings')
  t.ok(Number(cells[3]) > 0, `MB/s ${cells[3]} is positive`)
  t.ok([5, 6, 7].every((i) => Number(cells[i]) > 0), `round trips ${cells.slice(5).join('/')} µs are positive`)

  const json = await cli(host1.api, '--json', 'ntb', 'perf', '--size', '1M', '--chunk', '16K', '--pings', '10')
  t.match(JSON.parse(json.stdout), { bytes: 1 << 20, chunk: 16 << 10, pings: 10 }, 'the other way, --json')

  const buf = perf1.buffer!
  const res = await fetch(`${host1.api}/v1/regions/pcie.sysmem/memory?offset=${buf.addr}&length=16`)
  const bytes = new Uint8Array(await res.arrayBuffer())
  t.same([...bytes], Array.from({ length: 16 }, (_, i) => (i * 7 + 0x5a) & 0xff), 'HOST2\'s writes are in HOST1\'s perf buffer')

  const first = call(host2, 'POST', '/v1/ntb/perf', { bytes: 4 << 20, pings: 1000 })
  await until('HOST2\'s run going', async () => (await getJson<{ running: boolean }>(host2.api, '/v1/ntb/perf')).body.running ? true : undefined)
  t.match(await call(host2, 'POST', '/v1/ntb/perf', { pings: 1 }), { status: 409, body: { error: { code: 'ERR_BUSY', message: /run is going/ } } }, 'a second run meanwhile: 409 ERR_BUSY')
  t.match(await first, { status: 200, body: { bytes: 4 << 20, pings: 1000 } }, 'the first run completes')

  const app1 = await RpmsgClient.connect(host1.api)
  clients.push(app1)
  const app2 = await RpmsgClient.connect(host2.api)
  clients.push(app2)
  const announced = channelEvent(app2, 'ntb-tool-echo', true)
  const ept1 = await app1.createEndpoint({ name: 'ntb-tool-echo', announce: true })
  echo(ept1)
  const ch = await announced
  const ept2 = await app2.createEndpoint()
  t.same(await exchange(ept2, ch.dst, 0x746f6f6c, 200), [], 'rpmsg after the perf runs: 200 echoes in order')
})
