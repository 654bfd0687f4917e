#!/usr/bin/env node
// soclinkd: starts one daemon from flags, environment and config file, and
// drains it on SIGTERM/SIGINT (links are closed with a Goodbye and a reason).
// SIGHUP rereads the per-peer secret files (peers: [{ name, secretFile }]),
// the TLS files and the API token file; a file that cannot be used leaves
// what was read before in use (run-daemon.ts). --health-check asks the API
// of the daemon the settings describe instead (health-check.ts); it, --help
// and --version load only the settings, so a health check starts quickly.

import { readFileSync } from 'node:fs'
import { loadSettings } from '../config/settings.js'
import { SoclinkError } from '../errors.js'
import { askHealth, healthProbe, type HealthSettings } from './health-check.js'

/** --health-check: how long the API may take to answer, inside the image's 3 s HEALTHCHECK timeout with the start of node. */
const HEALTH_TIMEOUT_MS = 2000

let abandonLogs = (): void => {}

async function main (): Promise<number> {
  const loaded = loadSettings({ argv: process.argv.slice(2), env: process.env, readFile: (p) => readFileSync(p, 'utf8') })
  if (loaded.kind === 'help') { process.stdout.write(loaded.text + '\n'); return 0 }
  if (loaded.kind === 'version') { process.stdout.write((await import('../../../proto/version.js')).VERSION + '\n'); return 0 }
  if (loaded.kind === 'health-check') return await healthCheck(loaded.settings)
  const daemon = await import('./run-daemon.js')
  abandonLogs = daemon.abandonLogs
  await daemon.runDaemon(loaded.settings)
  return -1
}

/** --health-check: 0 when the API answers 200, else 1 (as Docker reads a health check), with the reason. */
async function healthCheck (s: HealthSettings): Promise<number> {
  let result
  try {
    result = await askHealth(healthProbe(s), HEALTH_TIMEOUT_MS)
  } catch (err) {
    result = { ok: false, detail: (err as Error).message }
  }
  ;(result.ok ? process.stdout : process.stderr).write(`soclinkd --health-check: ${result.detail}\n`)
  return result.ok ? 0 : 1
}

main().then((code) => { if (code >= 0) process.exit(code) }, (err: unknown) => {
  const msg = err instanceof SoclinkError ? `${err.code}: ${err.message}` : (err as Error).stack ?? String(err)
  process.stderr.write(`soclinkd: ${msg}\n`)
  abandonLogs()
  // A health check that cannot read its settings is unhealthy (1); 2 means nothing to Docker.
  process.exit(err instanceof SoclinkError && !process.argv.includes('--health-check') ? 2 : 1)
})
