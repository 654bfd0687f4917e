// The soclink command: every verb is a thin layer over ControlClient, with
// human output by default and one JSON document (or JSON lines for streams)
// under --json.

import { Command } from 'commander'
import { ControlClient } from '../control-client.js'
import type { NodeEvent, Peer, Region, Window } from '../types.js'
import { hexdump, parseHex, parseNumber, parseSize, table } from './format.js'

export interface Output { out: (s: string) => void }

export function buildProgram (io: Output = { out: (s) => { process.stdout.write(s + '\n') } }): Command {
  const program = new Command('soclink')
    .description('control a soclinkd daemon: regions, windows, peers, doorbells, events')
    .option('--api <url>', 'control API of the daemon', process.env.SOCLINK_API ?? 'http://127.0.0.1:7401')
    .option('--json', 'machine-readable output')
    .showHelpAfterError()
  const client = (): ControlClient => new ControlClient(program.opts<{ api: string }>().api)
  const json = (): boolean => program.opts<{ json?: boolean }>().json === true
  const print = (value: unknown, human: () => string): void => { io.out(json() ? JSON.stringify(value, null, 2) : human()) }

  program.command('status').description('the daemon and its peers').action(async () => {
    const c = client()
    const [node, peers] = await Promise.all([c.node(), c.peers()])
    print({ node, peers }, () => `${node.name} (${node.role}) soclink ${node.version}, up ${node.uptimeSeconds} s, links on ${node.listen ?? '-'}\n` +
      peersTable(peers))
  })
  program.command('peers').description('linked daemons').action(async () => {
    const peers = await client().peers()
    print(peers, () => peersTable(peers))
  })
  program.command('regions').description('regions this daemon owns').action(async () => {
    const regions = await client().regions()
    print(regions, () => regionsTable(regions))
  })

  const region = program.command('region').description('create or delete a region')
  region.command('create <name> <size>').description('SIZE like 4096, 0x1000, 64K, 1M').action(async (name: string, size: string) => {
    const r = await client().createRegion(name, parseSize(size))
    print(r, () => regionsTable([r]))
  })
  region.command('delete <region>').action(async (ref: string) => {
    await client().deleteRegion(ref)
    print({ deleted: ref }, () => `deleted region ${ref}`)
  })

  const mem = program.command('mem').description('bytes of a region this daemon owns')
  mem.command('read <region> <offset> <length>').description('hexdump').action(async (ref: string, off: string, len: string) => {
    const offset = parseNumber(off, 'offset')
    const bytes = await client().readRegion(ref, offset, parseNumber(len, 'length'))
    print({ offset, hex: Buffer.from(bytes).toString('hex') }, () => hexdump(bytes, offset))
  })
  mem.command('write <region> <offset> <hex>').action(async (ref: string, off: string, hex: string) => {
    const r = await client().writeRegion(ref, parseNumber(off, 'offset'), parseHex(hex))
    print(r, () => `wrote ${r.length} bytes at 0x${r.offset.toString(16)}`)
  })

  const win = program.command('window').description('windows onto peers\' regions')
  win.command('open <peer> <region> <size>').option('--offset <n>', 'offset in the region', '0').option('--uncached', 'keep no replica')
    .action(async (peer: string, ref: string, size: string, o: { offset: string, uncached?: boolean }) => {
      const w = await client().openWindow({ peer, region: /^\d+$/.test(ref) ? Number(ref) : ref, offset: parseNumber(o.offset, 'offset'), size: parseSize(size), replica: o.uncached !== true })
      print(w, () => windowsTable([w]))
    })
  const listWindows = async (): Promise<void> => {
    const ws = await client().windows()
    print(ws, () => windowsTable(ws))
  }
  win.command('list').action(listWindows)
  program.command('windows').description('same as window list').action(listWindows)
  win.command('read <id> <offset> <length>').option('--uncached', 'non-posted read from the owner, not the replica')
    .action(async (id: string, off: string, len: string, o: { uncached?: boolean }) => {
      const offset = parseNumber(off, 'offset')
      const bytes = await client().readWindow(parseNumber(id, 'window'), offset, parseNumber(len, 'length'), { uncached: o.uncached === true })
      print({ offset, hex: Buffer.from(bytes).toString('hex') }, () => hexdump(bytes, offset))
    })
  win.command('write <id> <offset> <hex>').action(async (id: string, off: string, hex: string) => {
    const r = await client().writeWindow(parseNumber(id, 'window'), parseNumber(off, 'offset'), parseHex(hex))
    print(r, () => `wrote ${r.length} bytes at 0x${r.offset.toString(16)}`)
  })
  win.command('close <id>').action(async (id: string) => {
    await client().closeWindow(parseNumber(id, 'window'))
    print({ closed: Number(id) }, () => `closed window ${id}`)
  })

  program.command('ring <peer> <target> [value]').description('ring a doorbell on a peer').action(async (peer: string, target: string, value?: string) => {
    const r = await client().ring(peer, target, value === undefined ? 1 : parseNumber(value, 'value'))
    print(r, () => `rang ${r.peer}:${r.target} value=${r.value}`)
  })
  const db = program.command('doorbell').description('doorbell targets this daemon declares')
  db.command('declare <name>').action(async (name: string) => {
    const d = await client().declareDoorbell(name)
    print(d, () => `declared doorbell ${d.name}`)
  })
  const listDoorbells = async (): Promise<void> => {
    const ds = await client().doorbells()
    print(ds, () => table(['name', 'rings', 'last value'], ds.map((d) => [d.name, d.rings, d.lastValue])))
  }
  db.command('list').action(listDoorbells)
  program.command('doorbells').description('same as doorbell list').action(listDoorbells)
  db.command('remove <name>').action(async (name: string) => {
    await client().removeDoorbell(name)
    print({ removed: name }, () => `removed doorbell ${name}`)
  })

  program.command('events').description('follow doorbells, link, peer and window events').option('--count <n>', 'stop after N events')
    .action(async (o: { count?: string }) => {
      const limit = o.count === undefined ? Infinity : parseNumber(o.count, 'count')
      const stream = await client().events()
      let n = 0
      for await (const e of stream) {
        io.out(json() ? JSON.stringify(e) : describe(e))
        if (++n >= limit) break
      }
      stream.close()
    })
  return program
}

function describe (e: NodeEvent): string {
  switch (e.type) {
    case 'doorbell': return `${e.time} doorbell ${e.peer}→${e.target} value=${e.value}`
    case 'link': return `${e.time} link ${e.peer} ${e.state}${e.reason !== '' ? ` (${e.reason})` : ''}`
    case 'peer': return `${e.time} peer ${e.peer} ${e.state}${e.error !== '' ? ` (${e.error})` : ''}`
    case 'window': return `${e.time} window ${e.window} on ${e.peer} ${e.state}${e.error !== '' ? ` (${e.error})` : ''}`
    case 'error': return `${e.time} error from ${e.peer}: ${e.message}`
  }
}

function peersTable (peers: Peer[]): string {
  return table(['name', 'state', 'role', 'direction', 'rtt ms', 'url', 'last error'],
    peers.map((p) => [p.name, p.state, p.role, p.direction, p.rttMs === null ? null : p.rttMs.toFixed(2), p.url, p.lastError]))
}

function regionsTable (regions: Region[]): string {
  return table(['id', 'name', 'size', 'pages', 'writes', 'subscribers'],
    regions.map((r) => [r.id, r.name, r.size, r.populatedPages, r.writes, r.subscribers.map((s) => `${s.peer}#${s.window}`).join(',')]))
}

function windowsTable (ws: Window[]): string {
  return table(['id', 'peer', 'region', 'offset', 'size', 'replica', 'state', 'error'],
    ws.map((w) => [w.id, w.peer, String(w.region), `0x${w.offset.toString(16)}`, w.size, w.replica ? 'yes' : 'no', w.state, w.lastError]))
}
