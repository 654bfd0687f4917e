// Recovery without a hand on the controls: each daemon of both topologies
// is killed with SIGKILL (no goodbye, no clean stop) and started again on
// the same link address, or frozen with SIGSTOP for longer than every link
// timeout (dead-after, then the resume window: its sessions end) and let go
// with SIGCONT, and rpmsg traffic between fresh applications returns by
// itself: PCIe rc, PCIe ep, the NTB board, the NTB virtio host and the NTB
// vhost host, each in turn, with the other daemons of the topology left
// running throughout. Link timeouts are short here so that a freeze outlasts
// them in a few seconds.

import t from 'tap'
import { RpmsgClient } from '../../client/src/index.js'
import { startDaemon, within, type Daemon } from '../support/daemon.js'
import { scaled } from '../support/time.js'
import { channelEvent, rpmsgBus } from '../support/rpmsg-procs.js'
import { echo, exchange } from '../support/ntb-daemons.js'
import { unusedPort } from '../support/ports.js'

const ROUNDS = 50
/** Short link timeouts, the same on every daemon; FREEZE_MS outlasts dead-after plus the resume window. */
const TIMEOUTS = ['--heartbeat-ms', '250', '--dead-after-ms', '1000', '--resume-window-ms', '1500']
const FREEZE_MS = 4000
/** How long a topology may take to come back after a restart (scaled with the suite): generous, not a timing assertion. */
const RECOVER_MS = 90_000

interface Member { name: string, args: string[], daemon: Daemon }

const running: Member[] = []
t.teardown(async () => { for (const m of [...running].reverse()) await m.daemon.stop() })

async function start (name: string, args: string[]): Promise<Member> {
  const m = { name, args: [...args, ...TIMEOUTS], daemon: await startDaemon(name, [...args, ...TIMEOUTS]) }
  running.push(m)
  return m
}

/** SIGKILL, then the same daemon again with the same arguments (its fixed link address among them). */
async function killAndRestart (m: Member): Promise<void> {
  await m.daemon.stop('SIGKILL')
  m.daemon = await startDaemon(m.name, m.args)
}

/** SIGSTOP for FREEZE_MS, then SIGCONT: every session with the daemon ends meanwhile. */
async function freeze (m: Member): Promise<void> {
  m.daemon.proc.kill('SIGSTOP')
  await new Promise((resolve) => setTimeout(resolve, FREEZE_MS))
  m.daemon.proc.kill('SIGCONT')
}

/**
 * Fresh applications: an echo endpoint announced on the vhost side, a
 * sender on the virtio side that finds it by name service and exchanges
 * ROUNDS tagged messages with it. Retried until the topology is back, each
 * try with new clients, since an application may connect while its daemon
 * is still bringing its device up.
 */
async function traffic (virtioSide: () => Daemon, vhostSide: () => Daemon, round: string): Promise<string[]> {
  const deadline = Date.now() + scaled(RECOVER_MS)
  let last = ''
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const clients: RpmsgClient[] = []
    try {
      // Ready when both daemons have an rpmsg bus again; a try can still fail while a device is brought up anew.
      await rpmsgBus(vhostSide(), RECOVER_MS)
      await rpmsgBus(virtioSide(), RECOVER_MS)
      const vhostApp = await RpmsgClient.connect(vhostSide().api)
      clients.push(vhostApp)
      const virtioApp = await RpmsgClient.connect(virtioSide().api)
      clients.push(virtioApp)
      const name = `echo-${round}-${attempt}`
      const announced = channelEvent(virtioApp, name, true)
      // Awaited below; a try that fails before then must not leave it rejecting unheard.
      announced.catch(() => {})
      const echoEpt = await vhostApp.createEndpoint({ name, announce: true })
      echo(echoEpt)
      const ch = await announced
      // Claimed, as a kernel driver binds the channel (rpmsgBind kernel): the address service then binds the echo.
      const sender = await virtioApp.claimChannel(name, { dst: ch.dst })
      await within(echoEpt.whenBound(), 'the address service binds the echo', 30_000)
      return await within(exchange(sender, ch.dst, 0x5253, ROUNDS), `${ROUNDS} round trips`, 30_000)
    } catch (err) {
      last = (err as Error).message
    } finally {
      for (const c of clients) await c.close()
    }
  }
  throw new Error(`${round}: no rpmsg traffic within ${scaled(RECOVER_MS)} ms; last try: ${last}`)
}

t.test('PCIe: the rc and then the ep killed and started again, then each frozen past every timeout; rpmsg returns each time', async (t) => {
  const rc = await start('rc', ['--role', 'rc', '--listen', `127.0.0.1:${await unusedPort()}`])
  const ep = await start('ep', ['--role', 'ep', '--listen', `127.0.0.1:${await unusedPort()}`, '--peer', rc.daemon.link])
  t.same(await traffic(() => rc.daemon, () => ep.daemon, 'first'), [], 'traffic before any fault')
  await killAndRestart(rc)
  t.same(await traffic(() => rc.daemon, () => ep.daemon, 'rc-killed'), [], 'traffic after the rc was killed and started again')
  await killAndRestart(ep)
  t.same(await traffic(() => rc.daemon, () => ep.daemon, 'ep-killed'), [], 'traffic after the ep was killed and started again')
  await freeze(rc)
  t.same(await traffic(() => rc.daemon, () => ep.daemon, 'rc-frozen'), [], 'traffic after the rc was frozen past every timeout')
  await freeze(ep)
  t.same(await traffic(() => rc.daemon, () => ep.daemon, 'ep-frozen'), [], 'traffic after the ep was frozen past every timeout')
})

t.test('NTB: the board, the virtio host and the vhost host killed and started again, then each frozen past every timeout; rpmsg returns each time', async (t) => {
  const board = await start('board', ['--role', 'ntb', '--listen', `127.0.0.1:${await unusedPort()}`])
  const host1 = await start('host1', ['--role', 'ntb-vhost', '--peer', board.daemon.link])
  const host2 = await start('host2', ['--role', 'ntb-virtio', '--peer', board.daemon.link])
  t.same(await traffic(() => host2.daemon, () => host1.daemon, 'first'), [], 'traffic before any fault')
  await killAndRestart(board)
  t.same(await traffic(() => host2.daemon, () => host1.daemon, 'board-killed'), [], 'traffic after the board was killed and started again')
  await killAndRestart(host2)
  t.same(await traffic(() => host2.daemon, () => host1.daemon, 'virtio-host-killed'), [], 'traffic after the virtio host was killed and started again')
  await killAndRestart(host1)
  t.same(await traffic(() => host2.daemon, () => host1.daemon, 'vhost-host-killed'), [], 'traffic after the vhost host was killed and started again')
  for (const m of [board, host2, host1]) {
    await freeze(m)
    t.same(await traffic(() => host2.daemon, () => host1.daemon, `${m.name}-frozen`), [], `traffic after ${m.name} was frozen past every timeout`)
  }
})
