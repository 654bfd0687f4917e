// soclink top in batch mode against a real rc and ep daemon process while
// an rc application streams rpmsg messages to an ep echo endpoint and the
// ep rings a doorbell on the rc: the rc's rates for the ep peer, for the
// application's endpoint and for the doorbell are above zero; once the
// traffic stops, the endpoint's and the doorbell's are zero.

import t from 'tap'
import { ControlClient, RpmsgClient, type RpmsgEndpoint } from '../../client/src/index.js'
import { cli, SOCLINK, until, within } from '../support/daemon.js'
import { onTerminal } from '../support/tty.js'
import { scaled } from '../support/time.js'
import { startRpmsgBuses } from '../support/rpmsg-daemons.js'
import { channelEvent } from '../support/rpmsg-procs.js'
import type { TopFrame } from '../../client/src/cli/top-rates.js'

const pair = await startRpmsgBuses()
const clients: RpmsgClient[] = []
t.teardown(async () => {
  for (const c of clients) await c.close()
  await pair.stop()
})
const rcApi = new ControlClient(pair.rc.api)
const epApi = new ControlClient(pair.ep.api)

const rcApp = await RpmsgClient.connect(pair.rc.api)
const epApp = await RpmsgClient.connect(pair.ep.api)
clients.push(rcApp, epApp)
const announced = channelEvent(rcApp, 'top-echo', true)
const echo = await epApp.createEndpoint({ name: 'top-echo', announce: true })
void (async () => { for await (const m of echo) echo.post(m.src, m.payload) })().catch(() => {})
const ch = await announced
const mine: RpmsgEndpoint = await rcApp.claimChannel('top-echo', { dst: ch.dst })
await within(echo.whenBound(), 'the echo bound')
await rcApi.declareDoorbell('top-tick')

/** The rc's counters of the application's endpoint. */
async function counters (): Promise<{ sent: number, received: number }> {
  const e = (await rcApi.rpmsgEndpoints()).endpoints.find((x) => x.addr === mine.addr)
  if (e === undefined) throw new Error(`no endpoint ${mine.addr} on the rc`)
  return e.counters
}

/** Traffic until stop(): messages posted to the echo (which sends them back) and doorbell rings from the ep. */
async function traffic (): Promise<{ stop: () => Promise<void> }> {
  // Counted from here: what this address sent before (the claim's message) is not echoed.
  const base = await counters()
  let going = true
  let rung = 0
  const messages = (async () => {
    const payload = Buffer.alloc(256, 0x5a)
    while (going) {
      for (let i = 0; i < 50; i++) mine.post(ch.dst, payload)
      await mine.flush()
    }
  })()
  const rings = (async () => { while (going) { await epApi.ring('rc', 'top-tick', 1); rung++ } })()
  return {
    stop: async () => {
      going = false
      await Promise.all([messages, rings])
      // Echoes and rings still on their way would move the next frame's rates: wait until the rc has them all.
      let seen = ''
      await until('the echoes and rings in flight at the rc', async () => {
        const c = await counters()
        const rang = (await rcApi.doorbells()).find((d) => d.name === 'top-tick')?.rings ?? 0
        seen = `${c.sent - base.sent} sent, ${c.received - base.received} echoed; ${rang} of ${rung} rings`
        return c.received - base.received >= c.sent - base.sent && rang >= rung ? true : undefined
      }, 30_000, () => seen)
    }
  }
}

async function top (...args: string[]): Promise<TopFrame[]> {
  const r = await cli(pair.rc.api, '--json', 'top', '-b', ...args)
  t.equal(r.code, 0, `soclink top exits 0 (stderr: ${r.stderr})`)
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as TopFrame)
}

t.test('busy: rates above zero for the peer, the endpoint and the doorbell', async (t) => {
  const busy = await traffic()
  let frames: TopFrame[]
  try {
    frames = await top('-n', '2', '-d', '0.5')
  } finally {
    await busy.stop()
  }
  t.equal(frames.length, 2, '-n 2: two frames, one a line')
  for (const f of frames) {
    t.match(f, { node: 'rc', role: 'rc' })
    t.ok(f.seconds > 0, 'over some time')
    const ep = f.peers.find((p) => p.name === 'ep')!
    t.ok(ep.framesOutPerSec > 0 && ep.framesInPerSec > 0 && ep.bytesOutPerSec > 0 && ep.bytesInPerSec > 0, `frames and bytes each way to ep: ${JSON.stringify(ep)}`)
    const e = f.endpoints.find((x) => x.addr === mine.addr)!
    t.ok(e.sentPerSec > 0 && e.receivedPerSec > 0, `the application's endpoint sends and receives: ${JSON.stringify(e)}`)
    t.equal(e.channel, 'top-echo', 'named by its channel')
    t.ok(f.doorbells.find((d) => d.name === 'top-tick')!.ringsPerSec > 0, 'the doorbell rings')
  }
})

t.test('idle: the endpoint and the doorbell are at zero; the human frame lists them', async (t) => {
  const [f] = await top('-n', '1', '-d', '0.5')
  const e = f!.endpoints.find((x) => x.addr === mine.addr)!
  t.same([e.sentPerSec, e.receivedPerSec, e.droppedPerSec], [0, 0, 0], 'nothing moves on the endpoint')
  t.equal(f!.doorbells.find((d) => d.name === 'top-tick')!.ringsPerSec, 0, 'no rings')

  const text = await cli(pair.rc.api, 'top', '-b', '-n', '2', '-d', '0.2')
  t.equal(text.code, 0)
  t.equal(text.stdout.match(/^soclink top: rc \(rc\), \d\d:\d\d:\d\d UTC, rates over [\d.]+ s$/gm)?.length, 2, 'two frames, one after the other')
  t.notOk(text.stdout.includes('\x1b'), 'batch mode: no screen clearing')
  t.match(text.stdout, /^PEER +STATE +RTT MS +FRAMES IN\/S +FRAMES OUT\/S +BYTES IN\/S +BYTES OUT\/S$/m)
  t.match(text.stdout, /^ep +up /m, 'the ep peer')
  t.match(text.stdout, new RegExp(`^virtio0 +${mine.addr} +top-echo +gateway +0 +0 +0$`, 'm'), 'the idle endpoint at zero')
  t.match(text.stdout, /^top-tick +0$/m, 'the idle doorbell at zero')
})

t.test('on a terminal: each frame clears the screen, as top(1)', async (t) => {
  const r = await onTerminal(process.execPath, [SOCLINK, '--api', pair.rc.api, 'top', '-n', '2', '-d', '0.2'], scaled(30_000))
  t.equal(r.code, 0, r.stdout)
  t.equal(r.stdout.split('\x1b[H\x1b[2Jsoclink top: rc (rc), ').length - 1, 2, 'two frames, each after home and erase-screen')
})

t.test('usage: a delay that is not a positive number is refused', async (t) => {
  const r = await cli(pair.rc.api, 'top', '-d', '0')
  t.equal(r.code, 2)
  t.match(r.stderr, /delay "0" is not a number of seconds above 0/)
})
