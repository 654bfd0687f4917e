// npm test: tap with one time scale for the whole suite. The factor is
// SOCLINK_TEST_TIME_SCALE, or read once here from the machine's load
// (test/support/time.ts loadScale); every test file gets it in its
// environment, and tap's per-file timeout (package.json "tap".timeout) is
// scaled by it too. Arguments go to tap as they are.

import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { tsImport } from 'tsx/esm/api'

const { loadScale } = await tsImport('../test/support/time.ts', import.meta.url)
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

const tapPackage = createRequire(import.meta.url).resolve('tap/package.json')
const tap = join(dirname(tapPackage), JSON.parse(readFileSync(tapPackage, 'utf8')).bin.tap)
const child = spawn(process.execPath, [tap, `--timeout=${Math.ceil(timeout * scale)}`, ...process.argv.slice(2)], { env, stdio: 'inherit' })
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => { child.kill(signal) })
child.on('exit', (code, signal) => { process.exit(code ?? (signal === null ? 1 : 128 + 15)) })
