// Commands for memory: regions this daemon owns (`region`, `regions`,
// `mem`) and windows onto peers' regions (`window`, `windows`).

import type { Command } from 'commander'
import type { Context } from './context.js'
import { asHex, asNumber, asRegionRef, asSize } from './args.js'
import { hexdump } from './format.js'
import { regionsTable, windowsTable } from './views.js'

const dump = (ctx: Context, offset: number, bytes: Uint8Array): void => {
  ctx.print({ offset, length: bytes.length, hex: Buffer.from(bytes).toString('hex') }, () => hexdump(bytes, offset))
}

const wrote = (r: { offset: number, length: number }): string => `wrote ${r.length} bytes at 0x${r.offset.toString(16)}`

export function regionCommands (program: Command, ctx: Context): void {
  program.command('regions').description('regions this daemon owns').action(async () => {
    const regions = await ctx.client().regions()
    ctx.print(regions, () => regionsTable(regions))
  })

  const region = program.command('region').description('create or delete a region this daemon owns')
  region.command('create').description('create a sparse region')
    .argument('<name>', 'region name')
    .argument('<size>', 'bytes: 4096, 0x1000, 64K, 1M', asSize)
    .action(async (name: string, size: number) => {
      const r = await ctx.client().createRegion(name, size)
      ctx.print(r, () => regionsTable([r]))
    })
  region.command('delete').description('delete a region; peers\' windows onto it fail')
    .argument('<region>', 'region id or name')
    .action(async (ref: string) => {
      await ctx.client().deleteRegion(ref)
      ctx.print({ deleted: ref }, () => `deleted region ${ref}`)
    })

  const mem = program.command('mem').description('bytes of a region this daemon owns')
  mem.command('read').description('hexdump bytes of a region (offsets relative to the region)')
    .argument('<region>', 'region id or name')
    .argument('<offset>', 'first byte (decimal or 0x hex)', asNumber('offset'))
    .argument('<length>', 'bytes to read (decimal or 0x hex)', asNumber('length'))
    .action(async (ref: string, offset: number, length: number) => {
      dump(ctx, offset, await ctx.client().readRegion(ref, offset, length))
    })
  mem.command('write').description('write bytes into a region')
    .argument('<region>', 'region id or name')
    .argument('<offset>', 'first byte (decimal or 0x hex)', asNumber('offset'))
    .argument('<hex>', 'bytes: deadbeef, "de ad be ef" or 0xdeadbeef', asHex)
    .action(async (ref: string, offset: number, bytes: Uint8Array) => {
      const r = await ctx.client().writeRegion(ref, offset, bytes)
      ctx.print(r, () => wrote(r))
    })
}

export function windowCommands (program: Command, ctx: Context): void {
  const list = async (): Promise<void> => {
    const windows = await ctx.client().windows()
    ctx.print(windows, () => windowsTable(windows))
  }
  program.command('windows').description('same as window list').action(list)

  const win = program.command('window').description('windows onto peers\' regions')
  win.command('list').description('every window this daemon has').action(list)
  win.command('open').description('open a window onto a peer\'s region')
    .argument('<peer>', 'the owner\'s node name')
    .argument('<region>', 'region id or name on the peer', asRegionRef)
    .argument('<size>', 'bytes: 4096, 0x1000, 64K, 1M', asSize)
    .option('--offset <n>', 'first byte of the region (decimal or 0x hex)', asNumber('offset'))
    .option('--uncached', 'keep no replica: every read goes to the owner')
    .action(async (peer: string, region: string | number, size: number, o: { offset?: number, uncached?: boolean }) => {
      const w = await ctx.client().openWindow({ peer, region, size, ...(o.offset !== undefined && { offset: o.offset }), replica: o.uncached !== true })
      ctx.print(w, () => windowsTable([w]))
    })
  win.command('read').description('hexdump bytes through a window (offsets relative to the window)')
    .argument('<id>', 'window id', asNumber('window id'))
    .argument('<offset>', 'first byte (decimal or 0x hex)', asNumber('offset'))
    .argument('<length>', 'bytes to read (decimal or 0x hex)', asNumber('length'))
    .option('--uncached', 'a non-posted read answered by the owner, not the replica')
    .action(async (id: number, offset: number, length: number, o: { uncached?: boolean }) => {
      dump(ctx, offset, await ctx.client().readWindow(id, offset, length, { uncached: o.uncached === true }))
    })
  win.command('write').description('write bytes through a window (posted; the owner orders it)')
    .argument('<id>', 'window id', asNumber('window id'))
    .argument('<offset>', 'first byte (decimal or 0x hex)', asNumber('offset'))
    .argument('<hex>', 'bytes: deadbeef, "de ad be ef" or 0xdeadbeef', asHex)
    .action(async (id: number, offset: number, bytes: Uint8Array) => {
      const r = await ctx.client().writeWindow(id, offset, bytes)
      ctx.print(r, () => wrote(r))
    })
  win.command('close').description('close a window')
    .argument('<id>', 'window id', asNumber('window id'))
    .action(async (id: number) => {
      await ctx.client().closeWindow(id)
      ctx.print({ closed: id }, () => `closed window ${id}`)
    })
}
