// The soclink command: global options, output, and the command groups. Every
// command is a thin layer over ControlClient.

import { Command, Option } from 'commander'
import { ControlClient } from '../control-client.js'
import type { Context } from './context.js'
import { asApiUrl } from './args.js'
import { regionCommands, windowCommands } from './memory.js'
import { doorbellCommands, eventCommands } from './signals.js'
import { pciEpCommands, virtioCommands } from './pcie.js'
import { rpmsgCommands } from './rpmsg.js'
import { ntbCommands } from './ntb.js'
import { runCommand } from './run.js'
import { nodeText, peersTable } from './views.js'

export interface Output { out (text: string): void }

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
    .option('--json', 'machine output: one JSON document (JSON lines for events)')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()

  const opts = (): { api: string, json?: boolean } => program.opts()
  const ctx: Context = {
    client: () => new ControlClient(opts().api),
    json: () => opts().json === true,
    print: (value, human) => { io.out(ctx.json() ? JSON.stringify(value, null, 2) : human()) },
    line: (text) => { io.out(text) }
  }

  program.command('status').description('this daemon and a summary of its peers').action(async () => {
    const c = ctx.client()
    const [node, peers] = await Promise.all([c.node(), c.peers()])
    ctx.print({ node, peers }, () => `${nodeText(node)}\n${peersTable(peers)}`)
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
  return program
}
