// The README's main command: npm run demo starts an rc and an ep daemon,
// echoes rpmsg messages between two applications, measures a burst and
// round trips, stops both daemons and exits 0; --topology ntb does the same
// with an NTB board and two hosts. Runs scripts/demo.mjs against the built
// package (dist/), as `npm run demo` does.

import t, { type Test } from 'tap'
import { fileURLToPath } from 'node:url'
import { run } from '../support/children.js'
import { scaled } from '../support/time.js'

const script = fileURLToPath(new URL('../../scripts/demo.mjs', import.meta.url))

/** The demo, run to its end; a failure says what it printed. */
async function demo (t: Test, ...args: string[]): Promise<string> {
  const r = await run(process.execPath, [script, ...args], scaled(120_000))
  t.equal(r.code, 0, `the demo exits 0${r.code === 0 ? '' : `; stderr: ${r.stderr}`}`)
  return r.stdout
}

/** True while a process with this id exists (a signal 0 probe). */
function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** What every topology's run shows: echoed lines, a whole burst, a rate and RTTs, and every daemon it named gone after exiting 0. */
async function checkRun (t: Test, stdout: string, virtio: string, vhost: string, daemons: string[]): Promise<void> {
  for (let i = 1; i <= 5; i++) t.match(stdout, `${virtio} → ${vhost}: hello ${i}   /   ${vhost} → ${virtio}: hello ${i}\n`, `hello ${i} went and came back`)
  t.match(stdout, new RegExp(`10,000 sent ${virtio} → ${vhost} and 10,000 echoed ${vhost} → ${virtio} in [\\d.]+ s, every one intact and in order`), 'the burst came back whole')

  const rate = /rate: ([\d,]+) msgs\/s each way/.exec(stdout)
  t.ok(rate !== null && Number(rate[1]!.replace(/,/g, '')) > 0, 'a positive message rate')
  const rtt = /RTT: min ([\d.]+) ms {2}avg ([\d.]+) ms {2}p99 ([\d.]+) ms/.exec(stdout)
  t.ok(rtt !== null, 'an RTT line')
  const [min, avg, p99] = (rtt?.slice(1) ?? []).map(Number)
  t.ok(min! > 0 && min! <= avg! && avg! <= p99!, 'min <= avg <= p99, all positive')

  const pids = [...stdout.matchAll(new RegExp(`^ {2}(${daemons.join('|')}) +\\S.* pid (\\d+) `, 'gm'))].map((m) => Number(m[2]))
  t.equal(pids.length, daemons.length, 'the demo printed every daemon\'s pid')
  for (const pid of pids) t.notOk(alive(pid), `daemon ${pid} is gone`)
  const apis = [...stdout.matchAll(/control API (http:\/\/127\.0\.0\.1:\d+)/g)].map((m) => m[1]!)
  t.equal(apis.length, daemons.length, 'the demo printed every control API')
  for (const api of apis) await t.rejects(fetch(api + '/healthz'), `nothing answers at ${api} any more`)
  const exits = daemons.map((d) => `${d} \\(pid \\d+\\) exited with 0\\n`).join(' {2}')
  t.match(stdout, new RegExp(`${exits}Done\\.\\n$`), 'every daemon drained and exited 0')
}

t.test('npm run demo echoes rpmsg messages, prints a rate and an RTT, and leaves no daemon behind', async (t) => {
  const stdout = await demo(t)
  await checkRun(t, stdout, 'rc', 'ep', ['rc', 'ep'])
})

t.test('npm run demo -- --topology ntb: the same between two NTB hosts through a board', async (t) => {
  const stdout = await demo(t, '--topology', 'ntb')
  t.match(stdout, /^ {2}board {2}NTB board /m, 'says what the board is')
  t.match(stdout, /^ {2}host1 {2}HOST1, ntb-vhost side /m, 'says what HOST1 is')
  t.match(stdout, /^ {2}host2 {2}HOST2, ntb-virtio side /m, 'says what HOST2 is')
  t.match(stdout, /host2: virtio0 \(ntb-virtio, device id 7 = rpmsg\) is DRIVER_OK with driver virtio_rpmsg_bus/, 'HOST2\'s rpmsg device came up')
  t.match(stdout, /host1: vhost0 \(ntb-vhost\) bound to vhost_rpmsg_bus/, 'HOST1\'s vhost rpmsg device')
  t.match(stdout, /host2 app → host2 daemon → board → host1 daemon → echo app, and back/, 'round trips go through the board')
  await checkRun(t, stdout, 'host2', 'host1', ['board', 'host1', 'host2'])
})

t.test('npm run demo refuses a topology it does not run', async (t) => {
  const r = await run(process.execPath, [script, '--topology', 'usb'], scaled(30_000))
  t.equal(r.code, 2, 'exit code 2')
  t.match(r.stderr, /unknown topology "usb": this demo runs pcie, ntb/, 'says which topologies it runs')
})
