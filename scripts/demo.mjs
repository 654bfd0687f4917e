// npm run demo: two soclink daemons on loopback, an rc and an ep, share a
// region through a window and ring doorbells, driven through the client
// library; then both stop. Needs only `npm install` (which builds dist/).

import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'

const root = new URL('../', import.meta.url).pathname
if (!existsSync(root + 'dist/client/src/index.js')) spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' })
const { ControlClient } = await import(root + 'dist/client/src/index.js')

const secret = 'demo-' + Math.random().toString(36).slice(2)
const daemons = []

async function start (name, role, extra = []) {
  const proc = spawn(process.execPath, [root + 'dist/daemon/src/bin/soclinkd.js', '--role', role, '--name', name,
    '--listen', '127.0.0.1:0', '--api', '127.0.0.1:0', '--secret', secret, '--log-level', 'warn', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] })
  daemons.push(proc)
  const ready = await new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)))
    createInterface({ input: proc.stdout }).on('line', (line) => {
      try { const r = JSON.parse(line); if (r.api && r.listen) resolve(r) } catch {}
    })
  })
  return { name, link: ready.listen, api: new ControlClient(ready.api), apiUrl: ready.api }
}

const hex = (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ')
const text = (b) => Buffer.from(b).toString('latin1').replace(/[^\x20-\x7e]/g, '.')
const say = (s) => process.stdout.write(s + '\n')

try {
  // Both daemons log warnings and errors to stdout as JSON; the demo's own lines are plain.
  const rc = await start('rc', 'rc')
  const ep = await start('ep', 'ep', ['--peer', rc.link])
  say('soclink demo: two daemons on loopback')
  say(`  rc  links ${rc.link}  api ${rc.apiUrl}`)
  say(`  ep  links ${ep.link}  api ${ep.apiUrl}  (dials rc)`)

  let peer
  for (let i = 0; i < 200; i++) {
    peer = (await ep.api.peers()).find((p) => p.name === 'rc')
    if (peer?.state === 'up') break
    await new Promise((r) => setTimeout(r, 25))
  }
  if (peer?.state !== 'up') throw new Error('ep did not link to rc')
  say(`  ep → rc link up, authenticated with the shared secret`)

  await rc.api.createRegion('mem', 64 * 1024)
  await rc.api.declareDoorbell('kick')
  say('  rc: region "mem" (64 KiB) and doorbell "kick" declared')
  const w = await ep.api.openWindow({ peer: 'rc', region: 'mem', offset: 0, size: 4096 })
  say(`  ep: window ${w.id} onto rc:mem [0, 4096) is ${w.state}`)

  // A posted write, then a non-posted read through the same window: as on
  // PCIe, the read's completion cannot pass the write, so it lands first.
  await ep.api.writeWindow(w.id, 0x100, Buffer.from('hello from ep'))
  await ep.api.readWindow(w.id, 0x100, 13, { uncached: true })
  const seen = await rc.api.readRegion('mem', 0x100, 13)
  say(`  ep writes at 0x100 through its window; rc reads: ${hex(seen)}  |${text(seen)}|`)

  await rc.api.writeRegion('mem', 0x200, Buffer.from('hello from rc'))
  let back
  for (let i = 0; i < 100; i++) {
    back = await ep.api.readWindow(w.id, 0x200, 13)
    if (back[0] !== 0) break
    await new Promise((r) => setTimeout(r, 10))
  }
  say(`  rc writes at 0x200; ep's replica shows:    ${hex(back)}  |${text(back)}|`)

  const events = await rc.api.events()
  const N = 100
  const got = []
  const counted = (async () => {
    for await (const e of events) if (e.type === 'doorbell' && got.push(e.value) === N) break
  })()
  const t0 = performance.now()
  for (let i = 1; i <= N; i++) await ep.api.ring('rc', 'kick', i)
  await counted
  const ms = performance.now() - t0
  events.close()
  const inOrder = got.every((v, i) => v === i + 1)
  say(`  ep rings rc:kick ${N} times; rc saw ${got.length} doorbells, values 1..${N} ${inOrder ? 'in order' : 'OUT OF ORDER'} ` +
    `(${Math.round(N / (ms / 1000))}/s through REST and the link)`)
  const p = (await ep.api.peers()).find((x) => x.name === 'rc')
  say(`  link ep → rc: ${p.counters.framesOut} frames in ${p.counters.packetsOut} packets`)
  if (!inOrder || got.length !== N || text(seen) !== 'hello from ep' || text(back) !== 'hello from rc') throw new Error('demo check failed')
  say('  stopping both daemons')
} catch (err) {
  process.stderr.write(`demo failed: ${err.message}\n`)
  process.exitCode = 1
} finally {
  for (const d of daemons) d.kill('SIGTERM')
  await Promise.all(daemons.map((d) => d.exitCode !== null ? null : new Promise((r) => d.once('exit', r))))
}
