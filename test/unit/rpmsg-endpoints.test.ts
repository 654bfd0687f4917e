// The rpmsg endpoint table: allocation from 1024, reserved and used
// addresses refused, dispatch to the right callback, unknown destinations
// counted.

import t from 'tap'
import { EndpointTable } from '../../daemon/src/rpmsg/endpoints.js'
import { RPMSG_ADDR_ANY, RPMSG_AS_ADDR, RPMSG_NS_ADDR } from '../../daemon/src/rpmsg/wire.js'

const nop = (): void => {}

t.test('RPMSG_ADDR_ANY allocates the lowest free address from 1024', async (t) => {
  const tab = new EndpointTable()
  t.equal(tab.create(RPMSG_ADDR_ANY, nop).addr, 1024)
  t.equal(tab.create(RPMSG_ADDR_ANY, nop).addr, 1025)
  t.equal(tab.create(2000, nop).addr, 2000)
  t.equal(tab.create(RPMSG_ADDR_ANY, nop).addr, 1026)
  t.ok(tab.destroy(1024))
  t.notOk(tab.destroy(1024), 'already gone')
  t.equal(tab.create(RPMSG_ADDR_ANY, nop).addr, 1024, 'a freed address is reused')
  t.same(tab.addresses(), [1024, 1025, 1026, 2000])
  t.equal(tab.size, 4)
})

t.test('reserved and used addresses are refused with ERR_RPMSG_ADDR', async (t) => {
  const tab = new EndpointTable()
  t.throws(() => tab.create(RPMSG_NS_ADDR, nop), { code: 'ERR_RPMSG_ADDR' })
  t.throws(() => tab.create(1023, nop), { code: 'ERR_RPMSG_ADDR' })
  t.equal(tab.create(RPMSG_NS_ADDR, nop, { internal: true }).addr, 53)
  t.equal(tab.create(RPMSG_AS_ADDR, nop, { internal: true }).addr, 54)
  t.throws(() => tab.create(RPMSG_NS_ADDR, nop, { internal: true }), { code: 'ERR_RPMSG_ADDR' }, 'in use')
  tab.create(1024, nop)
  t.throws(() => tab.create(1024, nop), { code: 'ERR_RPMSG_ADDR' })
  t.throws(() => tab.create(-1, nop), { code: 'ERR_RPMSG_ADDR' })
  t.throws(() => tab.create(1.5, nop), { code: 'ERR_RPMSG_ADDR' })
  t.throws(() => tab.create(2 ** 32, nop), { code: 'ERR_RPMSG_ADDR' })
})

t.test('dispatch delivers to dst with src, counts unknown destinations and failing callbacks', async (t) => {
  const tab = new EndpointTable()
  const got: Array<[number, number, number[]]> = []
  const a = tab.create(RPMSG_ADDR_ANY, (p, src, ept) => { got.push([ept.addr, src, [...p]]) })
  tab.create(RPMSG_ADDR_ANY, () => { throw new Error('boom') })
  t.equal(tab.dispatch(7000, a.addr, Uint8Array.of(1, 2)), 'delivered')
  t.equal(tab.dispatch(7000, 4444, Uint8Array.of(3)), 'unknown')
  t.equal(tab.dispatch(7000, 1025, Uint8Array.of(4)), 'failed')
  t.same(got, [[1024, 7000, [1, 2]]])
  t.same(tab.counters, { delivered: 1, unknown: 1, failed: 1 })
  t.same(a.traffic, { sent: 0, received: 1 }, 'the endpoint counts what was delivered to it')
  tab.countSent(a.addr)
  tab.countSent(4444)
  t.same(a.traffic, { sent: 1, received: 1 }, 'and what it sent; an address with no endpoint counts nowhere')
  t.equal(tab.lastError?.message, 'boom')
  t.ok(tab.destroy(a))
  t.equal(tab.dispatch(7000, 1024, Uint8Array.of(1)), 'unknown')
  t.notOk(tab.destroy({ addr: 1025, callback: nop, traffic: { sent: 0, received: 0 } }), 'only the endpoint object that is there')
})

t.test('RPMSG_ADDR_ANY takes the lowest free address in O(log n) probes, not a walk from 1024', async (t) => {
  const tab = new EndpointTable()
  const n = 20_000
  // Probes of the table: each has() the allocation makes.
  const has = Map.prototype.has
  let probes = 0
  Map.prototype.has = function (this: Map<unknown, unknown>, k: unknown) { probes++; return has.call(this, k) }
  try {
    for (let i = 0; i < n; i++) tab.create(RPMSG_ADDR_ANY, nop)
  } finally {
    Map.prototype.has = has
  }
  t.equal(tab.size, n)
  t.same(tab.addresses().slice(-1), [1024 + n - 1])
  // A walk from 1024 makes n²/2 probes (2·10⁸ here); a mark and a heap a few per endpoint.
  t.ok(probes < 10 * n, `${probes} probes for ${n} endpoints`)
})

t.test('allocation matches the lowest free address under any mix of fixed, any and destroy', async (t) => {
  let seed = 11
  const rand = (m: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % m }
  const tab = new EndpointTable()
  const used = new Set<number>()
  const lowestFree = (): number => { let a = 1024; while (used.has(a)) a++; return a }
  for (let step = 0; step < 5000; step++) {
    const r = rand(10)
    if (r < 5) {
      const want = lowestFree()
      const got = tab.create(RPMSG_ADDR_ANY, nop).addr
      if (got !== want) { t.fail(`step ${step}: got ${got}, the lowest free is ${want}`); return }
      used.add(got)
    } else if (r < 7) {
      const addr = 1024 + rand(400)
      if (used.has(addr)) continue
      tab.create(addr, nop)
      used.add(addr)
    } else if (used.size > 0) {
      const addrs = [...used]
      const addr = addrs[rand(addrs.length)]!
      if (!tab.destroy(addr)) { t.fail(`step ${step}: ${addr} was not there`); return }
      used.delete(addr)
    }
    if (step % 997 === 0) { tab.clear(); used.clear() }
  }
  t.same(tab.addresses(), [...used].sort((a, b) => a - b))
  tab.create(RPMSG_NS_ADDR, nop, { internal: true })
  tab.destroy(RPMSG_NS_ADDR)
  t.ok(tab.create(RPMSG_ADDR_ANY, nop).addr >= 1024, 'a reserved address freed is never handed out')
})
