// An NTB memory window as the board exposes it (mem/translated-region.ts):
// host `h2` owns the memory, the board `b` holds a replica window onto it
// and exposes a TranslatedRegion over that window, and host `h1` holds a
// replica window onto the TranslatedRegion. Writes from all three converge
// to h2's bytes, one hop later for h1; untranslated accesses are refused
// with Unsupported Request and change nothing.

import t from 'tap'
import { wire } from '../../daemon/src/link/codec.js'
import { MemNode, connect } from '../support/mem-node.js'
import { mulberry32, nextTurn, settle, type LoopEnd } from '../support/loop-link.js'
import { TranslatedRegion } from '../../daemon/src/mem/translated-region.js'
import type { MemoryAccess } from '../../daemon/src/mem/access.js'

const MW = 16 * 1024
/** Where h2 placed the window's memory (its mw_set_trans address). */
const XLAT = 0x20000

interface Ntb { h1: MemNode, b: MemNode, h2: MemNode, mw: TranslatedRegion, ends: LoopEnd[] }

function ntb (perTurn?: () => number): Ntb {
  const h1 = new MemNode('h1')
  const b = new MemNode('b')
  const h2 = new MemNode('h2')
  h2.regions.create('sysmem', 1024 * 1024)
  const mw = b.regions.add('mw1', MW, (id) => new TranslatedRegion(id, 'mw1', MW))
  const opts = perTurn === undefined ? {} : { perTurn }
  const ends = [...connect(h1, b, opts), ...connect(b, h2, opts)]
  return { h1, b, h2, mw, ends }
}

async function translate (n: Ntb): Promise<void> {
  const out = n.b.requester.open({ peer: 'h2', region: 'sysmem', offset: XLAT, size: MW, replica: true })
  await n.b.requester.opened(out)
  n.mw.attach(out)
}

const same = (a: MemoryAccess, aOff: number, b: MemoryAccess, bOff: number, len: number): boolean =>
  Buffer.from(a.read(aOff, len)).equals(b.read(bOff, len))

t.test('writes by both hosts and the board converge to the owner\'s bytes on every replica', async (t) => {
  for (const seed of [7, 0xbeef, 424242]) {
    const rng = mulberry32(seed)
    const n = ntb(() => 1 + Math.floor(rng() * 5))
    await translate(n)
    const view = n.h1.requester.open({ peer: 'b', region: 'mw1', offset: 0, size: MW, replica: true })
    await n.h1.requester.opened(view)
    const sysmem = n.h2.regions.get('sysmem')
    // h2 writes its own memory (at the translated address), h1 writes through the board.
    const writers: Array<{ mem: MemoryAccess, base: number }> = [{ mem: sysmem, base: XLAT }, { mem: view, base: 0 }, { mem: n.mw, base: 0 }]
    for (let k = 0; k < 1500; k++) {
      const len = 1 + Math.floor(rng() * 48)
      const offset = Math.floor(rng() * (1024 - len))
      const bytes = new Uint8Array(len).map(() => Math.floor(rng() * 256))
      const w = writers[Math.floor(rng() * writers.length)]!
      w.mem.write(w.base + offset, bytes)
      if (rng() < 0.3) await nextTurn()
    }
    await settle(n.ends)
    t.ok(Buffer.from(sysmem.read(XLAT, 1024)).some((x) => x !== 0), `seed ${seed}: the hot range holds data`)
    t.ok(same(sysmem, XLAT, n.mw, 0, MW), `seed ${seed}: the board's memory window equals h2's memory`)
    t.ok(same(sysmem, XLAT, view, 0, MW), `seed ${seed}: h1's replica equals h2's memory`)
    t.equal(view.unordered, 0, `seed ${seed}: every h1 write was ordered`)
    t.equal(sysmem.read8(XLAT - 1), 0, 'nothing landed below the translation')
    t.equal(sysmem.read8(XLAT + MW), 0, 'nothing landed above it')
    for (const e of n.ends) t.same(e.errors, [], `no handler errors at ${e.name}`)
  }
})

t.test('an untranslated window refuses writes with Unsupported Request and changes nothing', async (t) => {
  const n = ntb()
  const view = n.h1.requester.open({ peer: 'b', region: 'mw1', offset: 0, size: MW, replica: true })
  await n.h1.requester.opened(view)
  const reports: Array<{ status: number, message: string }> = []
  const handler = n.ends[0]!.handler!
  n.ends[0]!.handler = (link, d) => {
    if (d.frame.errorReport != null) reports.push({ status: d.frame.errorReport.status ?? 0, message: d.frame.errorReport.message ?? '' })
    return handler(link, d)
  }
  view.write(0, Uint8Array.of(1, 2, 3))
  await settle(n.ends)
  t.equal(reports.length, 1, 'one error report')
  t.equal(reports[0]!.status, wire.Status.STATUS_UNSUPPORTED_REQUEST)
  t.match(reports[0]!.message, /no translation/)
  t.equal(n.mw.read8(0), 0, 'the board\'s window is untouched')
  t.same([...view.read(0, 3)], [0, 0, 0], 'h1\'s replica is put right by the board\'s bytes')
  t.equal(view.unordered, 0, 'the refused write is no longer pending')
  t.equal(n.b.completer.counters.unsupportedRequests, 1, 'counted as Unsupported Request')
  t.throws(() => { n.mw.write(0, Uint8Array.of(9)) }, { code: 'ERR_OUT_OF_RANGE' }, 'a local write is refused too')
})

t.test('detaching the translation zeroes the view for every replica; attaching again shows the owner\'s bytes', async (t) => {
  const n = ntb()
  const sysmem = n.h2.regions.get('sysmem')
  sysmem.write(XLAT + 8, Uint8Array.of(0xaa, 0xbb))
  await translate(n)
  const view = n.h1.requester.open({ peer: 'b', region: 'mw1', offset: 0, size: MW, replica: true })
  await n.h1.requester.opened(view)
  await settle(n.ends)
  t.same([...view.read(8, 2)], [0xaa, 0xbb], 'h1 sees h2\'s bytes through the board')
  n.mw.detach()
  await settle(n.ends)
  t.same([...view.read(8, 2)], [0, 0], 'after detach h1 reads zeros')
  t.same([...sysmem.read(XLAT + 8, 2)], [0xaa, 0xbb], 'h2\'s memory is untouched by the detach')
  await translate(n)
  await settle(n.ends)
  t.same([...view.read(8, 2)], [0xaa, 0xbb], 'a new translation shows the owner\'s bytes again')
  t.throws(() => { n.mw.attach(n.b.requester.open({ peer: 'h2', region: 'sysmem', offset: 0, size: MW * 2, replica: true })) }, { code: 'ERR_OUT_OF_RANGE' }, 'a translation larger than the BAR is refused')
})
