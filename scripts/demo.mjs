// npm run demo: rpmsg between soclink daemons on loopback. pcie (the
// default): an rc daemon (root complex, virtio side) and an ep daemon
// (endpoint function running the rpmsg vhost driver) link up as PCIe would.
// ntb: an NTB board daemon and two hosts behind it, HOST1 (ntb-vhost,
// running the rpmsg vhost driver) and HOST2 (ntb-virtio). An application on
// the vhost side announces an echo endpoint through the name service, an
// application on the virtio side finds it, claims it (as a kernel driver
// binds a channel), exchanges messages, then
// measures a burst and round trips. Everything it started is stopped before
// it exits, also on Ctrl-C. Needs only `npm install` (which builds dist/);
// imports the built package.
//
//   node scripts/demo.mjs [--topology pcie|ntb]
//
// A topology says which daemons to start and which two rpmsg gateways the
// applications use (the virtio side's and the vhost side's), and how a
// message travels between them.

import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { clearTimeout } from 'node:timers'
import { parseArgs } from 'node:util'

const root = new URL('../', import.meta.url).pathname
const SERVICE = 'rpmsg-echo'
const SHOWN = 5
const BURST = 10_000
const ROUNDS = 1_000
const STEP_MS = 20_000

const say = (s = '') => process.stdout.write(s + '\n')
const n = (x) => Math.round(x).toLocaleString('en-US')
const ms = (x) => x.toFixed(3)

class DemoError extends Error {}

/** client/src/deadline.ts, as built: loaded with the client below. */
let deadline
/** client/src/progress.ts, as built: the burst's progress line, and its units. */
let progress
let progressUnits

/** `p`, or a DemoError naming `what` if it has not settled within `limit` ms. */
async function within (p, what, limit = STEP_MS) {
  return await deadline.within(p, limit, () => { throw new DemoError(`${what}: nothing after ${limit / 1000} s`) })
}

/** Polls `check` until it returns something other than undefined (a check that fails counts as undefined). */
async function until (what, check, limit = STEP_MS) {
  return await deadline.until(async () => await check().catch(() => undefined), limit, () => new DemoError(`timed out waiting for ${what}`))
}

// ---- daemons --------------------------------------------------------------

const daemons = []
// The link secret of this run, in a file only this user reads: a secret on
// the command line would be in /proc/PID/cmdline for every user.
const secretDir = mkdtempSync(join(tmpdir(), 'soclink-demo-'))
const secretFile = join(secretDir, 'link.secret')
writeFileSync(secretFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 })

/** Starts soclinkd with ports chosen by the kernel and reads them back from its ready line. */
async function startDaemon (name, args) {
  const proc = spawn(process.execPath, [root + 'dist/daemon/src/bin/soclinkd.js', '--name', name,
    '--listen', '127.0.0.1:0', '--api', '127.0.0.1:0', '--secret-file', secretFile, '--log-level', 'warn', ...args],
  { stdio: ['ignore', 'pipe', 'pipe'] })
  const d = { name, pid: proc.pid, proc, logs: [], link: '', api: '' }
  d.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal)))
  daemons.push(d)
  proc.stderr.on('data', (b) => { d.logs.push(b.toString().trimEnd()) })
  const ready = new Promise((resolve) => {
    createInterface({ input: proc.stdout }).on('line', (line) => {
      d.logs.push(line)
      try {
        const r = JSON.parse(line)
        if (r.api && r.listen) resolve(r)
      } catch {
        // Not a JSON log line (a Node warning, say): kept in the logs above, not the ready line.
      }
    })
  })
  const early = d.exited.then((code) => { throw new DemoError(`${name} exited (${code}) before it was ready:\n${d.logs.join('\n')}`) })
  const r = await within(Promise.race([ready, early]), `${name} to say where it listens`)
  d.link = r.listen
  d.api = r.api
  return d
}

/** SIGTERM to every daemon still running, then waits for each to exit. */
async function stopDaemons () {
  const running = daemons.filter((d) => d.proc.exitCode === null && d.proc.signalCode === null)
  for (const d of running) d.proc.kill('SIGTERM')
  await Promise.all(running.map(async (d) => {
    // soclinkd drains within 5 s; a daemon that does not is killed.
    const t = setTimeout(() => d.proc.kill('SIGKILL'), 8000)
    await d.exited
    clearTimeout(t)
  }))
  return running
}

// ---- topologies -----------------------------------------------------------

/**
 * PCIe (the RFC's first use case): the ep's endpoint function vhost0 on
 * controller pcie0 runs the rpmsg vhost driver (the default vhostDriver:
 * rpmsg); the rc enumerates it and binds virtio_rpmsg_bus.
 */
async function pcie ({ ControlClient }) {
  say('Starting two daemons on loopback (ports chosen by the kernel):')
  const rc = await startDaemon('rc', ['--role', 'rc'])
  say(`  rc  root complex, virtio side   pid ${rc.pid}  peer links ${rc.link}  control API ${rc.api}`)
  const ep = await startDaemon('ep', ['--role', 'ep', '--peer', rc.link])
  say(`  ep  endpoint, vhost side        pid ${ep.pid}  peer links ${ep.link}  control API ${ep.api}`)
  say('      ep dials rc; its endpoint function vhost0 on pcie0 runs the rpmsg vhost driver,')
  say('      as every ep\'s does by default (vhostDriver: rpmsg; no config file needed)')
  say()
  say('Waiting for the link, enumeration and the rpmsg device...')
  const rcApi = new ControlClient(rc.api)
  const dev = await until('the rc to bring the rpmsg device to DRIVER_OK', async () =>
    (await rcApi.devices()).find((x) => x.driver === 'virtio_rpmsg_bus' && x.statusBits.includes('DRIVER_OK')))
  // GET /v1/rpmsg/endpoints answers 404 until the daemon has an rpmsg bus.
  await until('the ep\'s vhost rpmsg bus', async () => (await globalThis.fetch(ep.api + '/v1/rpmsg/endpoints')).ok ? true : undefined)
  say(`  rc: ${dev.name} (${dev.transport}, device id ${dev.deviceId} = rpmsg) is DRIVER_OK with driver ${dev.driver}, features ${dev.driverFeatures}`)
  return {
    virtio: { name: 'rc', api: rc.api },
    vhost: { name: 'ep', api: ep.api },
    route: 'rc daemon → ep daemon',
    crossing: 'the rings in rc memory and the link twice'
  }
}

/**
 * NTB (the RFC's second use case): the board's NTB function joins two hosts
 * that each dial it; HOST1 (ntb-vhost) runs the rpmsg vhost driver (the
 * default vhostDriver: rpmsg), HOST2 (ntb-virtio) keeps the rings and
 * buffers in its memory window 0 and binds virtio_rpmsg_bus once the two
 * have met in the board's scratchpads.
 */
async function ntb ({ ControlClient }) {
  say('Starting three daemons on loopback (ports chosen by the kernel):')
  const board = await startDaemon('board', ['--role', 'ntb'])
  say(`  board  NTB board                pid ${board.pid}  peer links ${board.link}  control API ${board.api}`)
  const host1 = await startDaemon('host1', ['--role', 'ntb-vhost', '--peer', board.link])
  say(`  host1  HOST1, ntb-vhost side    pid ${host1.pid}  peer links ${host1.link}  control API ${host1.api}`)
  const host2 = await startDaemon('host2', ['--role', 'ntb-virtio', '--peer', board.link])
  say(`  host2  HOST2, ntb-virtio side   pid ${host2.pid}  peer links ${host2.link}  control API ${host2.api}`)
  say('      both hosts dial the board, which pairs them on one NTB function (pci-epf-ntb);')
  say('      each host binds ntb_hw_epf to it; HOST1 runs the rpmsg vhost driver, HOST2 the virtio side')
  say()
  say('Waiting for the links, the NTB handshake (scratchpads) and the rpmsg device...')
  const h2 = new ControlClient(host2.api)
  const h1 = new ControlClient(host1.api)
  const dev = await until('HOST2 to bring the rpmsg device to DRIVER_OK', async () =>
    (await h2.devices()).find((x) => x.driver === 'virtio_rpmsg_bus' && x.statusBits.includes('DRIVER_OK')))
  const vdev = await until('HOST1\'s vhost rpmsg device', async () => (await h1.devices()).find((x) => x.driver === 'vhost_rpmsg_bus'))
  await until('HOST1\'s vhost rpmsg bus', async () => (await globalThis.fetch(host1.api + '/v1/rpmsg/endpoints')).ok ? true : undefined)
  const mw = (await (await globalThis.fetch(host2.api + '/v1/ntb')).json()).transport
  say(`  host2: ${dev.name} (${dev.transport}, device id ${dev.deviceId} = rpmsg) is DRIVER_OK with driver ${dev.driver}, features ${dev.driverFeatures}`)
  say(`  host2: rings and buffers in its memory window 0 (0x${mw.virtioAddr.toString(16)}, ${n(mw.mwSize / 1024)} KiB), which HOST1 reaches through the board`)
  say(`  host1: ${vdev.name} (${vdev.transport}) bound to ${vdev.driver}`)
  return {
    virtio: { name: 'host2', api: host2.api },
    vhost: { name: 'host1', api: host1.api },
    route: 'host2 daemon → board → host1 daemon',
    crossing: 'the rings in host2\'s memory window 0 and both links through the board twice'
  }
}

const TOPOLOGIES = {
  pcie: { title: 'an emulated PCIe link between two daemons', start: pcie },
  ntb: { title: 'an emulated NTB: a board daemon between two host daemons', start: ntb }
}

// ---- the applications -----------------------------------------------------

/** The vhost side's application: an announced endpoint that sends every message back. */
async function startEcho (client) {
  const ept = await client.createEndpoint({ name: SERVICE, announce: true })
  // Posted sends (rpmsg_send() without waiting for each answer); the echo
  // ends when its connection closes.
  void (async () => { for await (const m of ept) ept.post(m.src, m.payload) })().catch(() => {})
  return { ept }
}

/** Takes the next message from an endpoint's iterator. */
async function next (it, what) {
  const r = await within(it.next(), what)
  if (r.done) throw new DemoError(`${what}: the endpoint closed`)
  return r.value
}

async function exchange (sides, { RpmsgClient }) {
  const virtioApp = await RpmsgClient.connect(sides.virtio.api)
  const vhostApp = await RpmsgClient.connect(sides.vhost.api)
  const apps = [virtioApp, vhostApp]
  try {
    const v = sides.virtio.name
    const h = sides.vhost.name
    say()
    say('Two applications (in this process) connect to the daemons\' rpmsg gateways (ws://API/v1/rpmsg):')
    const announced = within(new Promise((resolve) => {
      const on = (ev) => { if (ev.name === SERVICE && ev.created) { virtioApp.off('channel', on); resolve(ev) } }
      virtioApp.on('channel', on)
    }), `the name service announcement of "${SERVICE}" on ${v}`)
    announced.catch(() => {}) // awaited below
    const echo = await startEcho(vhostApp)
    say(`  ${h} app: echo endpoint "${SERVICE}" at address ${echo.ept.addr}, announced by the name service (NS CREATE to address 53)`)
    const ch = await announced
    say(`  ${v} app: the name service reports channel "${ch.name}": ${h} address ${ch.dst}, unbound until a driver claims it (rpmsgBind: kernel)`)
    // As a kernel driver binds the channel (rpmsg_dev_probe()): its endpoint is made here and the address service tells the other side.
    const mine = await virtioApp.claimChannel(SERVICE, { dst: ch.dst })
    say(`  ${v} app: claimed the channel, as a kernel driver binds it: my endpoint is address ${mine.addr}`)
    const bound = await within(echo.ept.whenBound(), `the address service binding "${SERVICE}" on ${h}`)
    say(`  ${h} app: the address service (address 54) bound the channel to ${v} address ${bound}`)

    const it = mine[Symbol.asyncIterator]()
    say()
    say(`Messages: ${v} sends to the echo endpoint; each line shows what went and what came back.`)
    for (let i = 1; i <= SHOWN; i++) {
      const text = `hello ${i}`
      await mine.send(ch.dst, Buffer.from(text))
      const back = await next(it, `the echo of "${text}"`)
      const got = Buffer.from(back.payload).toString()
      if (got !== text || back.src !== ch.dst) throw new DemoError(`sent "${text}", got "${got}" from ${back.src}`)
      say(`  ${v} → ${h}: ${text}   /   ${h} → ${v}: ${got}`)
    }

    const size = mine.maxPayload
    say()
    say(`Burst: ${n(BURST)} messages of ${size} bytes (the largest payload of a 512-byte rpmsg buffer), posted, each echoed back...`)
    const msg = (i) => { const b = Buffer.alloc(size, i & 0xff); b.writeUInt32LE(i, 0); return b }
    const t0 = performance.now()
    // On a terminal, a line counting the echoes (client/src/progress.ts); nothing when piped.
    let echoed = 0
    progress.begin('  burst echoes', BURST, progressUnits.MESSAGES, () => echoed)
    const received = (async () => {
      for (let i = 0; i < BURST; i++) {
        const m = await next(it, `echo ${i} of the burst`)
        if (!Buffer.from(m.payload).equals(msg(i))) throw new DemoError(`burst message ${i} came back wrong or out of order`)
        echoed++
      }
    })()
    received.catch(() => {}) // awaited below; a failure while still sending is reported there
    // Posted: the client batches them; flush() resolves once every one is in an rpmsg buffer.
    for (let i = 0; i < BURST; i++) mine.post(ch.dst, msg(i))
    try {
      await within(mine.flush(), 'the burst\'s sends', 60_000)
      await within(received, 'the burst\'s echoes', 60_000)
    } finally {
      progress.end()
    }
    const secs = (performance.now() - t0) / 1000
    say(`  ${n(BURST)} sent ${v} → ${h} and ${n(BURST)} echoed ${h} → ${v} in ${secs.toFixed(2)} s, every one intact and in order`)
    say(`  rate: ${n(BURST / secs)} msgs/s each way (${n(2 * BURST / secs)} msgs/s both ways together)`)

    say()
    say(`Round trips: ${n(ROUNDS)} ping-pongs of 16 bytes, one at a time (${v} app → ${sides.route} → echo app, and back)...`)
    const rtts = []
    const ping = Buffer.alloc(16, 0x5a)
    for (let i = 0; i < ROUNDS; i++) {
      const s = performance.now()
      await mine.send(ch.dst, ping)
      await next(it, `ping-pong ${i}`)
      rtts.push(performance.now() - s)
    }
    rtts.sort((a, b) => a - b)
    const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length
    say(`  RTT: min ${ms(rtts[0])} ms  avg ${ms(avg)} ms  p99 ${ms(rtts[Math.ceil(rtts.length * 0.99) - 1])} ms`)
    say(`  (each one crosses both gateways, both rpmsg buses, ${sides.crossing})`)
  } finally {
    for (const a of apps) await a.close()
  }
}

// ---- main -----------------------------------------------------------------

const USAGE = 'usage: npm run demo [-- --topology pcie|ntb]'

function options () {
  try {
    const { values } = parseArgs({ options: { topology: { type: 'string', default: 'pcie' }, help: { type: 'boolean', short: 'h' } } })
    if (values.help) { say(USAGE); process.exit(0) }
    if (!Object.hasOwn(TOPOLOGIES, values.topology)) {
      throw new DemoError(`unknown topology "${values.topology}": this demo runs ${Object.keys(TOPOLOGIES).join(', ')}`)
    }
    return values
  } catch (err) {
    process.stderr.write(`demo: ${err.message}\n${USAGE}\n`)
    process.exit(2)
  }
}

const opts = options()
let stopping = false
// Ctrl-C or a kill: stop the daemons, then leave with 128 + the signal number.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.on(signal, () => {
    if (stopping) return
    stopping = true
    process.stderr.write(`\ndemo: ${signal}, stopping the daemons\n`)
    void stopDaemons().finally(() => process.exit(code))
  })
}
// Last resort (an exit we did not plan): no daemon outlives the demo.
process.on('exit', () => {
  for (const d of daemons) if (d.proc.exitCode === null && d.proc.signalCode === null) d.proc.kill('SIGKILL')
  rmSync(secretDir, { recursive: true, force: true })
})

try {
  if (!existsSync(root + 'dist/client/src/index.js')) {
    say('dist/ is missing: building the package first (npm run build)')
    const b = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' })
    if (b.status !== 0) throw new DemoError('npm run build failed')
  }
  const lib = await import(root + 'dist/client/src/index.js')
  deadline = await import(root + 'dist/client/src/deadline.js')
  progressUnits = await import(root + 'dist/client/src/progress.js')
  progress = new progressUnits.Progress()
  const topology = TOPOLOGIES[opts.topology]
  say(`soclink demo: rpmsg over ${topology.title} on this machine`)
  say()
  const sides = await topology.start(lib)
  await exchange(sides, lib)
  say()
} catch (err) {
  if (!stopping) {
    process.stderr.write(`\ndemo failed: ${err instanceof DemoError ? err.message : err.stack}\n`)
    for (const d of daemons) if (d.logs.length > 0) process.stderr.write(`--- ${d.name} (pid ${d.pid}) said:\n${d.logs.slice(-20).join('\n')}\n`)
    process.exitCode = 1
  }
} finally {
  if (!stopping) {
    stopping = true
    say('Stopping the daemons (SIGTERM; each drains its link and exits)...')
    for (const d of await stopDaemons()) say(`  ${d.name} (pid ${d.pid}) exited with ${await d.exited}`)
    if (process.exitCode === undefined || process.exitCode === 0) say('Done.')
  }
}
