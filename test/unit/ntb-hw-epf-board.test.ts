// Two hosts' NTB drivers (ntb-hw-epf.ts) against the real endpoint function
// (hw/ntb/epf-ntb.ts) on in-memory nodes: h1 and h2 each enumerate their
// interface of the board's function through a root complex, and what one
// host does through the driver (scratchpads, memory windows, doorbells,
// link) reaches the other as the fact sheet's end-to-end walk says.

import t, { type Test } from 'tap'
import { once } from 'node:events'
import { settle } from '../support/loop-link.js'
import { ntbDriverPair, type NtbDriverPair } from '../support/ntb-board.js'
import { matchesNtbEpf } from '../../daemon/src/hw/ntb/ntb-hw-epf.js'

async function pair (t: Test): Promise<NtbDriverPair> {
  const p = await ntbDriverPair({ numMws: 2, mwSizes: [0x1_0000, 0x1_0000], dbCount: 8, spadCount: 64 })
  t.teardown(p.stop)
  return p
}

t.test('both hosts bind the function and settle on the vectors it offers', async (t) => {
  const { h1, h2, ntb } = await pair(t)
  t.ok(matchesNtbEpf(h1.fn))
  for (const h of [h1, h2]) {
    t.equal(h.dev.state().vectors, 8, `${h.node.name}: 32 and 16 refused, 8 taken`)
    t.equal(h.dev.dbValidMask(), 0x7f)
    t.equal(h.dev.mwCount(), 2)
    t.equal(h.dev.spadCount(), 64)
  }
  t.same(ntb.state().interfaces.map((i) => i.doorbells), [{ configured: true, count: 8 }, { configured: true, count: 8 }])
})

t.test('the link comes up on both hosts once both enabled it', async (t) => {
  const { h1, h2 } = await pair(t)
  const links = { h1: 0, h2: 0 }
  h1.dev.on('link', () => { links.h1++ })
  h2.dev.on('link', () => { links.h2++ })
  await h1.dev.linkEnable()
  t.notOk(h1.dev.linkIsUp(), 'not while h2 has not')
  const up = Promise.all([once(h1.dev, 'link'), once(h2.dev, 'link')])
  await h2.dev.linkEnable()
  await up
  t.ok(h1.dev.linkIsUp())
  t.ok(h2.dev.linkIsUp())
  t.same(links, { h1: 1, h2: 1 })
  const down = Promise.all([once(h1.dev, 'link'), once(h2.dev, 'link')])
  await h2.dev.linkDisable()
  await down
  t.notOk(h1.dev.linkIsUp(), 'one host\'s LINK_DOWN takes the link down for both')
})

t.test('a host\'s peer scratchpads are the other\'s own', async (t) => {
  const { h1, h2, ends } = await pair(t)
  h1.dev.peerSpadWrite(2, 0x0102_0304)
  h2.dev.peerSpadWrite(63, 0xfeed_f00d)
  h2.dev.spadWrite(5, 0x55)
  await settle(ends)
  t.equal(h2.dev.spadRead(2), 0x0102_0304)
  t.equal(h1.dev.spadRead(63), 0xfeed_f00d)
  t.equal(h1.dev.peerSpadRead(5), 0x55)
})

t.test('h2 translates MW1 and MW2 into its memory; h1 writes land there, and a doorbell comes after them', async (t) => {
  const { h1, h2, ends } = await pair(t)
  await Promise.all([h1.dev.linkEnable(), h2.dev.linkEnable()])
  await h2.dev.mwSetTrans(0, 0x10_0000, 0x1_0000)
  await h2.dev.mwSetTrans(1, 0x20_0000, 0x8000)
  const mem = h2.root.sysmem
  const seen: Array<{ vector: number, word: number }> = []
  h2.dev.on('db', (vector) => { seen.push({ vector, word: mem.read32(0x10_0100) }) })
  const mw0 = h1.dev.peerMwGetAddr(0)
  const mw1 = h1.dev.peerMwGetAddr(1)
  mw1.memory.write32(0x40, 0xabcd_0001)
  mw0.memory.write32(0x100, 0x600d_cafe)
  h1.dev.peerDbSet(0b101)
  await settle(ends)
  t.equal(mem.read32(0x20_0040), 0xabcd_0001, 'MW2 lands at h2\'s translation')
  t.same(seen, [{ vector: 0, word: 0x600d_cafe }, { vector: 2, word: 0x600d_cafe }], 'bits 0 and 2 arrive as vectors 0 and 2, after the write')
  t.equal(h2.dev.dbRead(), 0b101)
  t.equal(h2.dev.counters.spuriousMsis, 0)
  await h2.dev.mwClearTrans(0)
  t.same(h2.dev.state().translations, [{ widx: 1, addr: 0x20_0000, size: 0x8000 }])
})
