// An NTB function made with its primary host alone, as a board that pairs
// hosts in the order they link makes it (roles/ntb-board.ts): the primary's
// interface starts and waits with its link down and its BAR1 unbacked;
// the secondary joins later, and everything a pair does then works.

import t from 'tap'
import pino from 'pino'
import { ntbBoard } from '../support/ntb-board.js'
import { EpfNtb } from '../../daemon/src/hw/ntb/epf-ntb.js'
import type { EpfNtbConfig } from '../../daemon/src/hw/ntb/epf-ntb-layout.js'

const OK = 1
const CONFIGURE_DOORBELL = 1
const LINK_UP = 5
const CONFIG: EpfNtbConfig = { numMws: 1, mwSizes: [0x10000], dbCount: 4, spadCount: 16 }
const SPAD_OFFSET = 0x200
const logger = pino({ level: 'silent' })

t.test('the primary waits alone, link down; the secondary joins and the link comes up', async (t) => {
  const n = ntbBoard(['hA', 'hB', 'hC'], [], CONFIG)
  const A = n.host('hA')
  const B = n.host('hB')
  const ntb = new EpfNtb({ name: 'ntb0', config: CONFIG, primary: A.ctrl, logger })
  t.same(ntb.hosts, ['hA', ''], 'no secondary host yet')
  t.throws(() => { ntb.startInterface('') }, { code: 'ERR_NOT_FOUND' }, 'the empty interface is no host\'s')

  ntb.startInterface('hA')
  await n.open('hA')
  t.equal(await n.command('hA', CONFIGURE_DOORBELL, 4), OK, 'CONFIGURE_DOORBELL with nobody on the other side')
  t.equal(await n.command('hA', LINK_UP), OK, 'LINK_UP answers OK')
  t.equal(A.bars[0]!.read16(0x0a), 0, 'LINK_STATUS stays down')
  t.same(A.msi, [], 'no link event')
  A.bars[1]!.write32(0, 0x1234)
  await n.settle()
  t.equal(A.bars[1]!.read32(0), 0, 'BAR1 reaches no scratchpads: the write is refused and put right')
  t.same(ntb.state().interfaces.map((i) => [i.side, i.host, i.started]), [['primary', 'hA', true]], 'state shows the one interface')

  t.throws(() => { ntb.join(A.ctrl) }, { code: 'ERR_CONFIG' }, 'a host cannot be its own partner')
  ntb.join(B.ctrl)
  t.same(ntb.hosts, ['hA', 'hB'], 'hB is the secondary host')
  t.throws(() => { ntb.join(n.host('hC').ctrl) }, { code: 'ERR_CONFLICT' }, 'the secondary is taken')
  ntb.startInterface('hB')
  await n.open('hB')
  t.equal(B.bars[0]!.read32(0x34 + 4 * 2), 2, 'A\'s doorbell mapping reached B\'s ctrl when B came (db_data[2])')
  t.equal(await n.command('hB', LINK_UP), OK, 'B\'s LINK_UP answers OK')
  t.same([A.bars[0]!.read16(0x0a), B.bars[0]!.read16(0x0a)], [1, 1], 'both see LINK_STATUS_UP once B sent LINK_UP')
  t.same([A.msi, B.msi], [[0], [0]], 'vector 0 on both')
  B.bars[1]!.write32(4, 0xfeed)
  await n.settle()
  t.equal(A.bars[0]!.read32(SPAD_OFFSET + 4), 0xfeed, 'B\'s BAR1 is A\'s scratchpads')

  ntb.stop('test over')
  t.same(ntb.state().interfaces.map((i) => i.started), [false, false], 'stop() stops both')
  for (const e of n.ends) t.same(e.errors, [], `no handler errors at ${e.name}`)
})

t.test('stop() of a function whose secondary never came stops the primary alone', async (t) => {
  const n = ntbBoard(['hA'], [], CONFIG)
  const ntb = new EpfNtb({ name: 'ntb0', config: CONFIG, primary: n.host('hA').ctrl, logger })
  ntb.startInterface('hA')
  t.equal(n.host('hA').ctrl.started, true, 'the primary\'s controller runs')
  ntb.stop('test over')
  t.equal(n.host('hA').ctrl.started, false, 'the controller stopped')
  t.same(n.host('hA').linkEvents, [true, false], 'its host saw the link come and go')
})
