// Write combining under random interleavings (DESIGN.md, "Writes combine,
// ordering points flush"): an owner and two replica windows write at random,
// ring doorbells, issue non-posted reads, and their links drop and resume,
// all through real LinkSessions and the packet codec (compact, and protobuf
// for comparison). Properties:
//   - every replica converges to the owner's bytes;
//   - a doorbell is never seen before the writes its sender made before it
//     (each writer has a mailbox only it writes; the receiver's view of the
//     mailbox when the doorbell arrives equals the sender's when it rang);
//   - a read completion reflects every write made before the Read;
//   - nothing is lost or duplicated across reconnects, including the big
//     frames a session encodes in place (in front of their own bulk).

import t from 'tap'
import { RegionTable } from '../../daemon/src/mem/region-table.js'
import { Completer } from '../../daemon/src/mem/completer.js'
import { Requester } from '../../daemon/src/mem/requester.js'
import { DoorbellTable } from '../../daemon/src/link/doorbells.js'
import type { Window } from '../../daemon/src/mem/window.js'
import type { MemoryAccess } from '../../daemon/src/mem/access.js'
import { mulberry32, nextTurn } from '../support/loop-link.js'
import { reconnect, sessionLink, type SessionEnd } from '../support/session-loop.js'

const SIZE = 65536
/** Big writes land past the mailboxes; 16-32 KiB, so a turn's combined frame is encoded in place (session.ts). */
const BIG_FROM = 16384
const HOT = 2048
const MAILBOX = 512

class Side {
  readonly regions = new RegionTable()
  readonly completer = new Completer(this.regions)
  readonly requester: Requester
  readonly doorbells = new DoorbellTable()
  readonly links = new Map<string, SessionEnd>()
  constructor (readonly name: string) {
    this.requester = new Requester((peer) => this.links.get(peer) ?? null)
  }
}

function link (a: Side, b: Side, combining: boolean): SessionEnd[] {
  const ends = sessionLink(a.name, b.name, combining)
  for (const [side, end] of [[a, ends[0]], [b, ends[1]]] as const) {
    side.links.set(end.name, end)
    end.handler = (l, d) => side.requester.handle(l, d) || side.completer.handle(l, d) || side.doorbells.handle(l, d)
  }
  return ends
}

const hexOf = (m: MemoryAccess, offset: number, length: number): string => Buffer.from(m.read(offset, length)).toString('hex')

function run (seed: number, combining: boolean): void {
  t.test(`seed ${seed}, ${combining ? 'compact with combining' : 'protobuf, one frame a write'}`, async (t) => {
    const rng = mulberry32(seed)
    const o = new Side('o')
    const s1 = new Side('w1')
    const s2 = new Side('w2')
    const region = o.regions.create('mem', SIZE)
    const ends = [...link(o, s1, combining), ...link(o, s2, combining)]
    let pumping = true
    const pump = (async () => {
      while (pumping) {
        await nextTurn()
        for (const e of ends) e.deliver(1 + Math.floor(rng() * 4))
      }
    })()

    const w1 = s1.requester.open({ peer: 'o', region: 'mem', offset: 0, size: SIZE, replica: true })
    const w2 = s2.requester.open({ peer: 'o', region: 'mem', offset: 0, size: SIZE, replica: true })
    await Promise.all([s1.requester.opened(w1), s2.requester.opened(w2)])

    // Mailboxes: [4096k, +512) written only by writer k (0: the owner).
    const writers: Array<{ mem: MemoryAccess, side: Side, box: number }> = [
      { mem: region, side: o, box: 4096 },
      { mem: w1, side: s1, box: 8192 },
      { mem: w2, side: s2, box: 12288 }
    ]
    const expected = new Map<string, string>()
    let rung = 0
    let seen = 0
    let early = 0
    const check = (key: string, view: MemoryAccess, box: number): void => {
      seen++
      if (expected.get(key) !== hexOf(view, box, MAILBOX)) early++
    }
    o.doorbells.declare('from-w1', (_peer, k) => { check(`w1:${k}`, region, 8192) })
    o.doorbells.declare('from-w2', (_peer, k) => { check(`w2:${k}`, region, 12288) })
    s1.doorbells.declare('from-o', (_peer, k) => { check(`o>w1:${k}`, w1, 4096) })
    s2.doorbells.declare('from-o', (_peer, k) => { check(`o>w2:${k}`, w2, 4096) })

    const reads: Array<Promise<boolean>> = []
    let reconnects = 0
    for (let step = 0; step < 1500; step++) {
      const r = rng()
      const k = Math.floor(rng() * 3)
      const wr = writers[k]!
      if (r < 0.02) {
        const len = 16384 + Math.floor(rng() * 16384)
        const at = BIG_FROM + Math.floor(rng() * (SIZE - BIG_FROM - len))
        wr.mem.write(at, Buffer.alloc(len, Math.floor(rng() * 256)))
      } else if (r < 0.45) {
        const len = 1 + Math.floor(rng() * 48)
        const at = Math.floor(rng() * (HOT - len))
        wr.mem.write(at, Uint8Array.from({ length: len }, () => Math.floor(rng() * 256)))
      } else if (r < 0.75) {
        const len = 1 + Math.floor(rng() * 32)
        const at = wr.box + Math.floor(rng() * (MAILBOX - len))
        if (rng() < 0.5) wr.mem.write(at, Uint8Array.from({ length: len }, () => Math.floor(rng() * 256)))
        else wr.mem.write16(at, Math.floor(rng() * 0x10000))
      } else if (r < 0.87) {
        const n = ++rung
        if (k === 0) {
          const to = rng() < 0.5 ? 'w1' : 'w2'
          expected.set(`o>${to}:${n}`, hexOf(region, 4096, MAILBOX))
          o.doorbells.ring(o.links.get(to)!, 'from-o', n)
        } else {
          expected.set(`w${k}:${n}`, hexOf(wr.mem, wr.box, MAILBOX))
          wr.side.doorbells.ring(wr.side.links.get('o')!, `from-w${k}`, n)
        }
      } else if (r < 0.93 && k !== 0) {
        const want = hexOf(wr.mem, wr.box, MAILBOX)
        reads.push(wr.side.requester.readRemote(wr.mem as Window, wr.box, MAILBOX).then((b) => Buffer.from(b).toString('hex') === want))
      } else if (r < 0.95) {
        const e = ends[2 * Math.floor(rng() * 2)]!
        e.flush()
        reconnect(e)
        reconnects++
      } else {
        await nextTurn()
      }
    }
    const results = await Promise.all(reads)
    // Idle for three turns in a row: everything sent has been delivered and acknowledged.
    let quiet = 0
    for (let turn = 0; quiet < 3; turn++) {
      if (turn === 1_000_000) throw new Error('links still busy after 1,000,000 turns')
      await nextTurn()
      quiet = ends.every((e) => e.idle) ? quiet + 1 : 0
    }
    pumping = false
    await pump

    t.equal(seen, rung, `every doorbell arrived once (${rung} rung, ${reconnects} reconnects)`)
    t.equal(early, 0, 'no doorbell was seen before the writes that preceded it')
    t.ok(reads.length > 20, `reads were issued (${reads.length})`)
    t.equal(results.filter((ok) => !ok).length, 0, 'every read completion reflected the writes before its Read')
    t.equal(hexOf(w1, 0, SIZE), hexOf(region, 0, SIZE), 'w1 converged to the owner')
    t.equal(hexOf(w2, 0, SIZE), hexOf(region, 0, SIZE), 'w2 converged to the owner')
    t.equal(w1.unordered + w2.unordered, 0, 'every window write was ordered')
    t.ok(region.read(0, HOT).some((b) => b !== 0), 'the shared range holds data')
    const inPlace = ends.reduce((n, e) => n + e.session.inPlacePackets, 0)
    if (combining) t.ok(inPlace > 0, `big combined frames went encoded in place (${inPlace})`)
    else t.equal(inPlace, 0, 'protobuf links copy every frame')
    for (const e of ends) {
      t.same(e.errors, [], `no errors at the end named ${e.name}`)
      t.same(e.unhandled, [], `no unhandled frames at the end named ${e.name}`)
    }
  })
}

for (const seed of [3, 77, 4242, 0xbeef]) for (const combining of [true, false]) run(seed, combining)
