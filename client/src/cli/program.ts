// The soclink command: global options, output, and the command groups. Every
// command is a thin layer over ControlClient.

import { Command, Option } from 'commander'
import { ControlClient } from '../control-client.js'
import type { ConnectionOptions } from '../credentials.js'
import type { Context } from './context.js'
import { asApiUrl } from './args.js'
import { regionCommands, windowCommands } from './memory.js'
import { doorbellCommands, eventCommands } from './signals.js'
import { pciEpCommands, virtioCommands } from './pcie.js'
import { rpmsgCommands } from './rpmsg.js'
import { ntbCommands } from './ntb.js'
import { runCommand } from './run.js'
import { captureCommand } from './capture.js'
import { topCommand } from './top.js'
import { nodeText, peersTable } from './views.js'
import { VERSION } from '../../../proto/version.js'

export interface Output { out (text: string): void }

interface GlobalOptions { api: string, json?: boolean, tokenFile?: string, ca?: string, cert?: string, key?: string }

function connectionOf (o: GlobalOptions): ConnectionOptions {
  return {
    ...(o.tokenFile !== undefined && o.tokenFile !== '' && { tokenFile: o.tokenFile }),
    ...(o.ca !== undefined && o.ca !== '' && { caFile: o.ca }),
    ...(o.cert !== undefined && o.cert !== '' && { certFile: o.cert }),
    ...(o.key !== undefined && o.key !== '' && { keyFile: o.key })
  }
}

const stdout: Output = { out: (text) => { process.stdout.write(text + '\n') } }

/**
 * Usage errors throw a CommanderError (after commander has printed them)
 * instead of exiting, so the caller chooses the exit status. --api comes
 * from the flag, else SOCLINK_API, else the default; both are checked.
 */
export function buildProgram (io: Output = stdout): Command {
  const program = new Command('soclink')
    .description('control a soclinkd daemon: regions, windows, peers, doorbells, events, PCIe and virtio')
    .addOption(new Option('--api <url>', 'control API of the daemon').env('SOCLINK_API').default('http://127.0.0.1:7401').argParser(asApiUrl))
    .addOption(new Option('--token-file <file>', 'bearer token for a daemon started with --api-token-file: the token, or a line "SCOPE TOKEN"').env('SOCLINK_TOKEN_FILE'))
    .addOption(new Option('--ca <file>', 'CA certificate (PEM) to check an https:// daemon against').env('SOCLINK_CA_FILE'))
    .addOption(new Option('--cert <file>', 'client certificate (PEM), for a daemon that requires one').env('SOCLINK_CERT_FILE'))
    .addOption(new Option('--key <file>', 'key (PEM) of --cert').env('SOCLINK_KEY_FILE'))
    .option('--json', 'machine output: one JSON document (JSON lines for events)')
    .version(VERSION, '-V, --version', 'this soclink\'s version (package.json)')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()

  const opts = (): GlobalOptions => program.opts()
  const ctx: Context = {
    client: () => new ControlClient(opts().api, ctx.connection()),
    connection: () => connectionOf(opts()),
    json: () => opts().json === true,
    print: (value, human) => { io.out(ctx.json() ? JSON.stringify(value, null, 2) : human()) },
    line: (text) => { io.out(text) }
  }

  program.command('status').description('this daemon and a summary of its peers').action(async () => {
    const c = ctx.client()
    const [node, peers] = await Promise.all([c.node(), c.peers()])
    ctx.print({ node, peers }, () => `${nodeText(node)}\n${peersTable(peers)}`)
  })
  // For health checks (the image's HEALTHCHECK): every route, /healthz included, wants the token when the daemon has tokens.
  program.command('health').description('liveness: GET /healthz; exit status 0 when the daemon answers ok').action(async () => {
    const h = await ctx.client().health()
    ctx.print(h, () => h.status)
  })
  program.command('peers').description('linked daemons').action(async () => {
    const peers = await ctx.client().peers()
    ctx.print(peers, () => peersTable(peers))
  })
  regionCommands(program, ctx)
  windowCommands(program, ctx)
  doorbellCommands(program, ctx)
  eventCommands(program, ctx)
  pciEpCommands(program, ctx)
  virtioCommands(program, ctx)
  rpmsgCommands(program, ctx)
  ntbCommands(program, ctx)
  runCommand(program, ctx)
  captureCommand(program, ctx)
  topCommand(program, ctx)
  return program
}
