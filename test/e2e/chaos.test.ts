// Chaos, in both topologies. Real daemons and real rpmsg applications on the
// virtio and the vhost side exchange sequence-numbered messages both ways,
// while window writes with a known pattern go both ways over the faulted
// link too, and a fault plan (PUT /v1/peers/:peer/faults) closes, resets and
// blackholes that link's TCP connection at random from a seed:
//   PCIe: rc and an ep that dials it; the ep's link to the rc is faulted.
//   NTB:  a board, HOST1 (vhost) and HOST2 (virtio) dialing it; HOST1's link
//         to the board is faulted, so every message crosses it and the
//         board's translated memory window.
// Every fault is bounded to end well within the resume window, so the link
// layer promises that nothing is lost, duplicated, reordered or corrupted,
// and every replica converges. SOCLINK_CHAOS_SEED replays a run (the seed
// is printed either way).

import t, { type Test } from 'tap'
import { ControlClient, RpmsgClient, type Peer, type RpmsgEndpoint } from '../../client/src/index.js'
import { startDaemon, until, within, type Daemon } from '../support/daemon.js'
import { channelEvent, rpmsgBus } from '../support/rpmsg-procs.js'

const SEED = Number(process.env.SOCLINK_CHAOS_SEED ?? 1106)
const FAULTS = 24
const RESUME_WINDOW_MS = 15_000
const DEAD_AFTER_MS = 1500
// The longest fault: a blackhole of MAX_BLACKHOLE_MS, then dead-after and a redial; far inside the resume window.
const MAX_BLACKHOLE_MS = 2500
const LINK = ['--heartbeat-ms', '250', '--dead-after-ms', String(DEAD_AFTER_MS), '--reconnect-max-ms', '200', '--resume-window-ms', String(RESUME_WINDOW_MS)]
const REGION = 64 * 1024
const BLOCK = 4096
const IN_FLIGHT = 16

t.comment(`chaos seed ${SEED} (SOCLINK_CHAOS_SEED=${SEED} replays this run)`)

const daemons: Daemon[] = []
const clients: RpmsgClient[] = []
t.teardown(async () => {
  for (const c of clients) await c.close().catch(() => {})
  for (const d of daemons.reverse()) await d.stop()
})

async function start (name: string, args: string[]): Promise<Daemon> {
  const d = await startDaemon(name, [...args, ...LINK])
  daemons.push(d)
  return d
}

/**
 * One topology under chaos: the rpmsg applications' daemons (virtio and
 * vhost side), and the two ends of the faulted link (`near` carries the
 * fault plan and dials `far`), which also carry the window writes.
 */
interface Topology {
  virtio: Daemon
  vhost: Daemon
  near: { daemon: Daemon, name: string }
  far: { daemon: Daemon, name: string }
}

async function pcie (): Promise<Topology> {
  const rc = await start('rc', ['--role', 'rc'])
  const ep = await start('ep', ['--role', 'ep', '--fault-injection', '--peer', rc.link])
  await rpmsgBus(ep)
  await rpmsgBus(rc)
  return { virtio: rc, vhost: ep, near: { daemon: ep, name: 'ep' }, far: { daemon: rc, name: 'rc' } }
}

async function ntb (): Promise<Topology> {
  const board = await start('board', ['--role', 'ntb'])
  const host1 = await start('host1', ['--role', 'ntb-vhost', '--fault-injection', '--peer', board.link])
  const host2 = await start('host2', ['--role', 'ntb-virtio', '--peer', board.link])
  await rpmsgBus(host1)
  await rpmsgBus(host2)
  return { virtio: host2, vhost: host1, near: { daemon: host1, name: 'host1' }, far: { daemon: board, name: 'board' } }
}

/** Message `seq` of direction `dir`: seq and dir (u32 LE), then bytes from both; 8 to `max` bytes. */
function message (dir: number, seq: number, max: number): Buffer {
  const size = 8 + (seq * 37) % (max - 7)
  const out = Buffer.alloc(size)
  out.writeUInt32LE(seq, 0)
  out.writeUInt32LE(dir, 4)
  for (let k = 8; k < size; k++) out[k] = (seq * 13 + k * 7 + dir) & 0xff
  return out
}

/** What one direction's receiver saw. */
class Tally {
  readonly seen = new Set<number>()
  duplicated = 0
  reordered = 0
  corrupted = 0
  foreign = 0
  private highest = -1

  take (dir: number, src: number, from: number, payload: Buffer, max: number): void {
    const seq = payload.length >= 8 ? payload.readUInt32LE(0) : -1
    if (src !== from || seq < 0) { this.foreign++; return }
    if (!payload.equals(message(dir, seq, max))) this.corrupted++
    if (this.seen.has(seq)) { this.duplicated++; return }
    if (seq < this.highest) this.reordered++
    this.highest = Math.max(this.highest, seq)
    this.seen.add(seq)
  }
}

/** Sends until `stop()`, IN_FLIGHT at a time, in order; failures are kept, never retried. */
async function sender (ept: RpmsgEndpoint, dst: number, dir: number, stop: () => boolean): Promise<{ sent: number, failures: string[] }> {
  let seq = 0
  const failures: string[] = []
  while (!stop()) {
    const batch: Array<Promise<void>> = []
    for (let k = 0; k < IN_FLIGHT; k++) {
      const s = seq++
      batch.push(ept.send(dst, message(dir, s, ept.maxPayload)).catch((err: Error & { code?: string }) => { failures.push(`seq ${s}: ${err.code ?? ''} ${err.message}`) }))
    }
    await Promise.all(batch)
  }
  return { sent: seq, failures }
}

async function receiver (ept: RpmsgEndpoint, dir: number, from: () => number, tally: Tally): Promise<void> {
  for await (const m of ept) tally.take(dir, m.src, from(), Buffer.from(m.payload), ept.maxPayload)
}

/** Window writes until `stop()`: write k fills block k mod blocks with a pattern of k; `expected` follows. */
async function writer (api: ControlClient, window: number, expected: Buffer, stop: () => boolean): Promise<{ writes: number, failures: string[] }> {
  let k = 0
  const failures: string[] = []
  while (!stop()) {
    const block = k % (REGION / BLOCK)
    const bytes = Buffer.alloc(BLOCK)
    for (let j = 0; j < BLOCK; j += 4) bytes.writeUInt32LE((k * 0x9e3779b1 + j) >>> 0, j)
    try {
      await api.writeWindow(window, block * BLOCK, bytes)
      bytes.copy(expected, block * BLOCK)
    } catch (err) {
      failures.push(`write ${k}: ${(err as Error).message}`)
    }
    k++
  }
  return { writes: k, failures }
}

for (const [label, make] of [['PCIe', pcie], ['NTB', ntb]] as const) {
  t.test(`${label}: rpmsg both ways and window writes both ways through ${FAULTS} random closes, resets and blackholes: nothing lost, duplicated, reordered or corrupted`, async (t) => {
    const topo = await make()
    await chaos(t, topo)
  })
}

async function chaos (t: Test, topo: Topology): Promise<void> {
  // rc/ep below name the virtio and vhost sides' applications, and the far and near ends of the faulted link.
  const rcApp = await RpmsgClient.connect(topo.virtio.api)
  clients.push(rcApp)
  const epApp = await RpmsgClient.connect(topo.vhost.api)
  clients.push(epApp)
  const rcApi = new ControlClient(topo.far.daemon.api)
  const epApi = new ControlClient(topo.near.daemon.api)
  const announced = channelEvent(rcApp, 'chaos', true)
  const epEpt = await epApp.createEndpoint({ name: 'chaos', announce: true })
  const rcEpt = await rcApp.createEndpoint({ name: 'chaos-rc' })
  const dst = (await announced).dst

  await rcApi.createRegion('chaos-rc', REGION)
  await epApi.createRegion('chaos-ep', REGION)
  const epWindow = await epApi.openWindow({ peer: topo.far.name, region: 'chaos-rc', size: REGION, replica: true })
  const rcWindow = await rcApi.openWindow({ peer: topo.near.name, region: 'chaos-ep', size: REGION, replica: true })
  const expectRc = Buffer.alloc(REGION)
  const expectEp = Buffer.alloc(REGION)

  const up = new Tally()
  const down = new Tally()
  let epPeer = 0
  // The ep application learns the rc application's address from its first message.
  void receiver(epEpt, 1, () => rcEpt.addr, up)
  void receiver(rcEpt, 2, () => epPeer, down)
  epPeer = epEpt.addr

  const before = await epApi.peer(topo.far.name)
  let stopped = false
  const stop = (): boolean => stopped
  const traffic = Promise.all([
    sender(rcEpt, dst, 1, stop), sender(epEpt, rcEpt.addr, 2, stop),
    writer(epApi, epWindow.id, expectRc, stop), writer(rcApi, rcWindow.id, expectEp, stop)
  ])
  await epApi.setFaults(topo.far.name, {
    actions: ['close', 'reset', 'blackhole'], count: FAULTS, afterMs: 300, gapMs: 200, maxGapMs: 900, ms: 100, maxMs: MAX_BLACKHOLE_MS, seed: SEED
  })
  const done: Peer = await until('every fault carried out and the link back up', async () => {
    const p = await epApi.peer(topo.far.name)
    return p.faults?.remaining === 0 && p.faults.active === null && p.state === 'up' ? p : undefined
  }, 120_000)
  stopped = true
  const [rcSends, epSends, epWrites, rcWrites] = await within(traffic, 'the traffic to stop', 60_000)
  await epApi.clearFaults(topo.far.name)
  t.comment(`faults ${JSON.stringify(done.faults?.counts)}; connects ${done.counters.connects - before.counters.connects}, resumes ${done.counters.resumes - before.counters.resumes}; ` +
    `messages ${rcSends.sent} rc->ep, ${epSends.sent} ep->rc; window writes ${epWrites.writes} ep->rc, ${rcWrites.writes} rc->ep`)

  t.equal(done.faults?.fired, FAULTS, `${FAULTS} faults carried out (seed ${SEED})`)
  t.ok(done.counters.connects - before.counters.connects >= 1, 'the link reconnected')
  t.equal(done.counters.sessions, before.counters.sessions, 'every reconnect resumed the same session: no link reset')
  t.same(rcSends.failures.slice(0, 5), [], 'every rc send answered ok')
  t.same(epSends.failures.slice(0, 5), [], 'every ep send answered ok')
  t.same(epWrites.failures.slice(0, 5), [], 'every ep window write answered ok')
  t.same(rcWrites.failures.slice(0, 5), [], 'every rc window write answered ok')

  // Everything sent arrives; a message that never does is a loss (reported, then the test fails).
  const arrived = async (tally: Tally, sent: number): Promise<boolean> => {
    try {
      await until('every message', () => tally.seen.size >= sent ? true : undefined, 60_000)
      return true
    } catch { return false } // the counts below say what is missing
  }
  await arrived(up, rcSends.sent)
  await arrived(down, epSends.sent)
  for (const [name, tally, sent] of [['virtio side -> vhost side', up, rcSends.sent], ['vhost side -> virtio side', down, epSends.sent]] as const) {
    t.same({ lost: sent - tally.seen.size, duplicated: tally.duplicated, reordered: tally.reordered, corrupted: tally.corrupted, foreign: tally.foreign },
      { lost: 0, duplicated: 0, reordered: 0, corrupted: 0, foreign: 0 }, `${name}: ${sent} messages, each once, in order, intact (seed ${SEED})`)
  }

  // Replicas converge: each owner's region, and the writer's replica of it, hold every write answered.
  const same = async (read: () => Promise<Uint8Array>, want: Buffer): Promise<boolean> =>
    await until('converged', async () => Buffer.from(await read()).equals(want) ? true : undefined, 30_000).catch(() => false)
  t.ok(await same(async () => await rcApi.readRegion('chaos-rc', 0, REGION), expectRc), 'the rc\'s region holds every ep window write')
  t.ok(await same(async () => await epApi.readWindow(epWindow.id, 0, REGION), expectRc), 'the ep\'s replica converged to it')
  t.ok(await same(async () => await epApi.readRegion('chaos-ep', 0, REGION), expectEp), 'the ep\'s region holds every rc window write')
  t.ok(await same(async () => await rcApi.readWindow(rcWindow.id, 0, REGION), expectEp), 'the rc\'s replica converged to it')
}
