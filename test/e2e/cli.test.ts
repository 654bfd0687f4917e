// Two real soclinkd processes on loopback, driven only through the soclink
// CLI: shared memory through a window, a doorbell, the event stream, a wrong
// secret refused with a message that says so, a restarted peer seen as link
// down then up, and a drained shutdown seen with its reason.

import t from 'tap'
import { createInterface } from 'node:readline'
import { spawn } from '../support/children.js'
import { startDaemon, cli, until, SOCLINK, type Daemon } from '../support/daemon.js'

const SECRET = 'open-sesame'

/** Starts `soclink events --json` and collects its lines. */
function watchEvents (api: string): { lines: Array<Record<string, unknown>>, stop: () => void } {
  const proc = spawn(process.execPath, [SOCLINK, '--api', api, '--json', 'events'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines: Array<Record<string, unknown>> = []
  createInterface({ input: proc.stdout! }).on('line', (l) => { lines.push(JSON.parse(l) as Record<string, unknown>) })
  return { lines, stop: () => { proc.kill() } }
}

async function peerState (api: string, name: string): Promise<Record<string, unknown> | undefined> {
  const r = await cli(api, '--json', 'peers')
  if (r.code !== 0) return undefined
  return (JSON.parse(r.stdout) as Array<Record<string, unknown>>).find((p) => p.name === name)
}

t.test('two daemons share memory and ring doorbells through the CLI', async (t) => {
  const rc = await startDaemon('rc', ['--role', 'rc', '--secret', SECRET])
  let ep: Daemon = await startDaemon('ep', ['--role', 'ep', '--secret', SECRET, '--peer', rc.link])
  t.teardown(async () => { await ep.stop(); await rc.stop() })

  await until('ep linked', async () => (await peerState(ep.api, 'rc'))?.state === 'up' ? true : undefined)
  t.equal((await cli(rc.api, 'region', 'create', 'mem', '64K')).code, 0, 'region created')
  t.equal((await cli(rc.api, 'doorbell', 'declare', 'kick')).code, 0, 'doorbell declared')

  const opened = await cli(ep.api, '--json', 'window', 'open', 'rc', 'mem', '4096')
  t.equal(opened.code, 0, opened.stderr)
  const win = JSON.parse(opened.stdout) as { id: number, state: string }
  t.equal(win.state, 'open')

  // Subscribed once a probe ring (value 1) comes through the stream.
  const events = watchEvents(rc.api)
  t.teardown(events.stop)
  await until('the event stream subscribed', async () => {
    const probe = await cli(ep.api, 'ring', 'rc', 'kick', '1')
    if (probe.code !== 0) throw new Error(`soclink ring (the probe) exited ${probe.code}: ${probe.stderr}`)
    return events.lines.some((e) => e.type === 'doorbell') ? true : undefined
  })

  t.equal((await cli(ep.api, 'window', 'write', String(win.id), '0x10', 'deadbeef')).code, 0, 'written through the window')
  t.equal((await cli(ep.api, 'ring', 'rc', 'kick', '7')).code, 0, 'doorbell rung')
  const dump = await cli(rc.api, 'mem', 'read', 'mem', '0x10', '4')
  t.match(dump.stdout, /^00000010 {2}de ad be ef/m, 'the owner sees the bytes (hexdump)')

  t.match(await until('doorbell event', () => events.lines.find((e) => e.type === 'doorbell' && e.value === 7)), { peer: 'ep', target: 'kick', value: 7 })

  // The owner writes; the window's replica follows.
  t.equal((await cli(rc.api, 'mem', 'write', 'mem', '0x20', 'c0ffee')).code, 0)
  await until('replica update', async () => /00000020 {2}c0 ff ee/.test((await cli(ep.api, 'window', 'read', String(win.id), '0x20', '3')).stdout) ? true : undefined)

  const oob = await cli(ep.api, 'window', 'write', String(win.id), '4095', 'aabb')
  t.equal(oob.code, 1, 'a write past the window fails')
  t.match(oob.stderr, /ERR_OUT_OF_RANGE/)

  // A peer with the wrong secret is refused, and both sides say why.
  const intruder = await startDaemon('intruder', ['--secret', 'wrong', '--peer', rc.link])
  t.teardown(async () => { await intruder.stop() })
  const refused = await until('refusal', async () => {
    const r = await cli(intruder.api, '--json', 'peers')
    const p = (JSON.parse(r.stdout) as Array<{ lastError: string }>)[0]
    return p !== undefined && /authentication failed/.test(p.lastError) ? p : undefined
  })
  t.match(refused.lastError, /authentication failed/, 'the dialer is told the secret is wrong')
  await until('rc logged the refusal', () => rc.logs.some((l) => /authentication failed/.test(l)) ? true : undefined)
  await intruder.stop()

  // ep restarts: a new incarnation is link down, then up, on rc.
  events.lines.length = 0
  await ep.stop('SIGKILL')
  ep = await startDaemon('ep', ['--role', 'ep', '--secret', SECRET, '--peer', rc.link])
  await until('link down then up', () => {
    const kinds = events.lines.filter((e) => e.type === 'link' && e.peer === 'ep').map((e) => e.state)
    return kinds.join(',') === 'down,up' ? true : undefined
  })
  t.pass('rc saw ep go down and come back as a new incarnation')

  // A drained shutdown tells the peer why.
  await ep.stop('SIGTERM')
  const gone = await until('goodbye seen', async () => {
    const p = await peerState(rc.api, 'ep')
    return p?.state === 'down' ? p : undefined
  })
  t.match(gone.lastError, /ep is shutting down \(SIGTERM\)/)
})
