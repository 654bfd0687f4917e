// Sends waiting for an rpmsg buffer are fair between their queues
// (daemon/src/rpmsg/core.ts): FIFO within a queue (one gateway connection),
// round-robin between queues, so a queue with a long backlog delays
// another's send by one buffer, not by its whole backlog. A bus whose
// buffers the test hands back one by one.

import t from 'tap'
import { RpmsgBusCore } from '../../daemon/src/rpmsg/core.js'
import { RPMSG_ADDR_ANY } from '../../daemon/src/rpmsg/wire.js'

class HandBus extends RpmsgBusCore {
  free = 0
  /** src of each message posted, in order. */
  readonly posted: number[] = []
  protected post (header: Uint8Array): boolean {
    if (this.free === 0) return false
    this.free--
    this.posted.push(Buffer.from(header).readUInt32LE(0))
    return true
  }

  protected arm (): boolean { return true }
  protected disarm (): void {}
  /** n buffers come back. */
  giveBack (n: number): void {
    this.free += n
    this.pump()
  }
}

const nop = (): void => {}
const byte = Uint8Array.of(1)

t.test('a flood in one queue delays another queue\'s send by one buffer', async (t) => {
  const bus = new HandBus()
  const flood = bus.createEndpoint(RPMSG_ADDR_ANY, nop).addr
  const quiet = bus.createEndpoint(RPMSG_ADDR_ANY, nop).addr
  const floodQueue = {}
  const quietQueue = {}
  const sends: Array<Promise<void>> = []
  for (let i = 0; i < 100; i++) sends.push(bus.send(flood, 77, byte, { timeoutMs: 60_000, queue: floodQueue }))
  bus.giveBack(1)
  sends.push(bus.send(quiet, 77, byte, { timeoutMs: 60_000, queue: quietQueue }))
  t.equal(bus.waiting, 100, 'one flood send went out; 99 of it and the quiet one wait')
  bus.giveBack(2)
  t.same(bus.posted, [flood, flood, quiet], 'the quiet queue\'s send goes with the next buffers, not after the flood\'s 99')
  bus.giveBack(200)
  await Promise.all(sends)
  t.equal(bus.posted.filter((s) => s === flood).length, 100, 'the flood goes out whole')
  t.equal(bus.waiting, 0)
})

t.test('within a queue, order holds; queues take turns', async (t) => {
  const bus = new HandBus()
  const a = bus.createEndpoint(RPMSG_ADDR_ANY, nop).addr
  const b = bus.createEndpoint(RPMSG_ADDR_ANY, nop).addr
  const c = bus.createEndpoint(RPMSG_ADDR_ANY, nop).addr
  const qa = {}
  const qbc = {}
  const order: string[] = []
  const all = [
    ...[1, 2, 3].map((i) => bus.send(a, 9, byte, { timeoutMs: 60_000, queue: qa }).then(() => order.push(`a${i}`))),
    bus.send(b, 9, byte, { timeoutMs: 60_000, queue: qbc }).then(() => order.push('b1')),
    bus.send(c, 9, byte, { timeoutMs: 60_000, queue: qbc }).then(() => order.push('c1')),
    bus.send(b, 9, byte, { timeoutMs: 60_000, queue: qbc }).then(() => order.push('b2'))
  ]
  bus.giveBack(6)
  await Promise.all(all)
  t.same(order, ['a1', 'b1', 'a2', 'c1', 'a3', 'b2'])
  t.throws(() => { bus.trySend(a, 9, byte) }, { code: 'ERR_RPMSG_NO_BUFFER' }, 'no buffer left')
})

t.test('a timed-out or destroyed sender leaves the other queues as they were', async (t) => {
  const bus = new HandBus()
  const a = bus.createEndpoint(RPMSG_ADDR_ANY, nop)
  const b = bus.createEndpoint(RPMSG_ADDR_ANY, nop).addr
  const qa = {}
  const qb = {}
  const late = bus.send(a.addr, 9, byte, { timeoutMs: 1, queue: qa })
  const gone = bus.send(a.addr, 9, byte, { timeoutMs: 60_000, queue: qa })
  const kept = bus.send(b, 9, byte, { timeoutMs: 60_000, queue: qb })
  await t.rejects(late, { code: 'ERR_RPMSG_TIMEOUT' })
  t.ok(bus.destroyEndpoint(a))
  await t.rejects(gone, { code: 'ERR_RPMSG_DESTROYED' })
  t.equal(bus.waiting, 1)
  bus.giveBack(1)
  await kept
  t.same(bus.posted, [b])
  t.equal(bus.counters.timeouts, 1)
})
