// The rpmsg client sample (samples/rpmsg/rpmsg_client_sample.c) over the
// in-memory virtio+vhost pair: with the driver on both sides each sends
// "hello world!" once and answers until it has received 100; the vhost side
// waits for the address service before its first send; a sample facing a
// talkative peer stops answering at 100 and says goodbye to every message
// after. "No more messages" is checked against a barrier: a new channel
// whose NS and AS cross the same queues after anything the samples sent.

import t from 'tap'
import { capturingLogger, settle, tablePair, type TablePair } from '../support/rpmsg-tables.js'
import { MSG_LIMIT, RpmsgClientSample, SAMPLE_ID, SAMPLE_MSG } from '../../daemon/src/rpmsg/sample.js'
import type { VirtioRpmsgBus } from '../../daemon/src/rpmsg/virtio-rpmsg.js'
import type { RpmsgChannel } from '../../daemon/src/rpmsg/core.js'
import { RPMSG_ADDR_ANY } from '../../daemon/src/rpmsg/wire.js'

/** The virtio side's channel `name` once announced, claimed by a test driver (rpmsgBind kernel binds it only then: AS ASSIGN). */
async function claimed (virtio: VirtioRpmsgBus, name: string): Promise<RpmsgChannel> {
  await settle(`channel ${name} on the virtio side`, () => virtio.channel(name) !== undefined)
  const ch = virtio.channel(name)!
  virtio.claimChannel(ch, 'rpmsg_test_driver')
  return ch
}

/** Resolves once a fresh channel has crossed both ways (NS to the virtio side, claimed there, AS back). */
async function barrier (p: TablePair, virtio: VirtioRpmsgBus, name: string): Promise<void> {
  const ch = p.vhost.createChannel(name)
  await claimed(virtio, name)
  await settle(`barrier ${name}`, () => ch.dst !== RPMSG_ADDR_ANY)
}

t.test('on both sides: 100 messages each way, then silence', async (t) => {
  const p = await tablePair()
  const epLog = capturingLogger()
  const rcLog = capturingLogger()
  const epSample = new RpmsgClientSample(epLog.logger)
  const rcSample = new RpmsgClientSample(rcLog.logger)
  p.ep.register(epSample)
  p.rc.register(rcSample)
  p.ep.makeItem(SAMPLE_ID, 'c1')
  const ch = p.ep.link('vhost0', SAMPLE_ID, 'c1')

  t.match(epSample.views(), [{ side: 'vhost', device: 'vhost0', channel: SAMPLE_ID, src: ch.src, dst: null, rx: 0, tx: 0, done: false }],
    'probed at once, waiting for its remote address')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(epSample.views()[0]!.tx, 0, 'nothing sent while the virtio side is not there')

  const virtio = await p.connect()
  await settle('both samples done', () => [...epSample.views(), ...rcSample.views()].every((v) => v.done) && rcSample.views().length === 1)
  const rcCh = virtio.channel(SAMPLE_ID)!
  t.same(epSample.views(), [{ side: 'vhost', device: 'vhost0', channel: SAMPLE_ID, src: ch.src, dst: rcCh.src, rx: 100, tx: 100, done: true, failed: 0, lastError: null }])
  t.same(rcSample.views(), [{ side: 'virtio', device: 'virtio0', channel: SAMPLE_ID, src: rcCh.src, dst: ch.src, rx: 100, tx: 100, done: true, failed: 0, lastError: null }],
    'the first hello left after AS ASSIGN: the vhost side never answered without an address')

  const sent = { ep: p.vhost.counters.sent, rc: virtio.counters.sent }
  await barrier(p, virtio, 'barrier')
  t.same(epSample.views().map((v) => [v.rx, v.tx]), [[100, 100]], 'the counters stay put')
  t.same(rcSample.views().map((v) => [v.rx, v.tx]), [[100, 100]])
  t.same({ ep: p.vhost.counters.sent, rc: virtio.counters.sent }, { ep: sent.ep + 1, rc: sent.rc + 1 }, 'only the barrier\'s NS and AS crossed')

  for (const [side, lines, remote] of [['ep', epLog.lines, rcCh.src], ['rc', rcLog.lines, ch.src]] as const) {
    const incoming = lines.filter((l) => l.msg.startsWith('incoming msg'))
    t.equal(incoming.length, MSG_LIMIT, `${side}: one log line per message`)
    t.same(incoming.map((l) => l.msg), Array.from({ length: MSG_LIMIT }, (_x, i) => `incoming msg ${i + 1} (src: 0x${remote.toString(16)})`), `${side}: numbered, with the sender`)
    t.equal(lines.filter((l) => l.msg === 'goodbye!').length, 1, `${side}: goodbye! once`)
    t.match(lines[0], { msg: /^new channel: 0x[0-9a-f]+ -> 0x[0-9a-f]+!$/, channel: SAMPLE_ID }, `${side}: the probe is logged first`)
  }

  p.ep.unlink('vhost0', SAMPLE_ID, 'c1')
  t.same(epSample.views(), [], 'unlink removes the driver from the channel')
  await settle('NS DESTROY', () => rcSample.views().length === 0)
  t.ok(rcLog.lines.some((l) => l.msg === 'rpmsg sample client driver is removed'))
})

t.test('facing a peer that keeps talking: answers 99, then goodbye to every message', async (t) => {
  const p = await tablePair()
  const log = capturingLogger()
  const sample = new RpmsgClientSample(log.logger)
  p.ep.register(sample)
  p.ep.makeItem(SAMPLE_ID, 'c1')
  p.ep.link('vhost0', SAMPLE_ID, 'c1')
  const virtio = await p.connect()
  const peer = await claimed(virtio, SAMPLE_ID)
  const heard: string[] = []
  peer.on('message', (payload) => { heard.push(Buffer.from(payload).toString()) })
  await settle('hello from the sample', () => heard.length === 1)
  t.same(heard, [SAMPLE_MSG], 'the first message, once the address service bound the channel')

  const N = 150
  for (let i = 0; i < N; i++) await peer.send(new TextEncoder().encode(`msg ${i}`))
  await settle('all received', () => sample.views()[0]!.rx === N)
  await barrier(p, virtio, 'barrier')
  t.equal(heard.length, MSG_LIMIT, 'hello plus 99 answers, nothing after the 100th message')
  t.ok(heard.every((m) => m === SAMPLE_MSG))
  t.match(sample.views()[0], { rx: N, tx: MSG_LIMIT, done: true, failed: 0 })
  t.equal(log.lines.filter((l) => l.msg === 'goodbye!').length, N - MSG_LIMIT + 1, 'goodbye! for the 100th and every later message')
})

t.test('a send that fails is counted and logged, and ends nothing', async (t) => {
  const p = await tablePair()
  const log = capturingLogger()
  const sample = new RpmsgClientSample(log.logger)
  p.ep.register(sample)
  const ch = p.vhost.createChannel(SAMPLE_ID)
  // A message before the address service has bound the channel: the answer has nowhere to go.
  ch.emit('message', new Uint8Array(1), 0x500)
  await settle('the send failed', () => sample.views()[0]!.failed === 1)
  t.match(sample.views()[0], { rx: 1, tx: 0, done: false, failed: 1, lastError: /no remote address/ })
  t.ok(log.lines.some((l) => l.msg === 'rpmsg_send failed'))
  t.ok(log.lines.some((l) => l.msg === 'incoming msg 1 (src: 0x500)'))
  const virtio = await p.connect()
  await claimed(virtio, SAMPLE_ID)
  await settle('the hello once bound', () => sample.views()[0]!.tx === 1)
  t.equal(virtio.channel(SAMPLE_ID)?.dst, ch.src)
})
