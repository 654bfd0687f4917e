// The daemon itself, started by soclinkd.ts once the settings say to run
// one: the start-up refusals (link and API exposure), the logger, the node
// and its control API, and the signals (SIGTERM/SIGINT drain, SIGHUP
// rereads the credential files). A module of its own so that soclinkd
// --health-check, --help and --version load none of it.

import { createRequire } from 'node:module'
import type pinoFactory from 'pino'
import type { Settings } from '../config/settings.js'
import type { SoclinkNode } from '../node.js'
import { createNode } from '../daemon.js'
import { buildApi } from '../api/server.js'
import { LogOutput } from './log-output.js'
import { checkApiExposure } from '../config/api-exposure.js'
import { checkLinkExposure } from '../config/link-exposure.js'
import { ApiTokens } from '../api/tokens.js'
import { listenAs } from './listen-errors.js'

// pino is CommonJS: require() loads it for less than an ESM import does (see api/packages.ts).
const pino = createRequire(import.meta.url)('pino') as typeof pinoFactory

/** How long pending log lines may take to drain when the daemon exits. */
const LOG_DRAIN_MS = 1000

// stdout, unless it is a terminal (then pino-pretty, in a worker of its own).
let output: LogOutput | undefined

/** Drops the log lines not yet written (the process is about to exit on an error). */
export function abandonLogs (): void { output?.abandon() }

/** Starts the daemon `s` describes; it runs until a signal ends the process. */
export async function runDaemon (s: Settings): Promise<void> {
  // Refusals first: a daemon that may not run starts nothing.
  const exposureWarnings = [...checkLinkExposure(s), ...checkApiExposure(s)]
  const tokens = s.apiTokenFile !== '' ? ApiTokens.load(s.apiTokenFile) : null
  const options = { level: s.logLevel, base: { node: s.name, role: s.role } }
  if (!process.stdout.isTTY) output = new LogOutput(pino)
  const logger = output === undefined ? pino({ ...options, transport: { target: 'pino-pretty' } }) : pino(options, output.stream)
  if (s.secret === '' && s.tlsCa === '') logger.warn('no --secret and no --tls-ca: links from peers without a secret of their own (peers: [{ name, secretFile }]) are not authenticated')
  for (const w of exposureWarnings) logger.warn(w)
  if (tokens !== null) logger.info({ tokens: tokens.size, file: tokens.path }, 'control API: every request needs a bearer token')

  const node = createNode(s, logger)
  await listenAs('listen', s.listen, async () => { await node.start() })
  const api = await buildApi(node, { tokens })
  const apiUrl = await listenAs('api', s.api, async () => await api.listen({ host: s.api.host, port: s.api.port }))
  node.apiPort = Number(new URL(apiUrl).port)
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
      .then(async () => {
        logger.info({ signal }, `soclinkd ${s.name} stopped (${signal})`)
        await output?.end(LOG_DRAIN_MS)
        process.exit(0)
      })
  }
  process.on('SIGHUP', () => { reload(node, tokens, logger) })
  process.on('SIGTERM', () => { stop('SIGTERM') })
  process.on('SIGINT', () => { stop('SIGINT') })
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
