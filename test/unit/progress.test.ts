// The progress line of long work (client/src/progress-format.ts and
// progress.ts): its text (counts, rates with units, time left) and that it
// is drawn in place on a terminal only, cleared at the end.

import t from 'tap'
import { BYTES, MESSAGES, fitWidth, formatCount, formatEta, formatRate, progressText, rateAndEta, scaled } from '../../client/src/progress-format.js'
import { Progress, type ProgressOut } from '../../client/src/progress.js'
import { until } from '../support/daemon.js'

t.test('numbers scale with SI prefixes to 3 significant digits', async (t) => {
  t.equal(scaled(0), '0')
  t.equal(scaled(0.5), '0.5')
  t.equal(scaled(7), '7')
  t.equal(scaled(950), '950')
  t.equal(scaled(999.6), '1.00k', 'rounds up into the next prefix, not to "1000"')
  t.equal(scaled(1234), '1.23k')
  t.equal(scaled(45_600), '45.6k')
  t.equal(scaled(123_456_789), '123M')
  t.equal(scaled(2.5e9), '2.50G')
  t.equal(scaled(Number.NaN), '-')
  t.equal(scaled(-1), '-')
})

t.test('rates and counts carry their units', async (t) => {
  t.equal(formatRate(3210, MESSAGES), '3.21k msg/s')
  t.equal(formatRate(45.6e6, BYTES), '45.6MB/s')
  t.equal(formatRate(0, MESSAGES), '0 msg/s')
  t.equal(formatRate(950, BYTES), '950B/s')
  t.equal(formatCount(12_345, MESSAGES), '12,345', 'counts are exact')
  t.equal(formatCount(16_777_216, BYTES), '16.8MB', 'bytes are scaled')
})

t.test('time left', async (t) => {
  t.equal(formatEta(null), '-')
  t.equal(formatEta(Infinity), '-')
  t.equal(formatEta(0), '0.0 s')
  t.equal(formatEta(2.74), '2.7 s')
  t.equal(formatEta(42.4), '42 s')
  t.equal(formatEta(185), '3m05s')
  t.equal(formatEta(7380), '2h03m')
})

t.test('rate and ETA from the average so far', async (t) => {
  t.same(rateAndEta({ label: 'x', done: 0, total: 10, seconds: 0, unit: MESSAGES }), { rate: null, eta: null }, 'unknown at the start')
  t.same(rateAndEta({ label: 'x', done: 0, total: 10, seconds: 1, unit: MESSAGES }), { rate: 0, eta: null }, 'nothing done: no ETA')
  t.same(rateAndEta({ label: 'x', done: 250, total: 1000, seconds: 0.5, unit: MESSAGES }), { rate: 500, eta: 1.5 })
  t.same(rateAndEta({ label: 'x', done: 12, total: 10, seconds: 1, unit: MESSAGES }), { rate: 12, eta: 0 }, 'past the total: no time left')
})

t.test('the line', async (t) => {
  t.equal(progressText({ label: 'rc -> ep messages', done: 1234, total: 10_000, seconds: 0.5, unit: MESSAGES }),
    'rc -> ep messages: 1,234/10,000 msg (12%), 2.47k msg/s, ETA 3.6 s')
  t.equal(progressText({ label: 'ntb perf writes', done: 4e6, total: 16e6, seconds: 0.1, unit: BYTES }),
    'ntb perf writes: 4.00MB/16.0MB (25%), 40.0MB/s, ETA 0.3 s')
  t.equal(progressText({ label: 'x', done: 0, total: 5, seconds: 0, unit: MESSAGES }), 'x: 0/5 msg (0%), -, ETA -')
  t.equal(fitWidth('abcdef', 4), 'abc', 'cut to one short of the width: the cursor stays on the line')
  t.equal(fitWidth('abc', 80), 'abc')
  t.equal(fitWidth('abc', undefined), 'abc', 'no width known: as it is')
})

function out (isTTY: boolean): ProgressOut & { written: string[] } {
  const written: string[] = []
  return { isTTY, columns: 200, written, write: (s: string) => { written.push(s); return true } }
}

t.test('on a terminal: redrawn in place, cleared at the end', async (t) => {
  const tty = out(true)
  const p = new Progress(tty)
  t.ok(p.shown)
  let n = 0
  p.begin('rc -> ep messages', 100, MESSAGES, () => (n = Math.min(100, n + 10)))
  await until('two progress lines', () => tty.written.filter((l) => l.startsWith('\r\x1b[Krc -> ep messages: ')).length >= 2 ? true : undefined)
  t.ok(tty.written[0]!.startsWith('\r\x1b[K'), 'drawn from the line\'s start, the line cleared')
  t.match(tty.written[0]!.slice(4), /^rc -> ep messages: \d+\/100 msg \(\d+%\), \S+ msg\/s, ETA \S+/)
  t.notOk(tty.written.some((l) => l.includes('\n')), 'no line ends: each draw replaces the one before')
  p.end()
  t.equal(tty.written.at(-1), '\r\x1b[K', 'cleared')
  const count = tty.written.length
  p.end()
  t.equal(tty.written.length, count, 'ending twice writes nothing more')
})

t.test('not a terminal: nothing at all', async (t) => {
  const pipe = out(false)
  const p = new Progress(pipe, { intervalMs: 1 })
  t.notOk(p.shown)
  p.begin('rc -> ep', 100, MESSAGES, () => 50)
  let polls = 0
  const r = await p.track(new Promise<string>((resolve) => { setTimeout(() => { resolve('done') }, 20) }), async () => { polls++; return null })
  p.end()
  t.equal(r, 'done', 'track gives the work\'s result')
  t.equal(polls, 0, 'and polls nothing')
  t.same(pipe.written, [])
})

t.test('track: polled steps draw the line; a new label starts a new line; ended with the work', async (t) => {
  const tty = out(true)
  const p = new Progress(tty, { intervalMs: 5 })
  let finish!: (v: number) => void
  const work = new Promise<number>((resolve) => { finish = resolve })
  let polls = 0
  let second = false
  const tracked = p.track(work, async () => {
    polls++
    if (polls === 1) throw new Error('a poll that fails keeps the line as it was')
    return second ? { label: 'round trips', total: 10, unit: MESSAGES, done: 3 } : { label: 'writes', total: 1000, unit: BYTES, done: 200 }
  }, 1)
  await until('the first phase drawn', () => tty.written.some((l) => l.includes('writes: 200B/1.00kB (20%)')) ? true : undefined)
  second = true
  await until('the second phase drawn', () => tty.written.some((l) => l.includes('round trips: 3/10 msg (30%)')) ? true : undefined)
  finish(7)
  t.equal(await tracked, 7)
  t.equal(tty.written.at(-1), '\r\x1b[K', 'cleared when the work ends')
})

t.test('track: the work failing ends the line and passes the failure on', async (t) => {
  const tty = out(true)
  const p = new Progress(tty, { intervalMs: 1 })
  await t.rejects(p.track(Promise.reject(new Error('run failed')), async () => ({ label: 'x', total: 1, unit: MESSAGES, done: 0 })), /run failed/)
})
