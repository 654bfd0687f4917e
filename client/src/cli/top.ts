// soclink top: a daemon's rates, refreshed like top(1). Every -d SECONDS it
// reads the counters of its JSON routes (peers, rpmsg endpoints, doorbells)
// and shows the rates since the reading before (top-rates.ts). On a
// terminal each frame replaces the screen; with -b, or when stdout is not a
// terminal, frames follow one another (batch mode, for pipes); --json gives
// one JSON object per frame and line. -n N stops after N frames.

import { InvalidArgumentError, type Command } from 'commander'
import { ApiError } from '../errors.js'
import type { ControlClient } from '../control-client.js'
import type { Context } from './context.js'
import { asCount } from './args.js'
import { ratesBetween, topText, type TopSample } from './top-rates.js'

/** Home, then erase the screen (ECMA-48 CUP and ED 2), as top(1) redraws. */
const CLEAR_SCREEN = '\x1b[H\x1b[2J'

const asSeconds = (text: string): number => {
  const n = Number(text)
  if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0) || n > 86_400) throw new InvalidArgumentError(`delay ${JSON.stringify(text)} is not a number of seconds above 0 (like 2 or 0.5)`)
  return n
}

async function sample (c: ControlClient): Promise<TopSample> {
  const endpoints = c.rpmsgEndpoints().then((l) => l.endpoints, (err: unknown) => {
    // 404: no rpmsg bus here (now): no endpoints to show.
    if (err instanceof ApiError && err.status === 404) return null
    throw err
  })
  const [node, peers, eps, doorbells] = await Promise.all([c.node(), c.peers(), endpoints, c.doorbells()])
  return { at: performance.now(), node, peers, endpoints: eps, doorbells }
}

const clock = (): string => new Date().toISOString().slice(11, 19) + ' UTC'

interface TopOptions { delay: number, iterations?: number, batch?: boolean }

export function topCommand (program: Command, ctx: Context): void {
  program.command('top').description('per-peer, per-endpoint and per-doorbell rates, refreshed like top(1): frames and bytes each way, rpmsg messages, doorbell rings')
    .option('-d, --delay <seconds>', 'seconds between refreshes', asSeconds, 2)
    .option('-n, --iterations <n>', 'exit after N refreshes', asCount('iterations'))
    .option('-b, --batch', 'batch mode: frames one after another, no screen clearing (as when piped)')
    .action(async (o: TopOptions) => {
      const c = ctx.client()
      const redraw = o.batch !== true && !ctx.json() && process.stdout.isTTY === true
      let before = await sample(c)
      for (let n = 1; o.iterations === undefined || n <= o.iterations; n++) {
        await new Promise((resolve) => { setTimeout(resolve, o.delay * 1000) })
        const now = await sample(c)
        const frame = ratesBetween(before, now)
        before = now
        if (ctx.json()) ctx.line(JSON.stringify({ time: new Date().toISOString(), ...frame }))
        else ctx.line(`${redraw ? CLEAR_SCREEN : n > 1 ? '\n' : ''}${topText(frame, clock())}`)
      }
    })
}
