// soclink rpmsg perf (rpmsg-perf.ts): the command, its options and its
// output. One gateway connection to each daemon, closed when it ends;
// exit status 1 if any message was lost, duplicated or damaged.

import { InvalidArgumentError, type Command } from 'commander'
import { ApiError } from '../errors.js'
import { ControlClient } from '../control-client.js'
import type { ConnectionOptions } from '../credentials.js'
import { RpmsgClient, type RpmsgEndpoint } from '../rpmsg-client.js'
import type { Context } from './context.js'
import { asApiUrl, asCount, asNumber } from './args.js'
import { PERF_HEADER_BYTES } from './rpmsg-perf-check.js'
import { damaged, perfText } from './rpmsg-perf-views.js'
import { lossError, runPerf, type PerfSide } from './rpmsg-perf.js'
import { Progress } from '../progress.js'

const asPerfSize = (text: string): number => {
  const n = asNumber('size')(text)
  if (n < PERF_HEADER_BYTES) throw new InvalidArgumentError(`size must be at least ${PERF_HEADER_BYTES} bytes (room for the sequence number)`)
  return n
}

interface PerfCommandOptions { peerApi: string, peerTokenFile?: string, size?: number, endpoints: number, count: number, rounds: number, timeout: number }

async function side (api: string, endpoints: number, connection: ConnectionOptions): Promise<PerfSide> {
  const name = (await new ControlClient(api, connection).node()).name
  const client = await RpmsgClient.connect(api, connection)
  try {
    const list: RpmsgEndpoint[] = []
    for (let i = 0; i < endpoints; i++) list.push(await client.createEndpoint({ name: 'soclink-perf' }))
    return { name, client, endpoints: list }
  } catch (err) {
    await client.close()
    throw err
  }
}

export function rpmsgPerfCommand (rpmsg: Command, ctx: Context): void {
  rpmsg.command('perf').description('measure rpmsg between this daemon and another: messages/s and MB/s one way, each way and both at once, and round trips (p50, p99); every message is checked on arrival')
    .requiredOption('--peer-api <url>', 'control API of the other daemon (the one --api is linked to)', asApiUrl)
    .option('--peer-token-file <file>', 'token for the other daemon, when it is not --token-file\'s')
    .option('--size <bytes>', 'payload bytes (default: the bus\'s largest payload)', asPerfSize)
    .option('--endpoints <n>', 'endpoint pairs sending at once', asCount('endpoints'), 1)
    .option('--count <n>', 'messages per endpoint pair and direction', asCount('count'), 10_000)
    .option('--rounds <n>', 'round trips per endpoint pair', asCount('rounds'), 1000)
    .option('--timeout <ms>', 'a run ends when nothing has arrived for this long (what is missing is lost)', asCount('timeout'), 5000)
    .action(async (o: PerfCommandOptions) => {
      const a = await side(ctx.client().base, o.endpoints, ctx.connection())
      let b: PerfSide | null = null
      try {
        const peerConnection = o.peerTokenFile === undefined ? ctx.connection() : { ...ctx.connection(), tokenFile: o.peerTokenFile }
        b = await side(o.peerApi, o.endpoints, peerConnection)
        const largest = Math.min(a.endpoints[0]!.maxPayload, b.endpoints[0]!.maxPayload)
        const size = o.size ?? largest
        if (size > largest) throw new ApiError('ERR_RPMSG_SIZE', `--size ${size} is over the rpmsg bus's max payload of ${largest} bytes`, 0)
        if (size < PERF_HEADER_BYTES) throw new ApiError('ERR_RPMSG_SIZE', `the rpmsg bus's max payload of ${largest} bytes has no room for the ${PERF_HEADER_BYTES}-byte perf header`, 0)
        const result = await runPerf(a, b, { size, count: o.count, rounds: o.rounds, timeout: o.timeout }, new Progress())
        ctx.print(result, () => perfText(result))
        const bad = damaged(result)
        if (bad > 0) throw lossError(bad)
      } finally {
        await a.client.close()
        await b?.client.close()
      }
    })
}
