// Applications on both sides of a real rc and ep daemon process, through the
// client library (RpmsgClient over each daemon's ws /v1/rpmsg): the name
// service as the far side's applications see it, 10,000 messages each way
// with every one checked, and a payload one byte over the limit refused
// without harming the connection.

import t from 'tap'
import { ControlClient, RpmsgClient, RPMSG_ADDR_ANY, type RpmsgChannelEvent, type RpmsgEndpoint } from '../../client/src/index.js'
import { until, within } from '../support/daemon.js'
import { startRpmsgPair } from '../support/rpmsg-daemons.js'

const N = 10_000

const pair = await startRpmsgPair()
const clients: RpmsgClient[] = []
t.teardown(async () => {
  for (const c of clients) await c.close()
  await pair.stop()
})
const rcApi = new ControlClient(pair.rc.api)
const epApi = new ControlClient(pair.ep.api)

async function connect (api: string): Promise<RpmsgClient> {
  const c = await RpmsgClient.connect(api)
  clients.push(c)
  return c
}

/** The next channel event on `client` for `name`, created or destroyed. */
async function channelEvent (client: RpmsgClient, name: string, created: boolean): Promise<RpmsgChannelEvent> {
  return await within(new Promise<RpmsgChannelEvent>((resolve) => {
    const on = (ev: RpmsgChannelEvent): void => {
      if (ev.name === name && ev.created === created) { client.off('channel', on); resolve(ev) }
    }
    client.on('channel', on)
  }), `channel ${name} ${created ? 'created' : 'destroyed'}`)
}

const rcChannels = async (): Promise<string[]> => (await rcApi.rpmsgChannels()).map((c) => c.name)
const epAddrs = async (): Promise<number[]> => (await epApi.rpmsgEndpoints()).endpoints.map((e) => e.addr)

t.test('name service: applications on the rc see the channels an ep application creates and destroys', async (t) => {
  const rcApp = await connect(pair.rc.api)
  const rcApp2 = await connect(pair.rc.api)
  const epApp = await connect(pair.ep.api)

  const created = channelEvent(rcApp, 'ns-destroy', true)
  const created2 = channelEvent(rcApp2, 'ns-destroy', true)
  const ept = await epApp.createEndpoint({ name: 'ns-destroy', announce: true })
  const ev = await created
  t.equal(ev.dst, ept.addr, 'the rc learns the ep endpoint\'s address from NS CREATE')
  t.same(await created2, ev, 'every rc application hears it')
  t.equal(ev.src, RPMSG_ADDR_ANY, 'unbound until claimed (rpmsgBind kernel)')
  const claimed = await rcApp2.claimChannel('ns-destroy')
  t.equal(await within(ept.whenBound(), 'bound'), claimed.addr, 'once claimed, the address service binds the ep endpoint to the rc\'s channel address')
  t.same((await rcApi.rpmsgChannels()).find((c) => c.name === 'ns-destroy'), { name: 'ns-destroy', src: claimed.addr, dst: ept.addr, side: 'virtio', device: 'virtio0', driver: 'soclink_gateway' },
    'GET /v1/rpmsg/channels on the rc lists it')

  const destroyed = channelEvent(rcApp, 'ns-destroy', false)
  const destroyed2 = channelEvent(rcApp2, 'ns-destroy', false)
  ept.destroy()
  t.match(await destroyed, { name: 'ns-destroy', src: claimed.addr, created: false }, 'destroy() is NS DESTROY: the rc application hears it')
  t.match(await destroyed2, { name: 'ns-destroy', created: false }, 'and so does the other')
  t.notOk(rcApp.channels.has('ns-destroy'), 'the client forgets the channel')
  await until('the rc forgets the channel', async () => (await rcChannels()).includes('ns-destroy') ? undefined : true)

  // An application that goes away without destroying its endpoint.
  const quitter = await connect(pair.ep.api)
  const up = channelEvent(rcApp, 'ns-disconnect', true)
  const gone = await quitter.createEndpoint({ name: 'ns-disconnect', announce: true })
  t.equal((await up).dst, gone.addr, 'announced')
  t.ok((await epAddrs()).includes(gone.addr), 'the ep lists the endpoint while its application is connected')
  const down = channelEvent(rcApp, 'ns-disconnect', false)
  await quitter.close()
  t.match(await down, { name: 'ns-disconnect', created: false }, 'the rc application hears NS DESTROY when the ep application disconnects')
  await until('the ep endpoint is gone', async () => (await epAddrs()).includes(gone.addr) ? undefined : true)
  t.notOk((await rcChannels()).includes('ns-disconnect'), 'the rc no longer lists the channel')

  await rcApp.close(); await rcApp2.close(); await epApp.close()
})

/** Message `seq` of direction `dir`: seq and dir (u32 LE), then bytes from both; 8 bytes up to `max`, every 1000th exactly `max`. */
function message (dir: number, seq: number, max: number): Uint8Array {
  const size = seq % 1000 === 999 ? max : 8 + (seq * 37) % (max - 7)
  const out = Buffer.alloc(size)
  out.writeUInt32LE(seq, 0)
  out.writeUInt32LE(dir, 4)
  for (let k = 8; k < size; k++) out[k] = (seq * 13 + k * 7 + dir) & 0xff
  return out
}

/**
 * Takes `count` messages and checks each against message(dir, i): the first
 * few problems (a gap is a loss, a step back a duplicate or reordering).
 */
async function receive (ept: RpmsgEndpoint, count: number, dir: number, from: number): Promise<{ problems: string[], maxSized: number }> {
  const problems: string[] = []
  let next = 0
  let maxSized = 0
  for await (const m of ept) {
    const payload = Buffer.from(m.payload)
    const seq = payload.length >= 8 ? payload.readUInt32LE(0) : -1
    if (m.src !== from) problems.push(`message ${next}: from ${m.src}, not ${from}`)
    if (seq !== next) problems.push(`expected seq ${next}, got ${seq}`)
    else if (!payload.equals(message(dir, seq, ept.maxPayload))) problems.push(`seq ${seq}: wrong bytes`)
    if (payload.length === ept.maxPayload) maxSized++
    next++
    if (problems.length > 5 || next === count) break
  }
  return { problems, maxSized }
}

t.test(`an ep application (announced) and an rc application: ${N} messages each way, none lost, duplicated or reordered`, async (t) => {
  const rcApp = await connect(pair.rc.api)
  const epApp = await connect(pair.ep.api)
  const announced = channelEvent(rcApp, 'apps-sink', true)
  const epEpt = await epApp.createEndpoint({ name: 'apps-sink', announce: true })
  const rcEpt = await rcApp.createEndpoint({ name: 'apps-sender' })
  const dst = (await announced).dst
  t.equal(dst, epEpt.addr, 'the rc application finds the ep endpoint by name service')
  t.equal(rcEpt.maxPayload, 496, 'a 512-byte buffer carries 496 bytes of payload')
  t.equal(epEpt.maxPayload, rcEpt.maxPayload, 'both sides agree')

  // The ep application learns the rc application's address from the first message's source.
  await rcEpt.send(dst, Buffer.from('hello'))
  const hello = (await within(epEpt[Symbol.asyncIterator]().next(), 'hello')).value!
  t.equal(Buffer.from(hello.payload).toString(), 'hello')
  t.equal(hello.src, rcEpt.addr, 'the source of a message is the sender\'s address')

  const sendAll = async (ept: RpmsgEndpoint, to: number, dir: number): Promise<void> => {
    for (let i = 0; i < N; i++) await ept.send(to, message(dir, i, ept.maxPayload))
  }
  const [, , up, down] = await within(Promise.all([
    sendAll(rcEpt, dst, 1), sendAll(epEpt, rcEpt.addr, 2), receive(epEpt, N, 1, rcEpt.addr), receive(rcEpt, N, 2, epEpt.addr)
  ]), `${N} messages each way`, 240_000)
  t.same(up.problems, [], `rc -> ep: ${N} messages in order, each once, bytes intact`)
  t.same(down.problems, [], `ep -> rc: ${N} messages in order, each once, bytes intact`)
  const maxSized = Array.from({ length: N }, (_, i) => message(0, i, rcEpt.maxPayload).length).filter((n) => n === rcEpt.maxPayload).length
  t.ok(maxSized >= N / 1000, `${maxSized} of the messages are maxPayload bytes`)
  t.equal(up.maxSized, maxSized, 'rc -> ep carried every maxPayload-sized message')
  t.equal(down.maxSized, maxSized, 'ep -> rc carried every maxPayload-sized message')

  // Nothing was duplicated behind the last message: the next one is a marker.
  await rcEpt.send(dst, Buffer.from('end'))
  await epEpt.send(rcEpt.addr, Buffer.from('end'))
  t.equal(Buffer.from((await within(epEpt[Symbol.asyncIterator]().next(), 'end marker on the ep')).value!.payload).toString(), 'end', 'the ep\'s next message is the marker')
  t.equal(Buffer.from((await within(rcEpt[Symbol.asyncIterator]().next(), 'end marker on the rc')).value!.payload).toString(), 'end', 'the rc\'s next message is the marker')
  await rcApp.close(); await epApp.close()
})

t.test('a payload of maxPayload + 1 bytes is refused with ERR_RPMSG_SIZE; the connection keeps working', async (t) => {
  const rcApp = await connect(pair.rc.api)
  const epApp = await connect(pair.ep.api)
  const announced = channelEvent(rcApp, 'apps-size', true)
  const epEpt = await epApp.createEndpoint({ name: 'apps-size', announce: true })
  const rcEpt = await rcApp.createEndpoint()
  const dst = (await announced).dst
  const max = rcEpt.maxPayload

  const refused = await rcEpt.send(dst, new Uint8Array(max + 1)).then(() => null, (err: unknown) => err)
  t.match(refused, { name: 'ApiError', code: 'ERR_RPMSG_SIZE' }, 'send rejects')
  t.match((refused as Error).message, new RegExp(`${max + 1} bytes.*\\b${max}\\b`), 'the message names the size and the limit')
  await t.rejects(epEpt.trySend(rcEpt.addr, new Uint8Array(max + 1)), { code: 'ERR_RPMSG_SIZE' }, 'trySend too, on the ep')

  await rcEpt.send(dst, Buffer.from('still here'))
  const got = (await within(epEpt[Symbol.asyncIterator]().next(), 'a message after the refusal')).value!
  t.equal(Buffer.from(got.payload).toString(), 'still here', 'the rc connection still sends')
  await epEpt.send(got.src, new Uint8Array(max))
  const back = (await within(rcEpt[Symbol.asyncIterator]().next(), 'the reply')).value!
  t.equal(back.payload.length, max, 'and the ep connection still sends, maxPayload bytes exactly')
  await rcApp.close(); await epApp.close()
})
