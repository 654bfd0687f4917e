// Commands for rpmsg: the daemon's channels and endpoints (control API), and
// small applications over its rpmsg gateway (RpmsgClient): listen, send,
// ping and echo. Each application command owns one gateway connection; its
// endpoint goes away with it (proto/rpmsg.proto, "Ownership"), so Ctrl-C or
// SIGTERM close the connection and end the command cleanly.

import { InvalidArgumentError, type Command } from 'commander'
import { ApiError } from '../errors.js'
import { RpmsgClient, RPMSG_ADDR_ANY, type CreateEndpointOptions, type RpmsgChannelEvent, type RpmsgEndpoint } from '../rpmsg-client.js'
import type { Context } from './context.js'
import { asCount, asNumber } from './args.js'
import { parseHex, parseNumber } from './format.js'
import { asPingSize, DEFAULT_PING_SIZE, MIN_PING_SIZE, pingRounds, Stop } from './rpmsg-ping.js'
import { rpmsgPerfCommand } from './rpmsg-perf-command.js'
import { retrying } from './reconnect.js'
import { bytesText, channelsTable, endpointsText, messageRecord, messageText, pingHeader } from './rpmsg-views.js'

/** How long to wait for a channel, a free buffer or a reply, unless --timeout says otherwise. */
const DEFAULT_TIMEOUT_MS = 10_000

const asAddr = (text: string): number => {
  let n: number
  try {
    n = parseNumber(text, 'address')
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message)
  }
  if (n > 0xffff_ffff) throw new InvalidArgumentError(`address ${text} is above 0xffffffff`)
  return n
}

/**
 * One gateway connection for one command. With `signals`, Ctrl-C and
 * SIGTERM close it (which destroys its endpoints on the daemon) and stop
 * the command, so it ends with status 0.
 */
class Session {
  private clientClosed = false
  private firstError: ApiError | null = null
  private readonly onSignal: () => void

  private constructor (private readonly ctx: Context, readonly client: RpmsgClient, signals: boolean, readonly stop: Stop) {
    this.onSignal = () => {
      this.stop.stop()
      void this.client.close()
    }
    if (signals) {
      process.on('SIGINT', this.onSignal)
      process.on('SIGTERM', this.onSignal)
    }
    // Errors not about a request: a daemon that closes the connection may say
    // why first; a reader too slow for the gateway loses messages.
    client.on('close', () => { this.clientClosed = true })
    client.on('gateway-error', (err: ApiError) => {
      this.firstError ??= err
      if (err.code === 'ERR_RPMSG_OVERFLOW') process.stderr.write(`soclink: warning: ${err.code}: ${err.message}\n`)
    })
  }

  get stopping (): boolean { return this.stop.stopped }

  /** The daemon closed the connection (it stopped or restarted), and the command was not stopping; `why`: what it said first, if anything. */
  get lost (): { why: string } | null {
    if (!this.clientClosed || this.stopping) return null
    return { why: this.firstError === null ? '' : `${this.firstError.code}: ${this.firstError.message}` }
  }

  /** `stop`: shared by the sessions of a command that connects again (rpmsg echo). */
  static async open (ctx: Context, signals: boolean, stop = new Stop()): Promise<Session> {
    return new Session(ctx, await RpmsgClient.connect(ctx.client().base, ctx.connection()), signals, stop)
  }

  /**
   * Creates the command's endpoint. When the daemon closed the connection
   * instead, its reason is the gateway's error, or else the control API's
   * (a daemon with no rpmsg bus answers 404 there too).
   */
  async endpoint (opts: CreateEndpointOptions): Promise<RpmsgEndpoint> {
    try {
      return await this.client.createEndpoint(opts)
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== 'ERR_CLOSED') throw err
      if (this.firstError !== null) throw this.firstError
      await this.ctx.client().rpmsgChannels()
      throw err
    }
  }

  /** Claims channel `name` (remote `dst`) on the virtio side: its endpoint, bound (RpmsgClient.claimChannel). */
  async claim (name: string, dst: number): Promise<RpmsgEndpoint> {
    try {
      return await this.client.claimChannel(name, { dst })
    } catch (err) {
      if (err instanceof ApiError && err.code === 'ERR_CLOSED' && this.firstError !== null) throw this.firstError
      throw err
    }
  }

  /** The error for an endpoint or connection that ended while the command still needed it. */
  endedError (ept: RpmsgEndpoint, why: string | null): ApiError {
    if (!this.clientClosed && why !== null) return new ApiError('ERR_RPMSG_DESTROYED', `rpmsg endpoint ${ept.addr} is destroyed: ${why}`, 0)
    return this.firstError ?? new ApiError('ERR_CLOSED', `the rpmsg gateway connection to ${this.client.url} was closed by the daemon`, 0)
  }

  async close (): Promise<void> {
    process.off('SIGINT', this.onSignal)
    process.off('SIGTERM', this.onSignal)
    await this.client.close()
  }
}

/** A stream line: the record under --json, else the human text. */
const emit = (ctx: Context, record: object, human: () => string): void => { ctx.line(ctx.json() ? JSON.stringify(record) : human()) }

function announcedText (verb: string, ept: RpmsgEndpoint, announce: boolean): string {
  const what = ept.name === '' ? '' : announce ? `, channel ${ept.name} announced` : `, name ${ept.name}`
  return `${verb} on rpmsg address ${ept.addr}${what} (max payload ${bytesText(ept.maxPayload)})`
}

/**
 * Lines for what happens to the endpoint while the command runs: the
 * address service binding it (an announced one) or taking it back, and the
 * daemon's rpmsg bus going and coming back (the other side restarting).
 * Returns why the endpoint ended, once it has.
 */
function follow (ctx: Context, ept: RpmsgEndpoint): () => string | null {
  const at = { addr: ept.addr }
  const bound = (remote: number): void => { emit(ctx, { type: 'bound', ...at, remote }, () => `channel ${ept.name} bound to remote ${remote}`) }
  if (ept.remote !== null) bound(ept.remote)
  ept.on('bound', bound)
  ept.on('unbound', () => { emit(ctx, { type: 'unbound', ...at }, () => `channel ${ept.name} unbound: its remote address was taken back`) })
  ept.on('detached', (reason) => { emit(ctx, { type: 'detached', ...at, reason }, () => `endpoint ${ept.addr} detached: ${reason}`) })
  ept.on('attached', () => { emit(ctx, { type: 'attached', ...at }, () => `endpoint ${ept.addr} attached again`) })
  let ended: string | null = null
  ept.once('destroyed', (reason) => { ended = reason })
  return () => ended
}

/**
 * The remote address of channel `name`. Subscribes to channel events before
 * asking the API, so a channel announced in between is not missed.
 */
async function channelRemote (ctx: Context, s: Session, name: string, timeoutMs: number): Promise<number> {
  let found: (dst: number) => void = () => {}
  const seen = new Promise<number>((resolve) => { found = resolve })
  const on = (ev: RpmsgChannelEvent): void => { if (ev.created && ev.name === name && ev.dst !== RPMSG_ADDR_ANY) found(ev.dst) }
  s.client.on('channel', on)
  try {
    const listed = (await ctx.client().rpmsgChannels()).find((c) => c.name === name && c.dst !== null)
    if (listed?.dst != null) return listed.dst
    const o = await s.stop.race(seen, timeoutMs)
    if ('value' in o) return o.value
    throw new ApiError('ERR_TIMEOUT', `no rpmsg channel named ${JSON.stringify(name)} with a remote address appeared within ${timeoutMs} ms (soclink rpmsg channels lists them)`, 0)
  } finally {
    s.client.off('channel', on)
  }
}

interface Target { dst?: number, channel?: string }

function checkTarget (o: Target, cmd: Command): void {
  if (o.dst !== undefined && o.channel !== undefined) cmd.error('error: give --dst or --channel, not both')
  if (o.dst === undefined && o.channel === undefined) cmd.error('error: give --dst ADDR or --channel NAME')
}

async function resolveTarget (ctx: Context, s: Session, o: Target, timeoutMs: number): Promise<number> {
  return o.dst ?? await channelRemote(ctx, s, o.channel!, timeoutMs)
}

const sizeError = (what: string, max: number, after = ''): ApiError =>
  new ApiError('ERR_RPMSG_SIZE', `${what} over the rpmsg bus's max payload of ${bytesText(max)}${after}`, 0)

export function rpmsgCommands (program: Command, ctx: Context): void {
  const rpmsg = program.command('rpmsg').description('rpmsg channels and endpoints, and applications over the rpmsg gateway: listen, send, ping, echo, perf')

  rpmsg.command('channels').description('channels on the daemon\'s rpmsg bus (name service): local and remote addresses').action(async () => {
    const channels = await ctx.client().rpmsgChannels()
    ctx.print(channels, () => channelsTable(channels))
  })

  rpmsg.command('claim').description('bind an announced channel on the virtio side (rc) as a driver claiming it would: its endpoint made, the other side told (AS ASSIGN); no reader')
    .argument('<name>', 'the channel name')
    .action(async (name: string) => {
      const ch = await ctx.client().rpmsgClaim(name)
      ctx.print(ch, () => `channel ${ch.name} bound: local ${ch.src ?? '-'}, remote ${ch.dst ?? '-'} (driver ${ch.driver ?? '-'})`)
    })

  rpmsg.command('release').description('release a channel claimed with rpmsg claim: unbound again (AS FREE) unless something else holds it')
    .argument('<name>', 'the channel name')
    .action(async (name: string) => {
      await ctx.client().rpmsgRelease(name)
      ctx.print({ name, released: true }, () => `channel ${name} released`)
    })

  rpmsg.command('endpoints').description('local addresses on the daemon\'s rpmsg bus, and each bus\'s counters').action(async () => {
    const list = await ctx.client().rpmsgEndpoints()
    ctx.print(list, () => endpointsText(list))
  })

  rpmsg.command('listen').description('create an endpoint and print each message it receives (source, length, payload); Ctrl-C ends')
    .option('--name <name>', 'endpoint name; the channel name with --announce')
    .option('--addr <addr>', 'the local address wanted (default: the lowest free from 1024)', asAddr)
    .option('--count <n>', 'exit after N messages', asCount('count'))
    .option('--announce', 'announce the endpoint as a channel by the name service (an ep daemon only)')
    .action(async (o: { name?: string, addr?: number, count?: number, announce?: boolean }, cmd: Command) => {
      const announce = o.announce === true
      if (announce && o.name === undefined) cmd.error('error: --announce needs --name (the channel name)')
      const s = await Session.open(ctx, true)
      try {
        const ept = await s.endpoint({ ...(o.name !== undefined && { name: o.name }), ...(o.addr !== undefined && { addr: o.addr }), announce })
        emit(ctx, { type: 'listening', addr: ept.addr, name: ept.name, announced: announce, maxPayload: ept.maxPayload }, () => announcedText('listening', ept, announce))
        const why = follow(ctx, ept)
        let seen = 0
        for await (const m of ept) {
          emit(ctx, messageRecord('message', m.src, m.payload), () => messageText(m.src, m.payload))
          if (++seen === o.count) return
        }
        if (!s.stopping) throw s.endedError(ept, why())
      } finally {
        await s.close()
      }
    })

  rpmsg.command('send').description('send each DATA as one message, to an address or to a channel found by name')
    .argument('<data...>', 'message text (sent as UTF-8), or hex bytes with --hex')
    .option('--dst <addr>', 'the remote address (decimal or 0x hex)', asAddr)
    .option('--channel <name>', 'send to this channel\'s remote address, waiting until it is announced')
    .option('--src-name <name>', 'a name for the sending endpoint (shown in rpmsg endpoints while it sends)')
    .option('--hex', 'each DATA is hex: deadbeef, de:ad:be:ef, 0xdeadbeef')
    .option('--timeout <ms>', `wait this long for the channel or a free buffer (default ${DEFAULT_TIMEOUT_MS})`, asCount('timeout'), DEFAULT_TIMEOUT_MS)
    .action(async (data: string[], o: Target & { srcName?: string, hex?: boolean, timeout: number }, cmd: Command) => {
      checkTarget(o, cmd)
      const payloads: Uint8Array[] = []
      for (const d of data) {
        try {
          payloads.push(o.hex === true ? parseHex(d) : Buffer.from(d, 'utf8'))
        } catch (err) {
          cmd.error(`error: ${(err as Error).message}`)
        }
      }
      const s = await Session.open(ctx, false)
      try {
        const ept = await s.endpoint(o.srcName !== undefined ? { name: o.srcName } : {})
        // Checked before anything is sent: all the messages go, or none.
        payloads.forEach((p, i) => { if (p.length > ept.maxPayload) throw sizeError(`message ${i + 1} is ${bytesText(p.length)},`, ept.maxPayload, '; nothing was sent') })
        const dst = await resolveTarget(ctx, s, o, o.timeout)
        for (const p of payloads) await ept.send(dst, p, { timeoutMs: o.timeout })
        const bytes = payloads.reduce((n, p) => n + p.length, 0)
        ctx.print({ src: ept.addr, dst, ...(o.channel !== undefined && { channel: o.channel }), messages: payloads.length, bytes },
          () => `sent ${payloads.length} message${payloads.length === 1 ? '' : 's'} (${bytesText(bytes)}) from ${ept.addr} to ${dst}`)
      } finally {
        await s.close()
      }
    })

  rpmsg.command('ping').description('round trips to an echo endpoint (soclink rpmsg echo), printed like ping(8); Ctrl-C ends with the summary')
    .option('--dst <addr>', 'the echo endpoint\'s address (decimal or 0x hex)', asAddr)
    .option('--channel <name>', 'ping this channel\'s remote address, waiting until it is announced')
    .option('--claim', 'with --channel, on the virtio side (an rc): claim the channel as a kernel driver binds it (the other side learns our address by AS ASSIGN) and ping from its endpoint')
    .option('--count <n>', 'stop after N pings (default: until Ctrl-C)', asCount('count'))
    .option('--size <bytes>', `payload bytes, at least ${MIN_PING_SIZE} (default ${DEFAULT_PING_SIZE})`, asPingSize, DEFAULT_PING_SIZE)
    .option('--interval <ms>', 'wait between pings (default 1000)', asNumber('interval'), 1000)
    .option('--timeout <ms>', `wait this long for the channel and for each reply (default ${DEFAULT_TIMEOUT_MS})`, asCount('timeout'), DEFAULT_TIMEOUT_MS)
    .action(async (o: Target & { claim?: boolean, count?: number, size: number, interval: number, timeout: number }, cmd: Command) => {
      checkTarget(o, cmd)
      if (o.claim === true && o.channel === undefined) cmd.error('error: --claim needs --channel NAME')
      const s = await Session.open(ctx, true)
      try {
        const claim = async (): Promise<{ ept: RpmsgEndpoint, dst: number }> => {
          const dst = await resolveTarget(ctx, s, o, o.timeout)
          return { ept: await s.claim(o.channel!, dst), dst }
        }
        const first = o.claim === true ? await claim() : null
        const ept = first?.ept ?? await s.endpoint({ name: 'soclink-ping' })
        if (o.size > ept.maxPayload) throw sizeError(`--size ${o.size} is`, ept.maxPayload)
        const dst = first?.dst ?? await resolveTarget(ctx, s, o, o.timeout)
        emit(ctx, { type: 'ping', src: ept.addr, dst, ...(o.channel !== undefined && { channel: o.channel }), size: o.size },
          () => pingHeader(dst, o.channel, ept.addr, o.size))
        const why = follow(ctx, ept)

        // A claimed channel goes with the other side's restart: claimed again when announced again, until stopped.
        const reclaim = async (): Promise<{ ept: RpmsgEndpoint, dst: number } | null> => {
          while (!s.stopping) {
            try {
              return await claim()
            } catch (err) {
              if (!(err instanceof ApiError) || err.code === 'ERR_CLOSED') throw err
              if (!await s.stop.sleep(Math.max(o.interval, 100))) break
            }
          }
          return null
        }
        let current = ept
        await pingRounds({
          ept,
          dst,
          stop: s.stop,
          emit: (record, human) => { emit(ctx, record, human) },
          ended: () => s.endedError(current, why()),
          ...(first !== null && { reclaim: async () => { const next = await reclaim(); if (next !== null) current = next.ept; return next } })
        }, o)
      } finally {
        await s.close()
      }
    })

  rpmsgPerfCommand(rpmsg, ctx)

  rpmsg.command('echo').description('send every message back to its source; with --announce (an ep) a channel the rc finds by name; ' +
    'when the daemon restarts, connects again and makes the endpoint again at the same address; Ctrl-C ends')
    .option('--name <name>', 'endpoint name; the channel name with --announce')
    .option('--addr <addr>', 'the local address wanted (default: the lowest free from 1024)', asAddr)
    .option('--announce', 'announce the endpoint as a channel by the name service (an ep daemon only)')
    .option('--count <n>', 'exit after echoing N messages', asCount('count'))
    .option('--quiet', 'print no line per message')
    .option('--timeout <ms>', `wait this long for a free buffer for each reply (default ${DEFAULT_TIMEOUT_MS})`, asCount('timeout'), DEFAULT_TIMEOUT_MS)
    .action(async (o: { name?: string, addr?: number, announce?: boolean, count?: number, quiet?: boolean, timeout: number }, cmd: Command) => {
      const announce = o.announce === true
      if (announce && o.name === undefined) cmd.error('error: --announce needs --name (the channel name)')
      const stop = new Stop()
      let addr = o.addr
      const attach = async (): Promise<{ s: Session, ept: RpmsgEndpoint }> => {
        const s = await Session.open(ctx, true, stop)
        try {
          return { s, ept: await s.endpoint({ ...(o.name !== undefined && { name: o.name }), ...(addr !== undefined && { addr }), announce }) }
        } catch (err) {
          await s.close()
          throw err
        }
      }
      let { s, ept } = await attach()
      emit(ctx, { type: 'echoing', addr: ept.addr, name: ept.name, announced: announce, maxPayload: ept.maxPayload }, () => announcedText('echo', ept, announce))
      let seen = 0
      for (;;) {
        // After a restart the endpoint comes back at the address it had (an announced one takes the lowest free from 1024, as at first).
        if (!announce) addr = ept.addr
        try {
          const why = follow(ctx, ept)
          for await (const m of ept) {
            try {
              await ept.send(m.src, m.payload, { timeoutMs: o.timeout })
            } catch (err) {
              if (s.stopping || (err instanceof ApiError && err.code === 'ERR_CLOSED')) break
              // One reply that found no buffer in time is lost, as rpmsg would lose it; echo goes on.
              process.stderr.write(`soclink: warning: reply to ${m.src} not sent: ${err instanceof ApiError ? `${err.code}: ` : ''}${(err as Error).message}\n`)
              continue
            }
            if (o.quiet !== true) emit(ctx, messageRecord('echo', m.src, m.payload), () => `${messageText(m.src, m.payload)} echoed`)
            if (++seen === o.count) return
          }
          if (s.stopping) return
          if (s.lost === null) throw s.endedError(ept, why())
        } finally {
          await s.close()
        }
        const url = s.client.url
        const lost = s.lost.why
        emit(ctx, { type: 'disconnected', url, reason: lost }, () => `the rpmsg gateway connection to ${url} closed${lost === '' ? '' : ` (${lost})`}: connecting again`)
        const back = await retrying(stop, attach, (err, ms) => {
          process.stderr.write(`soclink: ${err.code}: ${err.message}; trying again in ${ms} ms\n`)
        })
        if (back === null) return
        ;({ s, ept } = back)
        emit(ctx, { type: 'reconnected', url, addr: ept.addr, name: ept.name, announced: announce }, () => `reconnected to ${url}: ${announcedText('echoing', ept, announce)} again`)
      }
    })
}
