// soclink capture: records a daemon's link packets (GET /v1/capture) as
// pcapng (client/src/pcapng.ts): one interface per peer link, each packet
// with its time and direction. Each block is written whole as it arrives,
// so the file is valid whenever the command stops: after --count packets,
// after --duration seconds, on SIGINT or SIGTERM, or when the daemon goes.
// Wireshark and tshark decode it with proto/wireshark/soclink.lua.

import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs'
import WebSocket from 'ws'
import { InvalidArgumentError, type Command } from 'commander'
import type { Context } from './context.js'
import { asCount } from './args.js'
import { resolveCredentials } from '../credentials.js'
import { socketOptions, whenOpen } from '../transport.js'
import { PcapngFile } from '../pcapng.js'
import { ApiError } from '../errors.js'
import { decodeCaptureRecords } from '../../../proto/capture-record.js'

/** What the daemon keeps of each packet unless told otherwise (its DEFAULT_SNAPLEN). */
const DEFAULT_SNAPLEN = 262_144

interface CaptureOptions { peer?: string, write: string, count?: number, duration?: number, snaplen?: number }

const asSeconds = (text: string): number => {
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`duration ${text} is not a positive number of seconds`)
  return n
}

export interface CaptureSummary { file: string, packets: number, peers: string[], droppedByDaemon: number, stoppedBy: string }

export function captureCommand (program: Command, ctx: Context): void {
  program.command('capture')
    .description('record the daemon\'s link packets, both ways, as pcapng (Wireshark: load proto/wireshark/soclink.lua)')
    .requiredOption('-w, --write <file>', 'the pcapng file to write (replaced)')
    .option('--peer <name>', 'only this peer link\'s packets (it need not be up yet)')
    .option('--count <n>', 'stop after N packets', asCount('count'))
    .option('--duration <s>', 'stop after S seconds', asSeconds)
    .option('--snaplen <n>', `keep at most N bytes of each packet (default ${DEFAULT_SNAPLEN})`, asCount('snaplen'))
    .action(async (o: CaptureOptions) => {
      const s = await capture(ctx, o)
      const dropped = s.droppedByDaemon > 0 ? `; the daemon dropped ${s.droppedByDaemon} this reader was too slow for` : ''
      ctx.print(s, () => `${s.packets} packets of ${s.peers.length} peer links (${s.peers.length > 0 ? s.peers.join(', ') : 'none'}) written to ${s.file}${dropped}`)
    })
}

async function capture (ctx: Context, o: CaptureOptions): Promise<CaptureSummary> {
  const snaplen = o.snaplen ?? DEFAULT_SNAPLEN
  const query = new URLSearchParams({ snaplen: String(snaplen), ...(o.peer !== undefined && { peer: o.peer }) })
  const url = `${ctx.client().base.replace(/\/+$/, '').replace(/^http/, 'ws')}/v1/capture?${query.toString()}`
  const credentials = resolveCredentials(ctx.connection())
  const ws = new WebSocket(url, socketOptions(credentials))
  // A refusal (401, 403, no such route) says so before the file is touched.
  await whenOpen(ws, `the frame capture ${url}`, credentials)

  // The daemon's name goes in each interface's description: the dissector shows it as Source or Destination.
  const local = (await ctx.client().node()).name
  const file = new PcapngFile(snaplen, local)
  const fd = openSync(o.write, 'w')
  writeSync(fd, file.header())
  // On stderr, as tcpdump says where it listens: stdout is the summary's (--json).
  process.stderr.write(`capturing the link packets of ${o.peer ?? 'every peer'} into ${o.write}; Ctrl-C stops\n`)
  let packets = 0
  // Drops as the records count them, and as the daemon's status messages total them (also those after the last record).
  let droppedBefore = 0
  let droppedTotal = 0
  let failure: Error | null = null
  let stop: (why: string) => void = () => {}
  const stopped = new Promise<string>((resolve) => { stop = resolve })

  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) {
      try {
        droppedTotal = Math.max(droppedTotal, (JSON.parse(data.toString()) as { dropped?: number }).dropped ?? 0)
      } catch {
        // A status line for people that is not JSON: nothing to count.
      }
      return
    }
    try {
      for (const r of decodeCaptureRecords(data)) {
        if (o.count !== undefined && packets >= o.count) break
        for (const b of file.packet(r)) writeSync(fd, b)
        droppedBefore += r.dropsBefore
        packets++
      }
    } catch (err) {
      failure = new ApiError('ERR_CAPTURE_FORMAT', `the daemon sent a capture message that does not decode: ${(err as Error).message}`, 0)
      stop('error')
      return
    }
    if (o.count !== undefined && packets >= o.count) stop('count')
  })
  ws.on('close', () => { stop('the daemon closed the capture') })
  ws.on('error', (err) => { failure ??= err; stop('error') })
  const timer = o.duration !== undefined ? setTimeout(() => { stop('duration') }, o.duration * 1000) : null
  const onSignal = (sig: NodeJS.Signals): void => { stop(sig) }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const why = await stopped
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  if (timer !== null) clearTimeout(timer)
  if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close()
  fsyncSync(fd)
  closeSync(fd)
  if (failure !== null) throw failure
  return { file: o.write, packets, peers: file.peers, droppedByDaemon: Math.max(droppedBefore, droppedTotal), stoppedBy: why }
}
