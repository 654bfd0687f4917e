#!/usr/bin/env node
// soclinkd: starts one daemon from flags, environment and config file, and
// drains it on SIGTERM/SIGINT (links are closed with a Goodbye and a reason).
// SIGHUP rereads the per-peer secret files (peers: [{ name, secretFile }]),
// the TLS files and the API token file; a file that cannot be used leaves
// what was read before in use. --health-check asks the API of the daemon
// the settings describe instead (health-check.ts).

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type pinoFactory from 'pino'
import { loadSettings } from '../config/settings.js'
import { SoclinkNode, VERSION } from '../node.js'
import { buildApi } from '../api/server.js'
import { SoclinkError } from '../errors.js'
import { LogOutput } from './log-output.js'
import { checkApiExposure } from '../config/api-exposure.js'
import { checkLinkExposure } from '../config/link-exposure.js'
import { ApiTokens } from '../api/tokens.js'
import { askHealth, healthProbe } from './health-check.js'

// pino is CommonJS: require() loads it for less than an ESM import does (see api/packages.ts).
const pino = createRequire(import.meta.url)('pino') as typeof pinoFactory

/** --health-check: how long the API may take to answer, inside the image's 3 s HEALTHCHECK timeout with the start of node. */
const HEALTH_TIMEOUT_MS = 2000

/** How long pending log lines may take to drain when the daemon exits. */
const LOG_DRAIN_MS = 1000

// stdout, unless it is a terminal (then pino-pretty, in a worker of its own).
let output: LogOutput | undefined

async function main (): Promise<number> {
  const loaded = loadSettings({ argv: process.argv.slice(2), env: process.env, readFile: (p) => readFileSync(p, 'utf8') })
  if (loaded.kind === 'help') { process.stdout.write(loaded.text + '\n'); return 0 }
  if (loaded.kind === 'version') { process.stdout.write(VERSION + '\n'); return 0 }
  const s = loaded.settings
  if (loaded.kind === 'health-check') return await healthCheck(s)
  // Refusals first: a daemon that may not run starts nothing.
  const exposureWarnings = [...checkLinkExposure(s), ...checkApiExposure(s)]
  const tokens = s.apiTokenFile !== '' ? ApiTokens.load(s.apiTokenFile) : null
  const options = { level: s.logLevel, base: { node: s.name, role: s.role } }
  if (!process.stdout.isTTY) output = new LogOutput(pino)
  const logger = output === undefined ? pino({ ...options, transport: { target: 'pino-pretty' } }) : pino(options, output.stream)
  if (s.secret === '' && s.tlsCa === '') logger.warn('no --secret and no --tls-ca: links from peers without a secret of their own (peers: [{ name, secretFile }]) are not authenticated')
  for (const w of exposureWarnings) logger.warn(w)
  if (tokens !== null) logger.info({ tokens: tokens.size, file: tokens.path }, 'control API: every request needs a bearer token')

  const node = new SoclinkNode(s, logger)
  await node.start()
  const api = await buildApi(node, { tokens })
  const apiUrl = await api.listen({ host: s.api.host, port: s.api.port })
  const view = node.nodeView()
  // Where the daemon listens is printed at any log level.
  logger.child({}, { level: 'info' }).info({ listen: view.listen, api: apiUrl, peers: s.peers },
    `soclinkd ${s.name} (${s.role}) ready: peer links on ${view.listen ?? '?'}, control API on ${apiUrl}`)

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'draining')
    const force = setTimeout(() => { output?.abandon(); process.exit(1) }, 5000)
    force.unref()
    void Promise.all([node.stop(`${s.name} is shutting down (${signal})`), api.close()])
      .then(async () => { await output?.end(LOG_DRAIN_MS); process.exit(0) })
  }
  process.on('SIGHUP', () => { reload(node, tokens, logger) })
  process.on('SIGTERM', () => { stop('SIGTERM') })
  process.on('SIGINT', () => { stop('SIGINT') })
  return -1
}

/**
 * SIGHUP: every credential file again, each on its own, so one bad file
 * does not keep the others from being reread. Live links stay up.
 */
function reload (node: SoclinkNode, tokens: ApiTokens | null, logger: pinoFactory.Logger): void {
  logger.info('SIGHUP: rereading per-peer secrets, TLS files and API tokens')
  try {
    node.reloadPeerSecrets()
  } catch (err) {
    // The secrets in use stay (peer-secrets.ts); the daemon goes on.
    logger.error({ err: (err as Error).message }, 'SIGHUP: per-peer secrets not reloaded')
  }
  node.reloadTls()
  if (tokens === null) return
  try {
    logger.info({ tokens: tokens.reload(), file: tokens.path }, 'control API tokens reread (SIGHUP)')
  } catch (err) {
    logger.error({ err: (err as Error).message, file: tokens.path }, 'control API tokens not reread (SIGHUP); the tokens held are kept')
  }
}

/** --health-check: 0 when the API answers 200, else 1 (as Docker reads a health check), with the reason. */
async function healthCheck (s: Parameters<typeof healthProbe>[0]): Promise<number> {
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
  output?.abandon()
  // A health check that cannot read its settings is unhealthy (1); 2 means nothing to Docker.
  process.exit(err instanceof SoclinkError && !process.argv.includes('--health-check') ? 2 : 1)
})
