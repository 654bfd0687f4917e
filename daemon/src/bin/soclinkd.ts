#!/usr/bin/env node
// soclinkd: starts one daemon from flags, environment and config file, and
// drains it on SIGTERM/SIGINT (links are closed with a Goodbye and a reason);
// SIGHUP reads the TLS files again.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type pinoFactory from 'pino'
import { loadSettings } from '../config/settings.js'
import { SoclinkNode, VERSION } from '../node.js'
import { buildApi } from '../api/server.js'
import { SoclinkError } from '../errors.js'
import { LogOutput } from './log-output.js'

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
  const options = { level: s.logLevel, base: { node: s.name, role: s.role } }
  if (!process.stdout.isTTY) output = new LogOutput(pino)
  const logger = output === undefined ? pino({ ...options, transport: { target: 'pino-pretty' } }) : pino(options, output.stream)
  if (s.secret === '' && s.tlsCa === '') logger.warn('no --secret and no --tls-ca: links are not authenticated')

  const node = new SoclinkNode(s, logger)
  await node.start()
  const api = await buildApi(node)
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
  // SIGHUP reloads the TLS files (links and API); live links stay up.
  process.on('SIGHUP', () => { node.reloadTls() })
  process.on('SIGTERM', () => { stop('SIGTERM') })
  process.on('SIGINT', () => { stop('SIGINT') })
  return -1
}

main().then((code) => { if (code >= 0) process.exit(code) }, (err: unknown) => {
  const msg = err instanceof SoclinkError ? `${err.code}: ${err.message}` : (err as Error).stack ?? String(err)
  process.stderr.write(`soclinkd: ${msg}\n`)
  output?.abandon()
  process.exit(err instanceof SoclinkError ? 2 : 1)
})
