// Windows as synced replicas of a peer's region (DESIGN.md, Memory model):
// the owner orders every write and streams it to subscribed windows; a
// window's own writes apply locally at once and are ordered by the owner;
// all replicas converge to the owner's bytes. Nodes are linked in memory
// (test/support/loop-link.ts): ordered, asynchronous, no sockets.

import t, { type Test } from 'tap'
import { wire } from '../../daemon/src/link/codec.js'
import { MemNode, connect } from '../support/mem-node.js'
import { RecordingSender, mulberry32, nextTurn, settle, type LoopEnd } from '../support/loop-link.js'
import { PAGE_SIZE } from '../../daemon/src/mem/paged-memory.js'
import type { Window } from '../../daemon/src/mem/window.js'
import type { MemoryAccess } from '../../daemon/src/mem/access.js'
import { OutOfRangeError, UnsupportedRequestError } from '../../daemon/src/errors.js'

const SIZE = 64 * 1024
const Status = wire.Status

/** Owner `o` with region 'mem' (64 KiB) and requesters w1, w2 linked to it. */
function topology (perTurn?: () => number, combining = true): { o: MemNode, w1: MemNode, w2: MemNode, ends: LoopEnd[] } {
  const o = new MemNode('o')
  const w1 = new MemNode('w1')
  const w2 = new MemNode('w2')
  o.regions.create('mem', SIZE)
  const opts = perTurn === undefined ? { combining } : { perTurn, combining }
  const ends = [...connect(o, w1, opts), ...connect(o, w2, opts)]
  return { o, w1, w2, ends }
}

/** Asserts no handler threw and every frame found a taker. */
function linksClean (t: Test, ends: LoopEnd[]): void {
  for (const e of ends) {
    t.same(e.errors, [], `no handler errors at the end named ${e.name}`)
    t.same(e.unhandled, [], `no unhandled frames at the end named ${e.name}`)
  }
}

/** The first offset where two memories differ over [0, size), or -1. */
function firstDifference (a: MemoryAccess, b: MemoryAccess, size: number): number {
  const x = Buffer.from(a.read(0, size))
  const y = Buffer.from(b.read(0, size))
  if (x.equals(y)) return -1
  for (let i = 0; i < size; i++) if (x[i] !== y[i]) return i
  return -1
}

function convergence (seed: number, combining: boolean): void {
  t.test(`random interleaved writes from the owner and two replicas converge (seed ${seed}, ${combining ? 'combining' : 'one frame a write'})`, async (t) => {
    const rng = mulberry32(seed)
    const { o, w1, w2, ends } = topology(() => 1 + Math.floor(rng() * 6), combining)
    const region = o.regions.get('mem')
    const win1 = w1.requester.open({ peer: 'o', region: 'mem', offset: 0, size: SIZE, replica: true })
    const win2 = w2.requester.open({ peer: 'o', region: 'mem', offset: 0, size: SIZE, replica: true })
    await Promise.all([w1.requester.opened(win1), w2.requester.opened(win2)])
    t.equal(win1.state, 'open')
    t.equal(win2.state, 'open')

    // Count Updates that land on a replica while it has own writes the owner
    // has not ordered yet: the case where replicas could diverge.
    let contested = 0
    for (const w of [win1, win2]) {
      const apply = w.applyUpdateRanges.bind(w)
      w.applyUpdateRanges = (ranges, bulk) => { if (w.unordered > 0) contested++; apply(ranges, bulk) }
    }

    const writers: MemoryAccess[] = [region, win1, win2]
    const HOT = 512
    let notVisible = 0
    for (let k = 0; k < 2000; k++) {
      const len = 1 + Math.floor(rng() * 64)
      const offset = rng() < 0.9 ? Math.floor(rng() * (HOT - len)) : Math.floor(rng() * (SIZE - len + 1))
      const bytes = new Uint8Array(len)
      for (let i = 0; i < len; i++) bytes[i] = Math.floor(rng() * 256)
      const who = writers[Math.floor(rng() * 3)]!
      who.write(offset, bytes)
      // The writer sees its own write at once.
      if (!Buffer.from(who.read(offset, len)).equals(bytes)) notVisible++
      if (rng() < 0.3) await nextTurn()
    }
    await settle(ends)

    t.equal(notVisible, 0, 'every writer read its own write back at once')
    t.equal(win1.unordered, 0, 'w1: all own writes ordered')
    t.equal(win2.unordered, 0, 'w2: all own writes ordered')
    if (combining) t.ok(region.writes > 0 && region.writes < 2000, `the windows' writes of one turn were applied as one (${region.writes} writes applied for 2000 made)`)
    else t.equal(region.writes, 2000, 'the owner applied every write once')
    t.ok(contested > 10, `updates raced with unordered own writes (${contested} times)`)
    t.equal(firstDifference(region, win1, SIZE), -1, 'w1 replica equals the owner\'s bytes')
    t.equal(firstDifference(region, win2, SIZE), -1, 'w2 replica equals the owner\'s bytes')
    t.ok(Buffer.from(region.read(0, HOT)).some((b) => b !== 0), 'the hot range holds data')
    linksClean(t, ends)
  })
}
for (const seed of [1, 0xdecaf, 20240611]) for (const combining of [true, false]) convergence(seed, combining)

t.test('a window on part of a region sees only its range, at window-relative offsets', async (t) => {
  const { o, w1, ends } = topology()
  const region = o.regions.get('mem')
  const win = w1.requester.open({ peer: 'o', region: 'mem', offset: 4096, size: 4096, replica: true })
  await w1.requester.opened(win)
  t.equal(win.size, 4096)

  region.write(4090, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)) // straddles the window's start
  region.write(8190, Uint8Array.of(0xa1, 0xa2, 0xa3, 0xa4)) // straddles its end
  region.write(0, new Uint8Array(100).fill(0xee)) // outside
  region.write(9000, new Uint8Array(100).fill(0xee)) // outside
  region.write(4096 + 100, Uint8Array.of(0x55))
  await settle(ends)
  t.equal(win.counters.updates, 1, 'the writes of one turn that touch the window arrive as one Update')
  t.same([...win.read(0, 4)], [7, 8, 9, 10])
  t.same([...win.read(4094, 2)], [0xa1, 0xa2])
  t.equal(win.read8(100), 0x55)
  t.equal(win.read8(4), 0)

  win.write(10, Uint8Array.of(0xc1, 0xc2))
  win.write32(4092, 0xd4d3d2d1)
  await settle(ends)
  t.same([...region.read(4106, 2)], [0xc1, 0xc2], 'window offset 10 is region offset 4106')
  t.same([...region.read(8188, 4)], [0xd1, 0xd2, 0xd3, 0xd4])
  t.ok(Buffer.from(region.read(4096, 4096)).equals(win.read(0, 4096)), 'the replica equals the region\'s range')
  t.throws(() => { win.write(4095, Uint8Array.of(1, 2)) }, { code: 'ERR_OUT_OF_RANGE' }, 'the window is 4096 bytes')
  linksClean(t, ends)
})

t.test('the snapshot of the owner\'s bytes arrives before the window opens', async (t) => {
  const { o, w1, ends } = topology()
  const region = o.regions.get('mem')
  region.write32(100, 0x01020304)
  region.write(9 * PAGE_SIZE + 5, Uint8Array.of(9, 9, 9))
  region.write8(SIZE - 1, 0x7f)
  let atOpen: Buffer | null = null
  let pagesAtOpen = -1
  let win: Window | null = null
  w1.requester.on('window', (w) => {
    if (w === win && w.state === 'open') { atOpen = Buffer.from(w.read(0, SIZE)); pagesAtOpen = w.populatedPages }
  })
  win = w1.requester.open({ peer: 'o', region: 1, offset: 0, size: SIZE, replica: true })
  t.equal(win.state, 'opening')
  await w1.requester.opened(win)
  t.ok(atOpen !== null, 'saw the window open')
  const snap = atOpen as unknown as Buffer
  t.equal(snap.readUInt32LE(100), 0x01020304)
  t.same([...snap.subarray(9 * PAGE_SIZE + 5, 9 * PAGE_SIZE + 8)], [9, 9, 9])
  t.equal(snap[SIZE - 1], 0x7f)
  t.equal(snap.equals(Buffer.from(region.read(0, SIZE))), true, 'the whole replica equals the owner at open')
  t.equal(pagesAtOpen, 3, 'only populated pages were sent')
  t.equal(win.regionName, 'mem', 'opened by id, told the name')
  t.equal(win.regionId, 1)
  await settle(ends)
  linksClean(t, ends)
})

t.test('a window on a missing region fails (Unsupported Request)', async (t) => {
  const { o, w1, ends } = topology()
  const win = w1.requester.open({ peer: 'o', region: 'nope', offset: 0, size: 4096, replica: true })
  await t.rejects(w1.requester.opened(win), UnsupportedRequestError)
  t.equal(win.state, 'failed')
  t.equal(win.refusal, Status.STATUS_UNSUPPORTED_REQUEST)
  t.match(win.lastError, /nope/)
  t.equal(o.completer.counters.unsupportedRequests, 1)
  const byId = w1.requester.open({ peer: 'o', region: 7, offset: 0, size: 4096, replica: false })
  await t.rejects(w1.requester.opened(byId), { code: 'ERR_UNSUPPORTED_REQUEST' })
  t.throws(() => { win.write(0, Uint8Array.of(1)) }, { code: 'ERR_UNAVAILABLE' }, 'a failed window takes no writes')
  await settle(ends)
  linksClean(t, ends)
})

t.test('a window past the region\'s end fails (Completer Abort)', async (t) => {
  const { o, w1, ends } = topology()
  const win = w1.requester.open({ peer: 'o', region: 'mem', offset: SIZE - 4096, size: 8192, replica: true })
  await t.rejects(w1.requester.opened(win), { name: 'OutOfRangeError', code: 'ERR_OUT_OF_RANGE' })
  t.equal(win.state, 'failed')
  t.equal(win.refusal, Status.STATUS_COMPLETER_ABORT)
  t.match(win.lastError, /outside region mem/)
  t.equal(o.completer.counters.completerAborts, 1)
  t.same(o.completer.subscribers(o.regions.get('mem')), [], 'no subscription left behind')
  const edge = w1.requester.open({ peer: 'o', region: 'mem', offset: SIZE - 4096, size: 4096, replica: true })
  await w1.requester.opened(edge)
  t.equal(edge.state, 'open', 'a window ending exactly at the region\'s end is fine')
  await settle(ends)
  linksClean(t, ends)
})

t.test('a Write for an unknown window is reported (Unsupported Request) and changes nothing', async (t) => {
  const o = new MemNode('o')
  const region = o.regions.create('mem', SIZE)
  const link = new RecordingSender('peer')
  const took = o.completer.handle(link, { frame: { write: { window: 99, offset: 0, length: 3, wseq: 4 } }, bulk: Uint8Array.of(1, 2, 3) })
  t.equal(took, true)
  t.equal(link.sent.length, 1)
  const e = link.sent[0]!.frame.errorReport
  t.equal(e?.request, wire.ErrorReport.Request.REQUEST_WRITE)
  t.equal(e?.status, Status.STATUS_UNSUPPORTED_REQUEST)
  t.equal(e?.window, 99)
  t.equal(e?.wseq, 4)
  t.equal(region.writes, 0)
  t.equal(region.populatedPages, 0)
  t.equal(o.completer.counters.unsupportedRequests, 1)

  // A known window, written past its end: Completer Abort, nothing written.
  o.completer.handle(link, { frame: { subscribe: { window: 5, regionName: 'mem', offset: 1000, size: 16, replica: false } }, bulk: undefined })
  t.equal(link.sent[1]?.frame.subscribed?.status, Status.STATUS_OK)
  o.completer.handle(link, { frame: { write: { window: 5, offset: 14, length: 3, wseq: 1 } }, bulk: Uint8Array.of(1, 2, 3) })
  t.equal(link.sent[2]?.frame.errorReport?.status, Status.STATUS_COMPLETER_ABORT)
  t.equal(region.writes, 0)
  t.equal(region.populatedPages, 0)
  o.completer.handle(link, { frame: { write: { window: 5, offset: 13, length: 3, wseq: 2 } }, bulk: Uint8Array.of(1, 2, 3) })
  t.same([...region.read(1013, 3)], [1, 2, 3], 'the last bytes of the window are writable')
  t.equal(link.sent.length, 3, 'a non-replica window gets no Ordered')
})

t.test('readRemote returns the owner\'s bytes', async (t) => {
  const { o, w1, ends } = topology()
  const region = o.regions.get('mem')
  region.write(5000, Uint8Array.of(1, 2, 3, 4))
  const uncached = w1.requester.open({ peer: 'o', region: 'mem', offset: 4096, size: 8192, replica: false })
  await w1.requester.opened(uncached)
  t.equal(uncached.populatedPages, 0, 'an uncached window keeps no copy')
  t.same([...await w1.requester.readRemote(uncached, 5000 - 4096, 4)], [1, 2, 3, 4])
  t.same([...await w1.requester.readRemote(uncached, 8000, 192)], new Array(192).fill(0))

  // A read completion reflects every write that preceded the Read on the link.
  uncached.write(10, Uint8Array.of(0xaa, 0xbb))
  const read = w1.requester.readRemote(uncached, 10, 2)
  t.same([...await read], [0xaa, 0xbb])
  t.same([...region.read(4106, 2)], [0xaa, 0xbb])

  await t.rejects(w1.requester.readRemote(uncached, 8190, 4), OutOfRangeError, 'past the window: refused')
  await t.rejects(w1.requester.readRemote(uncached, -1, 4), { code: 'ERR_OUT_OF_RANGE' })
  await settle(ends)
  linksClean(t, ends)
})

t.test('the owner answers out-of-range and unknown reads with an error status', async (t) => {
  const o = new MemNode('o')
  o.regions.create('mem', SIZE)
  const link = new RecordingSender('peer')
  o.completer.handle(link, { frame: { subscribe: { window: 5, regionName: 'mem', offset: 0, size: 16, replica: false } }, bulk: undefined })
  o.completer.handle(link, { frame: { read: { tag: 7, window: 5, offset: 10, length: 10 } }, bulk: undefined })
  o.completer.handle(link, { frame: { read: { tag: 8, window: 6, offset: 0, length: 1 } }, bulk: undefined })
  o.completer.handle(link, { frame: { read: { tag: 9, window: 5, offset: 12, length: 4 } }, bulk: undefined })
  const c = link.sent.slice(1).map((d) => [d.frame.readCompletion?.tag, d.frame.readCompletion?.status, d.frame.readCompletion?.length, d.bulk?.length])
  t.same(c, [[7, Status.STATUS_COMPLETER_ABORT, 0, 0], [8, Status.STATUS_UNSUPPORTED_REQUEST, 0, 0], [9, Status.STATUS_OK, 4, 4]])
})

t.test('the requester maps completion status to errors', async (t) => {
  const w = new MemNode('w')
  const link = new RecordingSender('o')
  w.links.set('o', link as unknown as LoopEnd)
  const win = w.requester.open({ peer: 'o', region: 'mem', offset: 0, size: 64, replica: false })
  t.equal(link.sent[0]?.frame.subscribe?.window, win.id)
  w.requester.handle(link, { frame: { subscribed: { window: win.id, status: Status.STATUS_OK, regionId: 1, regionName: 'mem', regionSize: SIZE } }, bulk: undefined })
  t.equal(win.state, 'open')

  const tagOf = (i: number): number => link.sent[i]!.frame.read!.tag!
  const ok = w.requester.readRemote(win, 0, 2)
  const ca = w.requester.readRemote(win, 2, 2)
  const ur = w.requester.readRemote(win, 4, 2)
  const complete = (tag: number, status: number, bulk: Uint8Array): void => {
    w.requester.handle(link, { frame: { readCompletion: { tag, status, length: bulk.length } }, bulk })
  }
  complete(tagOf(3), Status.STATUS_UNSUPPORTED_REQUEST, new Uint8Array())
  complete(tagOf(2), Status.STATUS_COMPLETER_ABORT, new Uint8Array())
  complete(tagOf(1), Status.STATUS_OK, Uint8Array.of(0x12, 0x34))
  t.same([...await ok], [0x12, 0x34])
  await t.rejects(ca, OutOfRangeError)
  await t.rejects(ur, UnsupportedRequestError)
})

t.test('a doorbell is never seen before the writes that preceded it on the link', async (t) => {
  const { o, w1, ends } = topology()
  const region = o.regions.get('mem')
  const win = w1.requester.open({ peer: 'o', region: 'mem', offset: 0, size: SIZE, replica: true })
  await w1.requester.opened(win)

  const seenInHandler: number[][] = []
  o.doorbells.declare('kick', (peer, value) => {
    const values: number[] = []
    for (let i = 0; i < 100; i++) values.push(region.read32(i * 4))
    seenInHandler.push([peer === 'w1' ? 1 : 0, value, ...values])
  })
  const expected = Array.from({ length: 100 }, (_, i) => 0x1000 + i * 3)
  for (let i = 0; i < 100; i++) win.write32(i * 4, expected[i]!)
  w1.doorbells.ring(w1.links.get('o')!, 'kick', 42)
  t.equal(region.writes, 0, 'nothing has arrived yet: the link is asynchronous')
  await settle(ends)
  t.equal(seenInHandler.length, 1, 'rang once')
  t.same(seenInHandler[0], [1, 42, ...expected], 'all 100 writes were in the region when the doorbell rang')
  t.equal(o.doorbells.list()[0]?.rings, 1)

  w1.doorbells.ring(w1.links.get('o')!, 'nobody', 1)
  const errors: string[] = []
  w1.requester.on('error', (peer, message) => { errors.push(`${peer}: ${message}`) })
  await settle(ends)
  t.equal(o.doorbells.unknownRings, 1)
  t.same(errors, ['o: no doorbell target "nobody"'], 'an unknown target is reported back')
  linksClean(t, ends)
})

t.test('an owner that writes in reaction to a window write (a register side effect) leaves the replica converged', async (t) => {
  const { o, w1, ends } = topology()
  const region = o.regions.get('mem')
  // A command register at 0: the owner clears it and posts a status at 1.
  region.observe((offset, _length, origin) => {
    if (origin !== null && offset === 0 && region.read8(0) !== 0) { region.write8(0, 0); region.write8(1, 0x01) }
  })
  const win = w1.requester.open({ peer: 'o', region: 'mem', offset: 0, size: SIZE, replica: true })
  await w1.requester.opened(win)
  win.write8(1, 0)
  win.write8(0, 3)
  await settle(ends)
  t.equal(region.read8(0), 0, 'the owner cleared the command')
  t.equal(win.read8(0), 0, 'and so does the replica')
  t.equal(win.read8(1), 1, 'the status is seen')
  t.equal(win.unordered, 0)
  linksClean(t, ends)
})
