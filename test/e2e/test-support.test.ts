// The test suite's own machinery (test/support): every daemon a test starts
// dies with the test however it ends, a start that fails leaves nothing
// running, and limits (tap's per-file timeout too) scale with
// SOCLINK_TEST_TIME_SCALE.

import t from 'tap'
import { spawn as spawnChild } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { run, type RunResult } from '../support/children.js'
import { ROOT } from '../support/repo.js'
import { startDaemon, until, within } from '../support/daemon.js'
import { scaled } from '../support/time.js'

const fixture = fileURLToPath(new URL('./fixtures/lone-daemon.ts', import.meta.url))

/** True while `pid` runs (a zombie waiting for its reaper does not). */
function running (pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

t.test('a start that fails kills its daemon', async (t) => {
  let pid = 0
  await t.rejects(startDaemon('slow', ['--role', 'rc'], {}, { readyMs: 1, onSpawn: (p) => { pid = p.pid! } }), /no ready line/)
  t.ok(pid > 0, 'it was spawned')
  await until('the daemon of a failed start is gone', () => !running(pid))
})

for (const end of ['exit', 'throw', 'SIGTERM', 'SIGINT', 'SIGKILL'] as const) {
  t.test(`a test process that ends by ${end} takes its daemon with it`, async (t) => {
    // Not adopted itself: this process plays the test runner, the fixture a test file outside tap.
    const env: NodeJS.ProcessEnv = { ...process.env }
    delete env.TAP
    const proc = spawnChild(process.execPath, ['--import', 'tsx', fixture, end.startsWith('SIG') ? 'wait' : end], { env, stdio: ['pipe', 'pipe', 'ignore'] })
    t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
    const line = await within(new Promise<string>((resolve) => { createInterface({ input: proc.stdout! }).once('line', resolve) }), 'the daemon\'s pid')
    const pid = Number(line)
    t.ok(running(pid), `the daemon (pid ${line}) runs`)
    proc.stdin!.end('end\n')
    if (end.startsWith('SIG')) proc.kill(end as NodeJS.Signals)
    await within(new Promise((resolve) => { proc.once('exit', resolve) }), 'the test process ends')
    await until('its daemon is gone', () => !running(pid))
    t.pass('no daemon left behind')
  })
}

t.test('every limit scales with SOCLINK_TEST_TIME_SCALE', async (t) => {
  const probe = 'import { scaled } from "./test/support/time.ts"; import { within } from "./test/support/daemon.ts"; ' +
    'console.log(scaled(1000)); await within(new Promise(() => {}), "never", 10).catch((e) => { console.log(e.message) })'
  const r = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], 30_000, { env: { ...process.env, SOCLINK_TEST_TIME_SCALE: '3', TAP: '0' } })
  t.equal(r.code, 0, r.stderr)
  t.same(r.stdout.trim().split('\n'), ['3000', 'never: not done within 30 ms'])
})

t.test('tap\'s per-file timeout scales too', async (t) => {
  const tapPackage = createRequire(import.meta.url).resolve('tap/package.json')
  const tap = join(dirname(tapPackage), (JSON.parse(readFileSync(tapPackage, 'utf8')) as { bin: { tap: string } }).bin.tap)
  const slow = fileURLToPath(new URL('./fixtures/slow-file.ts', import.meta.url))
  // A tap run empties .tap/coverage and .tap/processinfo of its project
  // root as it starts: each run here gets a project of its own, so the
  // suite's coverage so far survives, and records none (the file measures
  // nothing).
  const project = () => ({ 'package.json': '{}', node_modules: t.fixture('symlink', join(ROOT, 'node_modules')) })
  const projects = t.testdir({ '1': project(), '20': project() })
  // The file must raise tap's limit before the unscaled one runs out, so
  // that limit is well above the time node, tsx and tap take to start on a
  // loaded machine (3 s was not); the file sleeps past it.
  const limitS = 10
  const runTap = async (scale: string): Promise<RunResult> => {
    const env: NodeJS.ProcessEnv = { ...process.env, SOCLINK_TEST_TIME_SCALE: scale, SLOW_FILE_MS: String((limitS + 2) * 1000) }
    delete env.SOCLINK_TEST_TAP_TIMEOUT
    return await run(process.execPath, [tap, `--timeout=${limitS}`, '--reporter=tap', '--disable-coverage', slow], scaled(180_000), { env, cwd: join(projects, scale) })
  }
  // Both at once: each mostly sleeps.
  const [scaledUp, unscaled] = await Promise.all([runTap('20'), runTap('1')])
  t.equal(scaledUp.code, 0, `a ${limitS + 2} s file passes a ${limitS} s timeout scaled by 20`)
  t.match(scaledUp.stdout, new RegExp(`# timeout=${limitS * 20 * 1000}`), 'the file told the runner its limit')
  t.not(unscaled.code, 0, 'and times out unscaled')
})
