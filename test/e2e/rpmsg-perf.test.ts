// soclink rpmsg perf between a real rc and ep daemon process, as a user
// runs it: small counts, the table and the JSON document with every field,
// exit status 0 when every message arrived, and a stderr that stays quiet
// when it is not a terminal (no progress line). Usage errors exit 2.

import t from 'tap'
import { cli } from '../support/daemon.js'
import { startRpmsgPair } from '../support/rpmsg-daemons.js'
import { rpmsgBus } from '../support/rpmsg-procs.js'

interface Flow { from: string, to: string, messages: number, seconds: number, msgPerSec: number, mbPerSec: number, received: number, lost: number, duplicated: number, reordered: number, corrupt: number }

t.test('soclink rpmsg perf: rc and ep measured both ways, every message checked', async (t) => {
  const { rc, ep, stop } = await startRpmsgPair()
  t.teardown(stop)
  await rpmsgBus(rc)
  await rpmsgBus(ep)

  const json = await cli(rc.api, '--json', 'rpmsg', 'perf', '--peer-api', ep.api, '--count', '200', '--rounds', '10', '--endpoints', '2')
  t.equal(json.code, 0, `exit 0 (stderr: ${json.stderr})`)
  t.equal(json.stderr, '', 'no progress line when stderr is not a terminal')
  const r = JSON.parse(json.stdout) as { a: string, b: string, size: number, endpoints: number, count: number, oneWay: Flow[], bothWays: Flow[], rtt: { rounds: number, replies: number, p50Ms: number, p99Ms: number } }
  t.same([r.a, r.b, r.endpoints, r.count], ['rc', 'ep', 2, 200])
  t.equal(r.size, 496, 'the bus\'s largest payload by default')
  t.same(r.oneWay.map((f) => [f.from, f.to]), [['rc', 'ep'], ['ep', 'rc']], 'one way each direction')
  t.same(r.bothWays.map((f) => [f.from, f.to]), [['rc', 'ep'], ['ep', 'rc']], 'both at once')
  for (const f of [...r.oneWay, ...r.bothWays]) {
    t.same([f.messages, f.received, f.lost, f.duplicated, f.corrupt], [400, 400, 0, 0, 0], `${f.from} -> ${f.to}: all 400 arrived once, intact`)
    t.ok(f.msgPerSec > 0 && f.mbPerSec > 0 && f.seconds > 0, 'a rate')
  }
  t.same([r.rtt.rounds, r.rtt.replies], [20, 20], 'every round trip answered')
  t.ok(r.rtt.p50Ms > 0 && r.rtt.p99Ms >= r.rtt.p50Ms, 'p50 and p99')

  const text = await cli(ep.api, 'rpmsg', 'perf', '--peer-api', rc.api, '--count', '100', '--rounds', '5', '--size', '64')
  t.equal(text.code, 0, `exit 0 (stderr: ${text.stderr})`)
  t.match(text.stdout, /^rpmsg perf ep <-> rc: 64-byte payloads, 1 endpoint pair, 100 messages per pair and direction\n/, 'the heading')
  t.match(text.stdout, /RUN\s+FROM\s+TO\s+MESSAGES\s+TIME S\s+MSG\/S\s+MB\/S\s+LOST\s+DUP\s+REORDERED\s+CORRUPT/, 'the columns')
  t.match(text.stdout, /one-way\s+ep\s+rc\s+100 /, 'a row per run')
  t.match(text.stdout, /round trip ep -> rc -> ep: 5\/5 answered, p50 [\d.]+ ms, p99 [\d.]+ ms/, 'the round trips')

  const big = await cli(rc.api, 'rpmsg', 'perf', '--peer-api', ep.api, '--size', '497')
  t.equal(big.code, 1, 'a size over the bus\'s max payload fails')
  t.match(big.stderr, /ERR_RPMSG_SIZE/)
  const usage = await cli(rc.api, 'rpmsg', 'perf', '--peer-api', ep.api, '--size', '4')
  t.equal(usage.code, 2, 'a size with no room for the sequence number is a usage error')
})
