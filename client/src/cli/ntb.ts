// `soclink ntb`: the NTB board's pairs or a host's NTB device, and the
// host's ntb_tool (drivers/ntb/test/ntb_tool.c: link, db, mask, peer_db,
// spad, peer_spad, mw_trans) and ntb_perf (drivers/ntb/test/ntb_perf.c)
// verbs. Without arguments each verb prints; with them it writes. What the
// transport or ntb_perf owns is refused by the daemon (ERR_BUSY) unless
// --force is given.

import type { Command } from 'commander'
import type { Context } from './context.js'
import type { NtbDbRequest, NtbHost } from '../../../proto/api/index.js'
import { asCount, asSize } from './args.js'
import { Progress } from '../progress.js'
import { ntbPerfProgress } from './progress-polls.js'
import { parseNumber, parseSize } from './format.js'
import { boardText, doorbellsText, hex32, hostText, linkText, perfTable, spadsTable, windowsText, windowText } from './ntb-views.js'

export type LinkArgs = { kind: 'show' } | { kind: 'set', up: boolean }
export type MwArgs = { kind: 'show' } | { kind: 'set', widx: number, addr: number, size: number } | { kind: 'clear', widx: number }
export type DbArgs = { kind: 'show' } | { kind: 'write', op: 'clear' | 'mask' | 'unmask', bits: number } | { kind: 'peer', bits: number }
export type SpadArgs = { kind: 'show' } | { kind: 'write', peer: boolean, idx: number, value: number }

const U32_MAX = 0xffff_ffff

function u32 (text: string, what: string): number {
  const n = parseNumber(text, what)
  if (n > U32_MAX) throw new Error(`${what} ${text} is above 0xffffffff`)
  return n
}

export function parseLinkArgs (args: string[]): LinkArgs {
  if (args.length === 0) return { kind: 'show' }
  if (args.length === 1 && (args[0] === 'up' || args[0] === 'down')) return { kind: 'set', up: args[0] === 'up' }
  throw new Error(`link takes up or down, not ${JSON.stringify(args.join(' '))}`)
}

/** `mw` | `mw WIDX ADDR SIZE` | `mw clear WIDX`; ADDR decimal or 0x hex, SIZE like 4096, 0x1000 or 64K. */
export function parseMwArgs (args: string[]): MwArgs {
  if (args.length === 0) return { kind: 'show' }
  if (args[0] === 'clear') {
    if (args.length !== 2) throw new Error('mw clear takes one window index: mw clear WIDX')
    return { kind: 'clear', widx: parseNumber(args[1]!, 'window index') }
  }
  if (args.length !== 3) throw new Error('mw takes WIDX ADDR SIZE, or clear WIDX')
  return { kind: 'set', widx: parseNumber(args[0]!, 'window index'), addr: parseNumber(args[1]!, 'address'), size: parseSize(args[2]!) }
}

/** No set: ntb_hw_epf has no db_set (ntb_db_set() answers -EINVAL); the other host rings the bits (db peer). */
const DB_OPS = ['clear', 'mask', 'unmask'] as const

/** `db` | `db clear|mask|unmask BITS` | `db peer BITS`; BITS a mask, decimal or 0x hex. */
export function parseDbArgs (args: string[]): DbArgs {
  if (args.length === 0) return { kind: 'show' }
  const [verb, bits, ...rest] = args
  if (bits === undefined || rest.length > 0) throw new Error(`db takes ${[...DB_OPS, 'peer'].join('|')} and one BITS mask`)
  const mask = u32(bits, 'doorbell bits')
  if (verb === 'peer') return { kind: 'peer', bits: mask }
  if (verb === 'set') throw new Error('db set: ntb_hw_epf has no db_set; ring the bits from the other host (db peer BITS there)')
  const op = DB_OPS.find((o) => o === verb)
  if (op === undefined) throw new Error(`db ${JSON.stringify(verb)}: not one of ${[...DB_OPS, 'peer'].join(', ')}`)
  return { kind: 'write', op, bits: mask }
}

/** `spad` | `spad IDX VALUE` | `spad peer IDX VALUE`. */
export function parseSpadArgs (args: string[]): SpadArgs {
  if (args.length === 0) return { kind: 'show' }
  const peer = args[0] === 'peer'
  const rest = peer ? args.slice(1) : args
  if (rest.length !== 2) throw new Error(`spad takes ${peer ? 'peer IDX VALUE' : 'IDX VALUE, or peer IDX VALUE'}`)
  return { kind: 'write', peer, idx: parseNumber(rest[0]!, 'scratchpad index'), value: u32(rest[1]!, 'scratchpad value') }
}

/** Runs `parse`; a failure is a usage error (exit 2) with its message. */
function parsed<T> (cmd: Command, parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    return cmd.error(`error: ${(err as Error).message}`)
  }
}

const FORCE = 'do it even though the transport or ntb_perf owns it'

export function ntbCommands (program: Command, ctx: Context): void {
  const ntb = program.command('ntb').description('the NTB board\'s pairs, or an NTB host\'s device: link, memory windows, doorbells, scratchpads (ntb_tool) and ntb_perf')
    .action(async () => {
      const s = await ctx.client().ntb()
      ctx.print(s, () => s.role === 'ntb' ? boardText(s) : hostText(s))
    })

  ntb.command('link').description('print the link, or enable (up) or disable (down) it: ntb_tool\'s link')
    .argument('[state]', 'up or down')
    .option('--force', FORCE)
    .action(async (state: string | undefined, o: { force?: boolean }, cmd: Command) => {
      const a = parsed(cmd, () => parseLinkArgs(state === undefined ? [] : [state]))
      if (a.kind === 'show') {
        const s = await ctx.client().ntb()
        if (s.role === 'ntb') { ctx.print(s, () => boardText(s)); return }
        const link = { link: (s as NtbHost).device?.link ?? false, device: (s as NtbHost).device?.name ?? null }
        ctx.print(link, () => link.device === null ? 'no NTB device' : `link is ${link.link ? 'up' : 'down'}`)
        return
      }
      const r = await ctx.client().ntbLink(a.up, o.force)
      ctx.print(r, () => linkText(r))
    })

  ntb.command('mw').description('memory windows: print them, translate one (mw_set_trans) or clear it (mw_clear_trans)')
    .argument('[args...]', 'WIDX ADDR SIZE | clear WIDX')
    .option('--force', FORCE)
    .action(async (args: string[], o: { force?: boolean }, cmd: Command) => {
      const a = parsed(cmd, () => parseMwArgs(args))
      const c = ctx.client()
      if (a.kind === 'show') {
        const m = await c.ntbWindows()
        ctx.print(m, () => windowsText(m))
        return
      }
      const w = a.kind === 'set' ? await c.ntbSetWindow(a.widx, a.addr, a.size, o.force) : await c.ntbClearWindow(a.widx, o.force)
      ctx.print(w, () => windowText(w))
    })

  ntb.command('db').description('doorbells: print them, clear/mask/unmask own bits, or ring the peer\'s (peer BITS); ' +
    'there is no set: ntb_hw_epf has no db_set, so ring a bit from the other host (db peer BITS there)')
    .argument('[args...]', 'clear|mask|unmask BITS | peer BITS')
    .option('--force', FORCE)
    .action(async (args: string[], o: { force?: boolean }, cmd: Command) => {
      const a = parsed(cmd, () => parseDbArgs(args))
      const c = ctx.client()
      if (a.kind === 'peer') {
        const r = await c.ntbPeerDoorbell(a.bits, o.force)
        ctx.print(r, () => `rang ${hex32(r.rang)} on the peer`)
        return
      }
      const req: NtbDbRequest = a.kind === 'write' ? { [a.op]: a.bits, ...(o.force === true && { force: true }) } : {}
      const db = a.kind === 'write' ? await c.ntbDoorbellWrite(req) : await c.ntbDoorbells()
      ctx.print(db, () => doorbellsText(db))
    })

  ntb.command('spad').description('scratchpads: print both hosts\', write one of this host\'s (IDX VALUE) or of the peer\'s (peer IDX VALUE)')
    .argument('[args...]', 'IDX VALUE | peer IDX VALUE')
    .option('--force', FORCE)
    .action(async (args: string[], o: { force?: boolean }, cmd: Command) => {
      const a = parsed(cmd, () => parseSpadArgs(args))
      const c = ctx.client()
      if (a.kind === 'show') {
        const s = await c.ntbSpads()
        ctx.print(s, () => spadsTable(s))
        return
      }
      const r = await c.ntbSpadWrite(a.idx, a.value, { peer: a.peer, force: o.force })
      ctx.print(r, () => `${a.peer ? 'peer ' : ''}scratchpad ${r.idx} = ${hex32(r.value)}`)
    })

  ntb.command('perf').description('ntb_perf: write bandwidth into the other host\'s memory window 1, then doorbell round trips')
    .option('--size <bytes>', 'bytes to write, e.g. 16M (default)', asSize)
    .option('--chunk <bytes>', 'bytes per write, e.g. 64K (default)', asSize)
    .option('--pings <n>', 'doorbell round trips (default 1000)', asCount('pings'))
    .action(async (o: { size?: number, chunk?: number, pings?: number }) => {
      const c = ctx.client()
      const run = c.runNtbPerf({
        ...(o.size !== undefined && { bytes: o.size }),
        ...(o.chunk !== undefined && { chunk: o.chunk }),
        ...(o.pings !== undefined && { pings: o.pings })
      })
      const r = await new Progress().track(run, ntbPerfProgress(c))
      ctx.print(r, () => perfTable(r))
    })
}
