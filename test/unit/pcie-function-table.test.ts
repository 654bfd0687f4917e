// The endpoint's configfs-style tree: create, link, start, stop, and the
// busy errors the kernel gives.

import t from 'tap'
import { FunctionTable } from '../../daemon/src/hw/pcie/function-table.js'

t.test('create, link, start, stop and the busy rules', async (t) => {
  const started: string[] = []
  const table = new FunctionTable(['pcie0'], {
    start: async (ctrl, fn) => { started.push(`${ctrl}:${fn.name}:${fn.subsysId}`) },
    stop: async (ctrl) => { started.push(`stop ${ctrl}`) }
  })
  const fn = table.create('vhost0', { subsysId: 7 })
  t.equal(fn.vendorId, 0x104c, 'TI vendor id by default, as the RFC\'s RC driver matches')
  t.equal(fn.deviceId, 0xb500)
  t.throws(() => table.create('vhost0'), { code: 'ERR_CONFLICT' })
  await t.rejects(table.start('pcie0'), { code: 'ERR_CONFLICT' }, 'nothing linked')
  table.link('pcie0', 'vhost0')
  t.throws(() => table.link('pcie0', 'vhost0'), { code: 'ERR_CONFLICT' }, 'linked twice is busy')
  t.throws(() => table.remove('vhost0'), { code: 'ERR_CONFLICT' }, 'a linked function cannot go')
  await table.start('pcie0')
  t.same(started, ['pcie0:vhost0:7'])
  t.throws(() => table.update('vhost0', { subsysId: 8 }), { code: 'ERR_CONFLICT' }, 'busy while started')
  t.throws(() => table.unlink('pcie0', 'vhost0'), { code: 'ERR_CONFLICT' }, 'stop before unlink')
  await table.stop('pcie0')
  table.unlink('pcie0', 'vhost0')
  table.remove('vhost0')
  t.same(table.tree(), { functions: [], controllers: [{ name: 'pcie0', function: null, started: false, lastError: '' }] })
  t.throws(() => table.link('pcie1', 'x'), { code: 'ERR_NOT_FOUND' })
})

t.test('a start that fails leaves the controller stopped with the reason', async (t) => {
  const table = new FunctionTable(['pcie0'], { start: async () => { throw new Error('no link to the rc') }, stop: async () => {} })
  table.create('f')
  table.link('pcie0', 'f')
  await t.rejects(table.start('pcie0'), /no link/)
  t.match(table.ctrl('pcie0'), { started: false, lastError: 'no link to the rc' })
})
