// The README's main command: npm run demo starts an rc and an ep daemon,
// echoes rpmsg messages between two applications, measures a burst and
// round trips, stops both daemons and exits 0. Runs scripts/demo.mjs
// against the built package (dist/), as `npm run demo` does.

import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'

const script = fileURLToPath(new URL('../../scripts/demo.mjs', import.meta.url))
const run = promisify(execFile)

/** True while a process with this id exists (a signal 0 probe). */
function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

t.test('npm run demo echoes rpmsg messages, prints a rate and an RTT, and leaves no daemon behind', async (t) => {
  const { stdout } = await run(process.execPath, [script], { timeout: 120_000 })
  for (let i = 1; i <= 5; i++) t.match(stdout, `rc → ep: hello ${i}   /   ep → rc: hello ${i}\n`, `hello ${i} went and came back`)
  t.match(stdout, /10,000 sent rc → ep and 10,000 echoed ep → rc in [\d.]+ s, every one intact and in order/, 'the burst came back whole')

  const rate = /rate: ([\d,]+) msgs\/s each way/.exec(stdout)
  t.ok(rate !== null && Number(rate[1]!.replace(/,/g, '')) > 0, 'a positive message rate')
  const rtt = /RTT: min ([\d.]+) ms {2}avg ([\d.]+) ms {2}p99 ([\d.]+) ms/.exec(stdout)
  t.ok(rtt !== null, 'an RTT line')
  const [min, avg, p99] = (rtt?.slice(1) ?? []).map(Number)
  t.ok(min! > 0 && min! <= avg! && avg! <= p99!, 'min <= avg <= p99, all positive')

  const pids = [...stdout.matchAll(/^ {2}(rc|ep) +\S.* pid (\d+) /gm)].map((m) => Number(m[2]))
  t.equal(pids.length, 2, 'the demo printed both daemons\' pids')
  for (const pid of pids) t.notOk(alive(pid), `daemon ${pid} is gone`)
  const apis = [...stdout.matchAll(/control API (http:\/\/127\.0\.0\.1:\d+)/g)].map((m) => m[1]!)
  t.equal(apis.length, 2, 'the demo printed both control APIs')
  for (const api of apis) await t.rejects(fetch(api + '/healthz'), `nothing answers at ${api} any more`)
  t.match(stdout, /rc \(pid \d+\) exited with 0\n {2}ep \(pid \d+\) exited with 0\nDone\.\n$/, 'both daemons drained and exited 0')
})

t.test('npm run demo refuses a topology it does not run', async (t) => {
  const err = await run(process.execPath, [script, '--topology', 'ntb'], { timeout: 30_000 }).then(() => null, (e: unknown) => e as { code: number, stderr: string })
  t.equal(err?.code, 2, 'exit code 2')
  t.match(err?.stderr ?? '', /unknown topology "ntb": this demo runs pcie/, 'says which topologies it runs')
})
