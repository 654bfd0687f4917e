// ntb_perf (transport/ntb-perf.ts) between two hosts' NTB drivers
// (ntb-hw-epf.ts) and the board's real endpoint function (epf-ntb.ts) on
// in-memory nodes: each host translates MW 1 onto its perf buffer once the
// link is up and answers the other's requests; a run's writes land in the
// other host's buffer before the answer; pings are answered; one run at a
// time; no responder, no link and no room are errors that say so.

import t, { type Test } from 'tap'
import pino from 'pino'
import { once } from 'node:events'
import { ntbDriverPair, SYSMEM_SIZE, type NtbDriverHost } from '../support/ntb-board.js'
import type { EpfNtbConfig } from '../../daemon/src/hw/ntb/epf-ntb.js'
import { NtbPerf, rttStats, PERF_MW } from '../../daemon/src/transport/ntb-perf.js'
import { perfBits, perfBuffer } from '../../daemon/src/transport/ntb-perf-layout.js'
import { scaled } from '../support/time.js'

const logger = pino({ level: 'silent' })
/** The hosts' system memory (ntbDriverPair's root complexes). */
const MEMORY = SYSMEM_SIZE
const MW0_BASE = 0x10_0000
const MW = 0x1_0000

interface Host extends NtbDriverHost { perf: NtbPerf }

async function hosts (t: Test, config: Partial<EpfNtbConfig> = {}, timeoutMs = 5000): Promise<[Host, Host]> {
  const pair = await ntbDriverPair({ numMws: 2, mwSizes: [MW, MW], dbCount: 32, spadCount: 64, ...config })
  const out = [pair.h1, pair.h2].map((h): Host => ({ ...h, perf: new NtbPerf({ ntb: h.dev, memorySize: MEMORY, mw0Base: MW0_BASE, logger, timeoutMs: scaled(timeoutMs) }) }))
  t.teardown(async () => {
    for (const h of out) await h.perf.stop()
    await pair.stop()
  })
  return [out[0]!, out[1]!]
}

/** Starts both hosts' perf and enables the link; resolves once both are in `state`. */
async function linkUp (pair: Host[], state = 'ready'): Promise<void> {
  const reached = pair.map(async (h) => { while (h.perf.state !== state) await once(h.perf, 'state') })
  for (const h of pair) h.perf.start()
  for (const h of pair) await h.dev.linkEnable()
  await Promise.all(reached)
}

t.test('doorbell bits and the buffer\'s place in memory', async (t) => {
  t.same(perfBits(0x7fff_ffff), { request: 29, answer: 28 }, '31 bits: CONFIG_DB is 30, perf takes 29 and 28')
  t.same(perfBits(0xffff), { request: 14, answer: 13 })
  t.equal(perfBits(0x3ff), null, '10 bits: 8 for queues and CONFIG_DB leave one, not two')
  t.same(perfBuffer({ memorySize: 16 << 20, mw0Base: 1 << 20, mw0Max: 4 << 20, mw1Align: 4096, mw1Max: 4 << 20 }), { addr: 5 << 20, size: 4 << 20 },
    'the defaults: MW0 at 1M takes up to 4M, the buffer follows at 5M')
  t.same(perfBuffer({ memorySize: 16 << 20, mw0Base: 1 << 20, mw0Max: 0x1800, mw1Align: 0x1000, mw1Max: 0x1000 }), { addr: 0x10_2000, size: 0x1000 }, 'rounded up to MW1\'s alignment')
  t.throws(() => perfBuffer({ memorySize: 8 << 20, mw0Base: 1 << 20, mw0Max: 4 << 20, mw1Align: 4096, mw1Max: 4 << 20 }),
    { code: 'ERR_OUT_OF_RANGE', message: /does not fit system memory of 8388608 bytes/ }, 'a buffer past the end of memory is refused')
  t.same(rttStats([3, 1, 2, 4]), { min: 1, avg: 2.5, p99: 4 })
  t.same(rttStats(Array.from({ length: 200 }, (_, i) => i + 1)), { min: 1, avg: 100.5, p99: 198 }, 'p99 by nearest rank')
})

t.test('on link up each host translates MW 1 onto its buffer; a run\'s writes land in the other host\'s buffer', async (t) => {
  const [h1, h2] = await hosts(t)
  await linkUp([h1, h2])
  const buffer = h1.perf.view().buffer!
  t.same(buffer, { addr: MW0_BASE + MW, size: MW }, 'after MW0\'s largest extent, MW1\'s size')
  t.same(h1.dev.state().translations, [{ widx: PERF_MW, addr: buffer.addr, size: MW }], 'mw_set_trans(1) onto it')
  t.match(h2.perf.view(), { state: 'ready', bits: { request: 29, answer: 28 }, buffer, running: false })
  const bytes = 3 * MW + 0x2000
  t.equal(h2.perf.view().run, null, 'no run going')
  const running = h2.perf.run({ bytes, chunk: 0x4000, pings: 20 })
  // What a progress line polls: the run's bytes written, then round trips done.
  const seen: Array<{ written: number, pinged: number }> = []
  const watch = setInterval(() => { const v = h2.perf.view().run; if (v !== null) seen.push({ written: v.written, pinged: v.pinged }) }, 0)
  const r = await running
  clearInterval(watch)
  t.match(h2.perf.view().run, null, 'none once it ended')
  t.ok(seen.length > 0 && seen.every((v, i) => i === 0 || (v.written >= seen[i - 1]!.written && v.pinged >= seen[i - 1]!.pinged)), 'while it ran: written and pinged only grew')
  t.ok(seen.every((v) => v.pinged === 0 || v.written === bytes), 'round trips only after every byte was written')
  t.match(h1.perf.view().run, null, 'the answering host runs nothing')
  t.match(r, { bytes, chunk: 0x4000, pings: 20 }, 'the run as asked: three passes round the window and a bit')
  t.ok(r.seconds > 0 && r.mbps > 0, 'a rate')
  t.ok(r.rtt.min > 0 && r.rtt.min <= r.rtt.avg && r.rtt.avg <= r.rtt.p99, 'round trips: min <= avg <= p99')
  const pattern = Buffer.from(Array.from({ length: 0x4000 }, (_, i) => (i * 7 + 0x5a) & 0xff))
  const landed = Buffer.from(h1.root.sysmem.read(buffer.addr, MW))
  t.ok(landed.equals(Buffer.concat([pattern, pattern, pattern, pattern])), 'every chunk of the window holds the pattern, in HOST1\'s memory when the run ends')
  t.equal(h1.root.sysmem.read32(buffer.addr + MW), 0, 'nothing past the buffer')
  t.equal(h1.perf.view().counters.answered, 1 + 1 + 20, 'HOST1 answered the first request, the one after the writes and 20 pings')
  t.equal(h2.perf.view().counters.runs, 1)
  t.equal(h1.dev.dbRead() & (2 ** 29 | 2 ** 28), 0, 'perf bits are cleared once handled')
  const back = await h1.perf.run({ bytes: 0x1000, chunk: 0x1000, pings: 3 })
  t.match(back, { bytes: 0x1000, pings: 3 }, 'the other way too')
  t.equal(Buffer.from(h2.root.sysmem.read(buffer.addr, 0x1000)).equals(pattern.subarray(0, 0x1000)), true, 'into HOST2\'s buffer')
})

t.test('one run at a time; bad sizes are refused', async (t) => {
  const [h1, h2] = await hosts(t)
  await linkUp([h1, h2])
  const first = h2.perf.run({ bytes: MW, chunk: 0x1000, pings: 5 })
  await t.rejects(h2.perf.run({ pings: 1 }), { code: 'ERR_BUSY', message: /an ntb_perf run is going/ }, 'a second run while one goes: ERR_BUSY')
  t.match(await first, { bytes: MW, pings: 5 }, 'the first run completes')
  await t.rejects(h2.perf.run({ chunk: MW + 1 }), { code: 'ERR_OUT_OF_RANGE', message: /larger than the peer's memory window 1/ })
  await t.rejects(h2.perf.run({ pings: 0 }), { code: 'ERR_OUT_OF_RANGE' })
  t.match(await h2.perf.run({ bytes: 1, chunk: 1, pings: 1 }), { bytes: 1 }, 'runs go on after a refusal')
})

t.test('no responder on the peer, and no link, are errors', async (t) => {
  const [h1, h2] = await hosts(t, {}, 300)
  await linkUp([h1, h2])
  await h1.perf.stop()
  t.equal(h1.perf.state, 'stopped')
  await t.rejects(h2.perf.run({ bytes: 0x1000, pings: 1 }), { code: 'ERR_UNAVAILABLE', message: /the peer answered no ntb_perf request/ }, 'HOST1 answers nothing: 503-style, nothing written')
  t.equal(h2.perf.view().counters.failedRuns, 1)
  const down = once(h2.perf, 'state')
  await h2.dev.linkDisable()
  t.same(await down, ['down'], 'link down: perf is down')
  await t.rejects(h2.perf.run({}), { code: 'ERR_UNAVAILABLE', message: /link is down/ })
  // TEARDOWN_MW is a command: it completes a few turns later.
  for (let i = 0; i < 1000 && h2.dev.state().translations.length > 0; i++) await new Promise((resolve) => setImmediate(resolve))
  t.same(h2.dev.state().translations, [], 'and MW 1\'s translation is cleared')
})

t.test('a board without room for perf leaves it unavailable, with the reason', async (t) => {
  const [h1, h2] = await hosts(t, { dbCount: 8 })
  await linkUp([h1, h2], 'unavailable')
  t.match(h2.perf.view(), { state: 'unavailable', reason: /doorbell valid mask 0x7f leaves no two bits/ })
  await t.rejects(h2.perf.run({}), { code: 'ERR_UNAVAILABLE', message: /unavailable on this host: doorbell valid mask/ })
  t.same(h1.dev.state().translations, [], 'nothing translated')
})

t.test('a board with one memory window', async (t) => {
  const [h1, h2] = await hosts(t, { numMws: 1, mwSizes: [MW] })
  await linkUp([h1, h2], 'unavailable')
  t.match(h1.perf.view(), { state: 'unavailable', reason: /offers 1 memory window\(s\); ntb_perf needs MW 1/ })
})

/** Holds HOST1's answers while `hold` says so: each held ring waits in `held` until released. */
function holdAnswers (h: Host, hold: () => boolean): Array<() => void> {
  const held: Array<() => void> = []
  const ring = h.dev.peerDbSet.bind(h.dev)
  const answer = 2 ** h.perf.ownedBits!.answer
  h.dev.peerDbSet = (bits) => {
    if (bits === answer && hold()) held.push(() => { ring(bits) })
    else ring(bits)
  }
  return held
}

async function turns (n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

t.test('a late answer is dropped: the next run\'s ping waits for its own', async (t) => {
  const [h1, h2] = await hosts(t, {}, 300)
  await linkUp([h1, h2])
  // HOST1 answers the first request and the one after the writes, then holds the ping's answer past the timeout.
  let holding = 2
  const held = holdAnswers(h1, () => holding-- <= 0)
  await t.rejects(h2.perf.run({ bytes: 1, chunk: 1, pings: 1 }), { code: 'ERR_TIMEOUT', message: /ping 1 of 1 got no answer/ }, 'the ping times out')
  t.equal(held.length, 1, 'its answer is held')

  // The next run: HOST1 holds the answer to its first request too; the late one comes meanwhile.
  holding = 0
  let settled = false
  const next = h2.perf.run({ bytes: 1, chunk: 1, pings: 2 }).finally(() => { settled = true })
  held.shift()!()
  for (let i = 0; i < 1000 && held.length === 0; i++) await turns(1)
  t.equal(held.length, 1, 'the next run rang its first request, whose answer is held')
  await turns(50)
  t.equal(h1.perf.view().counters.answered, 3 + 1, 'HOST2 rang nothing after its first request: the late answer did not answer it')
  t.equal(settled, false, 'the run waits')
  t.equal(h2.perf.view().counters.lateAnswers, 1, 'it was counted late and dropped')
  t.equal(h2.perf.view().counters.strayAnswers, 0)
  holding = Infinity
  held.shift()!()
  t.match(await next, { bytes: 1, pings: 2 }, 'answered by its own answers, the run completes')
  t.equal(h2.perf.view().counters.failedRuns, 1)
})

t.test('an answer that never comes is taken as lost after one timeout: the next run works', async (t) => {
  const [h1, h2] = await hosts(t, {}, 200)
  await linkUp([h1, h2])
  let holding = 2
  const held = holdAnswers(h1, () => holding-- <= 0)
  await t.rejects(h2.perf.run({ bytes: 1, chunk: 1, pings: 1 }), { code: 'ERR_TIMEOUT' })
  holding = Infinity
  t.match(await h2.perf.run({ bytes: 1, chunk: 1, pings: 3 }), { bytes: 1, pings: 3 }, 'the next run waits out the owed answer, then runs')
  t.equal(held.length, 1, 'the held answer never came')
  t.match(h2.perf.view().counters, { lateAnswers: 0, strayAnswers: 0, runs: 2, failedRuns: 1 })
})
