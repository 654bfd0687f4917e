#!/usr/bin/env node
// soclinkd: starts one daemon from flags, environment and config file, and
// drains it on SIGTERM/SIGINT (links are closed with a Goodbye and a reason).
// SIGHUP rereads the per-peer secret files (peers: [{ name, secretFile }]),
// the TLS files and the API token file.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type pinoFactory from 'pino'
import { loadSettings } from '../config/settings.js'
import { SoclinkNode, VERSION } from '../node.js'
import { buildApi } from '../api/server.js'
import { SoclinkError } from '../errors.js'
import { LogOutput } from './log-output.js'
import { checkApiExposure } from '../config/api-exposure.js'
import { ApiTokens } from '../api/tokens.js'

// pino is CommonJS: require() loads it for less than an ESM import does (see api/packages.ts).
const pino = createRequire(import.meta.url)('pino') as typeof pinoFactory

/** How long pending log lines may take to drain when the daemon exits. */
const LOG_DRAIN_MS = 1000

// stdout, unless it is a terminal (then pino-pretty, in a worker of its own).
let output: LogOutput | undefined

async function main (): Promise<number> {
  const loaded = loadSettings({ argv: process.argv.slice(2), env: process.env, readFile: (p) => readFileSync(p, 'utf8') })
  if (loaded.kind === 'help') { process.stdout.write(loaded.text + '\n'); return 0 }
  if (loaded.kind === 'version') { process.stdout.write(VERSION + '\n'); return 0 }
  const s = loaded.settings
  // Refusals first: a daemon that may not run starts nothing.
  const exposureWarnings = checkApiExposure(s)
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
  if (tokens !== null) reloadTokensOnSighup(tokens, logger)
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
  process.on('SIGHUP', () => {
    try {
      node.reloadPeerSecrets()
    } catch (err) {
      // The secrets in use stay (peer-secrets.ts); the daemon goes on.
      logger.error({ err: (err as Error).message }, 'SIGHUP: per-peer secrets not reloaded')
    }
    // The TLS files (links and API); live links stay up, a bad file keeps the material in use.
    node.reloadTls()
  })
  process.on('SIGTERM', () => { stop('SIGTERM') })
  process.on('SIGINT', () => { stop('SIGINT') })
  return -1
}

/** SIGHUP rereads the API token file; a file that fails to read or parse leaves the tokens held as they were. */
function reloadTokensOnSighup (tokens: ApiTokens, logger: pinoFactory.Logger): void {
  process.on('SIGHUP', () => {
    try {
      logger.info({ tokens: tokens.reload(), file: tokens.path }, 'control API tokens reread (SIGHUP)')
    } catch (err) {
      logger.error({ err: (err as Error).message, file: tokens.path }, 'control API tokens not reread (SIGHUP); the tokens held are kept')
    }
  })
}

main().then((code) => { if (code >= 0) process.exit(code) }, (err: unknown) => {
  const msg = err instanceof SoclinkError ? `${err.code}: ${err.message}` : (err as Error).stack ?? String(err)
  process.stderr.write(`soclinkd: ${msg}\n`)
  output?.abandon()
  process.exit(err instanceof SoclinkError ? 2 : 1)
})
