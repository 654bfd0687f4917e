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
