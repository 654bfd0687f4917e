// With replicated memory, a side's "notify me" write (avail_event, used_event)
// can cross the other side's decision that read its old value. recheckKick /
// recheckNotify decide again, over everything since the last real
// notification, when that write lands, so the wakeup is not lost.

import t from 'tap'
import { Region } from '../../daemon/src/mem/region.js'
import { splitLayout } from '../../daemon/src/uapi/virtio-ring.js'
import { SplitVirtqueue } from '../../daemon/src/virtio/split-virtqueue.js'
import { Vringh } from '../../daemon/src/vhost/vringh.js'
import { VIRTIO_RING_F_EVENT_IDX, features } from '../../daemon/src/uapi/virtio-config.js'

function pair (): { mem: Region, vq: SplitVirtqueue<number>, dev: Vringh, layout: ReturnType<typeof splitLayout> } {
  const mem = new Region(1, 'mem', 1 << 16)
  const layout = splitLayout(0, 8, 4096)
  const f = features(VIRTIO_RING_F_EVENT_IDX)
  return { mem, layout, vq: new SplitVirtqueue<number>(mem, layout, { features: f }), dev: new Vringh(mem, layout, { features: f }) }
}

t.test('a kick suppressed on a stale avail_event is owed once the device\'s write lands', async (t) => {
  const { mem, vq, dev, layout } = pair()
  vq.add([{ addr: 0x8000, len: 16 }], [], 1)
  t.equal(vq.kickPrepare(), true, 'first buffer: avail_event 0 asks for it')
  t.not(dev.getDesc(), null)
  vq.add([{ addr: 0x8100, len: 16 }], [], 2)
  t.equal(vq.kickPrepare(), false, 'second buffer: the old avail_event (0) says no')
  t.equal(vq.recheckKick(), false, 'nothing changed: still no')
  // The device's notifyEnable() wrote avail_event = 1 into its replica; it lands now.
  mem.write16(layout.availEvent, 1)
  t.equal(vq.recheckKick(), true, 'now the device wants to hear of index 1 onward')
  t.equal(vq.recheckKick(), false, 'and only once')
})

t.test('an interrupt suppressed on a stale used_event is owed once the driver\'s write lands', async (t) => {
  const { mem, vq, dev, layout } = pair()
  vq.add([], [{ addr: 0x8000, len: 16 }], 1)
  vq.add([], [{ addr: 0x8100, len: 16 }], 2)
  const a = dev.getDesc()!
  dev.complete(a.head, 16)
  t.equal(dev.needNotify(), true, 'first use: used_event 0 asks for it')
  const b = dev.getDesc()!
  dev.complete(b.head, 16)
  t.equal(dev.needNotify(), false, 'second use: the old used_event says no')
  t.equal(dev.recheckNotify(), false)
  mem.write16(layout.usedEvent, 1)
  t.equal(dev.recheckNotify(), true, 'the driver asked to hear of used index 1 onward')
  t.equal(dev.recheckNotify(), false)
})
