// A TranslatedRegion whose translation is a range of a local Region (the
// NTB peer scratchpad BAR, an alias of the other host's config BAR from its
// spad_offset), and one whose translated part starts at a base (the NTB
// doorbell + MW1 BAR): writes forward, the backing's changes are mirrored to
// every replica, an unbacked translation reads zeros and refuses writes
// with Unsupported Request, and the plain part below the base stays local.

import t from 'tap'
import { MemNode, connect } from '../support/mem-node.js'
import { settle } from '../support/loop-link.js'
import { TranslatedRegion } from '../../daemon/src/mem/translated-region.js'

t.test('a region-range translation forwards writes and mirrors the backing\'s changes to replicas', async (t) => {
  const b = new MemNode('b')
  const h1 = new MemNode('h1')
  const h2 = new MemNode('h2')
  const ends = [...connect(h1, b), ...connect(h2, b)]
  const cfg = b.regions.create('cfg', 1024)
  const alias = b.regions.add('alias', 128, (id) => new TranslatedRegion(id, 'alias', 128))
  cfg.write32(0x200, 0x11111111)
  const w1 = h1.requester.open({ peer: 'b', region: 'alias', offset: 0, size: 128, replica: true })
  const w2 = h2.requester.open({ peer: 'b', region: 'cfg', offset: 0, size: 1024, replica: true })
  await Promise.all([h1.requester.opened(w1), h2.requester.opened(w2)])
  h1.requester.on('error', () => {}) // refusals are checked on the window

  w1.write32(0, 0xdead)
  await settle(ends)
  t.equal(w1.counters.errors, 1, 'unbacked: h1\'s write is refused')
  t.match(w1.lastError, /no translation/)
  t.equal(w1.read32(0), 0, 'and put right on its replica')
  t.equal(b.completer.counters.unsupportedRequests, 1, 'as Unsupported Request')

  alias.attach({ region: cfg, offset: 0x200, size: 64 })
  await settle(ends)
  t.equal(alias.read32(0), 0x11111111, 'attaching mirrors what the backing holds')
  t.equal(w1.read32(0), 0x11111111, 'and h1\'s replica sees it')

  w1.write32(8, 0xcafe)
  w2.write32(0x200 + 12, 0xbeef)
  cfg.write32(0x200 + 16, 0xf00d)
  cfg.write32(0x200 + 64, 0x77) // past the range: not part of the alias
  await settle(ends)
  t.equal(cfg.read32(0x208), 0xcafe, 'h1\'s write through the alias lands in the backing region')
  t.equal(w2.read32(0x208), 0xcafe, 'and reaches the backing\'s replicas')
  t.equal(w1.read32(12), 0xbeef, 'a peer\'s write to the backing shows in the alias replica')
  t.equal(w1.read32(16), 0xf00d, 'so does the owner\'s own write')
  t.equal(alias.read32(64), 0, 'bytes past the range are not mirrored')
  t.equal(alias.counters.forwarded, 1, 'one write forwarded')
  t.equal(w1.unordered, 0)

  w1.write32(64, 1)
  await settle(ends)
  t.equal(w1.counters.errors, 2, 'a write past the translation\'s 64 bytes is refused')
  t.match(w1.lastError, /past its 64-byte translation/)
  t.equal(cfg.read32(0x240), 0x77, 'and the backing past the range is untouched')

  alias.detach()
  await settle(ends)
  t.equal(w1.read32(8), 0, 'detached: h1 reads zeros')
  t.equal(cfg.read32(0x208), 0xcafe, 'and the backing keeps its bytes')
  cfg.write32(0x208, 5)
  t.equal(alias.read32(8), 0, 'a detached alias no longer follows the backing')
  t.throws(() => { alias.attach({ region: cfg, offset: 1000, size: 64 }) }, { code: 'ERR_OUT_OF_RANGE' }, 'a range past the backing region is refused')
  t.throws(() => { alias.attach({ region: cfg, offset: 0, size: 256 }) }, { code: 'ERR_OUT_OF_RANGE' }, 'a range larger than the alias is refused')
  for (const e of ends) t.same(e.errors, [], `no handler errors at ${e.name}`)
})

t.test('below its base a translated region is plain memory; above it, the translation', async (t) => {
  const b = new MemNode('b')
  const h1 = new MemNode('h1')
  const h2 = new MemNode('h2')
  const ends = [...connect(h1, b), ...connect(b, h2)]
  const mem = h2.regions.create('sysmem', 0x10000)
  const bar = b.regions.add('bar2', 0x2000, (id) => new TranslatedRegion(id, 'bar2', 0x2000, 0x1000))
  const seen: Array<[number, number]> = []
  bar.observe((offset, length, origin) => { if (origin !== null) seen.push([offset, length]) })
  const w = h1.requester.open({ peer: 'b', region: 'bar2', offset: 0, size: 0x2000, replica: true })
  await h1.requester.opened(w)
  const reports: number[] = []
  h1.requester.on('error', () => { reports.push(w.counters.errors) })

  w.write32(0x10, 7)
  w.write32(0x1010, 8)
  await settle(ends)
  t.equal(bar.read32(0x10), 7, 'the plain part takes writes with no translation')
  t.equal(w.counters.errors, 1, 'the translated part refuses them')
  t.same(seen, [[0x10, 4]], 'only the accepted write reached the observers')

  const out = b.requester.open({ peer: 'h2', region: 'sysmem', offset: 0x4000, size: 0x800, replica: true })
  await b.requester.opened(out)
  mem.write32(0x4004, 0x99)
  bar.attach(out)
  await settle(ends)
  t.equal(w.read32(0x1004), 0x99, 'the translation starts at the base')
  w.write(0xffe, Uint8Array.of(1, 2, 3, 4))
  await settle(ends)
  t.same([...bar.read(0xffe, 4)], [1, 2, 3, 4], 'a write across the base is split')
  t.same([...mem.read(0x4000, 2)], [3, 4], 'its upper half reaches the owner at the translation\'s start')
  t.equal(mem.read16(0x3ffe), 0, 'nothing lands below the translation')
  w.write32(0x1800, 1)
  await settle(ends)
  t.equal(w.counters.errors, 2, 'past the 0x800-byte translation: refused')
  t.throws(() => { bar.attach(b.requester.open({ peer: 'h2', region: 'sysmem', offset: 0, size: 0x1001, replica: true })) }, { code: 'ERR_OUT_OF_RANGE' }, 'a translation larger than the part above the base')
  bar.detach()
  await settle(ends)
  t.equal(w.read32(0x10), 7, 'detaching leaves the plain part alone')
  t.equal(w.read32(0x1004), 0, 'and zeroes the translated part')
  t.ok(reports.length >= 2, 'h1 heard of each refusal')
  t.equal(b.completer.counters.unsupportedRequests, 2, 'both refusals counted as Unsupported Request')
  for (const e of ends) t.same(e.errors, [], `no handler errors at ${e.name}`)
})
