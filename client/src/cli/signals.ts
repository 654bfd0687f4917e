// Commands for doorbells and the live event stream.

import type { Command } from 'commander'
import type { Context } from './context.js'
import { asCount, asNumber } from './args.js'
import { doorbellsTable, eventText } from './views.js'

export function doorbellCommands (program: Command, ctx: Context): void {
  program.command('ring').description('ring a doorbell target on a peer')
    .argument('<peer>', 'the peer\'s node name')
    .argument('<target>', 'a doorbell the peer declared')
    .argument('[value]', 'bits or vector number (decimal or 0x hex)', asNumber('value'), 1)
    .action(async (peer: string, target: string, value: number) => {
      const r = await ctx.client().ring(peer, target, value)
      ctx.print(r, () => `rang ${r.peer}→${r.target} value=${r.value}`)
    })

  const list = async (): Promise<void> => {
    const doorbells = await ctx.client().doorbells()
    ctx.print(doorbells, () => doorbellsTable(doorbells))
  }
  program.command('doorbells').description('same as doorbell list').action(list)

  const db = program.command('doorbell').description('doorbell targets this daemon declares')
  db.command('list').description('declared targets and their rings').action(list)
  db.command('declare').description('declare a target peers may ring')
    .argument('<name>', 'target name')
    .action(async (name: string) => {
      const d = await ctx.client().declareDoorbell(name)
      ctx.print(d, () => `declared doorbell ${d.name}`)
    })
  db.command('remove').description('remove a declared target')
    .argument('<name>', 'target name')
    .action(async (name: string) => {
      await ctx.client().removeDoorbell(name)
      ctx.print({ removed: name }, () => `removed doorbell ${name}`)
    })
}

export function eventCommands (program: Command, ctx: Context): void {
  program.command('events').description('follow doorbell, link, peer, window and error events')
    .option('--count <n>', 'exit after N events', asCount('count'))
    .action(async (o: { count?: number }) => {
      const stream = await ctx.client().events()
      let seen = 0
      for await (const e of stream) {
        ctx.line(ctx.json() ? JSON.stringify(e) : eventText(e))
        if (++seen === o.count) break
      }
    })
}
