// npm test: tap with one time scale for the whole suite. The factor is
// SOCLINK_TEST_TIME_SCALE, or read once here from the machine's load
// (test/support/time.ts loadScale); every test file gets it in its
// environment, and tap's per-file timeout (package.json "tap".timeout) is
// scaled by it too. Arguments go to tap as they are.
//
// Coverage is on (tap records it in .tap/coverage); after a whole-suite run
// (no test files named) scripts/coverage-floors.ts summarizes it and checks
// the floors, and a missed floor fails the run.

import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tsImport } from 'tsx/esm/api'

const { loadScale } = await tsImport('../test/support/time.ts', import.meta.url)
const { check, format, summarize } = await tsImport('./coverage-floors.ts', import.meta.url)
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const given = process.env.SOCLINK_TEST_TIME_SCALE
const scale = given === undefined || given === '' ? loadScale() : Number(given)
const timeout = pkg.tap.timeout
const env = {
  ...process.env,
  SOCLINK_TEST_TIME_SCALE: String(scale),
  SOCLINK_TEST_TAP_TIMEOUT: String(timeout)
}
process.stderr.write(`test time scale ${scale} (SOCLINK_TEST_TIME_SCALE): tap timeout ${Math.ceil(timeout * scale)} s per file\n`)

const started = Date.now()
const tapPackage = createRequire(import.meta.url).resolve('tap/package.json')
const tap = join(dirname(tapPackage), JSON.parse(readFileSync(tapPackage, 'utf8')).bin.tap)
const child = spawn(process.execPath, [tap, `--timeout=${Math.ceil(timeout * scale)}`, ...process.argv.slice(2)], { env, stdio: 'inherit' })
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => { child.kill(signal) })
child.on('exit', (code, signal) => { void floors(code ?? (signal === null ? 1 : 128 + 15)).then((status) => process.exit(status)) })

// The floors hold for the whole suite only: a run of some files, or one
// without coverage, is not measured.
async function floors (status) {
  const args = process.argv.slice(2)
  const root = fileURLToPath(new URL('..', import.meta.url))
  const named = args.filter((a) => !a.startsWith('-') && existsSync(a))
  if (named.length > 0 || args.some((a) => a === '--disable-coverage' || a.startsWith('--coverage-map'))) {
    process.stdout.write('# coverage floors: not checked (not a whole-suite run with coverage)\n')
    return status
  }
  try {
    await summarize(root)
    const results = check(root, started)
    process.stdout.write(format(results) + '\n')
    return status !== 0 ? status : results.every((r) => r.ok) ? 0 : 1
  } catch (err) {
    process.stdout.write(`coverage floors: ${err instanceof Error ? err.message : String(err)}\n# coverage floors: 0 met, 1 missed\n`)
    return status !== 0 ? status : 1
  }
}
