// soclink rpmsg echo outlives a restart of its daemon: a real ep daemon
// (fixed control API port) is stopped and started again under a running
// `soclink rpmsg echo --announce`; the echo says it lost the connection,
// connects again (trying again while nothing listens, and while the new
// daemon has no rpmsg bus yet), makes its endpoint again at the address it
// had, says so, and echoes the rc's messages as before.

import t from 'tap'
import { createInterface } from 'node:readline'
import { RpmsgClient } from '../../client/src/index.js'
import { SOCLINK, startDaemon, until, within, type Daemon } from '../support/daemon.js'
import { spawn } from '../support/children.js'
import { channelEvent, rpmsgBus } from '../support/rpmsg-procs.js'
import { unusedPort } from '../support/ports.js'

const rc = await startDaemon('rc', ['--role', 'rc'])
const epArgs = ['--role', 'ep', '--peer', rc.link, '--api', `127.0.0.1:${await unusedPort()}`]
let ep: Daemon = await startDaemon('ep', epArgs)
const clients: RpmsgClient[] = []
t.teardown(async () => {
  for (const c of clients) await c.close()
  await ep.stop()
  await rc.stop()
})
await rpmsgBus(ep)
await rpmsgBus(rc)

/** An rc application claims channel `name` and sends `text`: what comes back. */
async function roundTrip (name: string, text: string): Promise<string> {
  const app = await RpmsgClient.connect(rc.api)
  clients.push(app)
  // Channels there already come as events on connecting.
  const ch = await channelEvent(app, name, true)
  const mine = await app.claimChannel(name, { dst: ch.dst })
  const it = mine[Symbol.asyncIterator]()
  await mine.send(ch.dst, Buffer.from(text))
  const back = await within(it.next(), `the echo of ${text}`)
  await app.close()
  return Buffer.from(back.value!.payload).toString()
}

t.test('echo connects again after its daemon restarts, at the same address', async (t) => {
  const proc = spawn(process.execPath, [SOCLINK, '--api', ep.api, '--json', 'rpmsg', 'echo', '--announce', '--name', 'survivor'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => { resolve(code) }))
  t.teardown(() => { if (proc.exitCode === null) proc.kill('SIGKILL') })
  const records: Array<Record<string, unknown>> = []
  let stderr = ''
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  createInterface({ input: proc.stdout! }).on('line', (l) => { records.push(JSON.parse(l) as Record<string, unknown>) })
  const record = async (type: string, after = 0): Promise<Record<string, unknown>> =>
    await until(`a ${type} record from echo (stderr: ${stderr})`, () => records.slice(after).find((r) => r.type === type), 60_000)

  const echoing = await record('echoing')
  t.equal(await roundTrip('survivor', 'before'), 'before', 'it echoes')

  await ep.stop()
  const lost = await record('disconnected')
  t.match(lost, { url: /^ws:\/\/127\.0\.0\.1:\d+\/v1\/rpmsg$/ }, 'it says the connection closed')
  await until('a try while nothing listens', () => /ERR_CONNECT: .*; trying again in \d+ ms/.test(stderr) ? true : undefined, 30_000)
  ep = await startDaemon('ep', epArgs)
  const back = await record('reconnected')
  t.match(back, { addr: echoing.addr, name: 'survivor', announced: true }, 'connected again, its endpoint at the address it had')
  t.equal(await roundTrip('survivor', 'after'), 'after', 'and echoes through the new daemon')

  proc.kill('SIGINT')
  t.equal(await within(exited, 'echo ends on Ctrl-C'), 0, 'Ctrl-C ends it cleanly')
})
