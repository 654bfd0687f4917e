// The fallback poll's look (transport/ntb-avail-watch.ts): one 16-bit read
// per queue, whatever the ring's size, and a change only when the driver
// made buffers available where the device looks: a split ring's avail->idx;
// a packed ring's head at the device's next slot, against the wrap counter
// it expects there (virtio 1.1 2.7.1), through laps that flip the counters.

import t from 'tap'
import { Region } from '../../daemon/src/mem/region.js'
import type { MemoryAccess } from '../../daemon/src/mem/access.js'
import { AvailWatch } from '../../daemon/src/transport/ntb-avail-watch.js'
import { ringAddrs } from '../../daemon/src/uapi/ring-addrs.js'
import { PackedVirtqueue } from '../../daemon/src/virtio/packed-virtqueue.js'
import { VringhPacked } from '../../daemon/src/vhost/vringh-packed.js'

const NUM = 256

/** `mem`, counting its reads. */
function counted (mem: MemoryAccess): { mem: MemoryAccess, reads: () => number } {
  let reads = 0
  const wrapped = new Proxy(mem, {
    get (target, key, receiver) {
      const v = Reflect.get(target, key, receiver)
      if (typeof v !== 'function') return v
      return (...args: unknown[]) => {
        if (typeof key === 'string' && key.startsWith('read')) reads++
        return v.apply(target, args)
      }
    }
  })
  return { mem: wrapped, reads: () => reads }
}

t.test('split: avail->idx, one read per look', async (t) => {
  const region = new Region(1, 'mem', 0x10000)
  const { mem, reads } = counted(region)
  const a = ringAddrs('split', 0, NUM, 4096)
  const w = new AvailWatch()
  t.equal(w.moved(0, mem, a, null), true, 'the first look counts as a change')
  t.equal(w.moved(0, mem, a, null), false, 'nothing since')
  region.write16(a.driver + 2, 1)
  t.equal(w.moved(0, mem, a, null), true, 'the driver published a buffer')
  t.equal(w.moved(0, mem, a, null), false)
  t.equal(reads(), 4, 'one read per look')
  w.reset()
  t.equal(w.moved(0, mem, a, null), true, 'after reset() the next look counts as a change')
})

t.test('packed: the head at the device\'s next slot, against its wrap counter, through laps', async (t) => {
  const region = new Region(1, 'mem', 0x10000)
  const { mem, reads } = counted(region)
  const num = 4
  const a = ringAddrs('packed', 0, num, 4096)
  const ring = { num, desc: a.desc, driver: a.driver, device: a.device }
  const drv = new PackedVirtqueue<number>(region, ring)
  const dev = new VringhPacked(region, ring)
  const w = new AvailWatch()
  t.equal(w.moved(0, mem, a, dev), true, 'the first look counts as a change')
  t.equal(w.moved(0, mem, a, dev), false, 'an empty ring: nothing since')
  let looks = 2
  for (let i = 0; i < 3 * num; i++) {
    drv.add([{ addr: 0x8000, len: 8 }], [], i)
    t.equal(w.moved(0, mem, a, dev), true, `buffer ${i}: available at the device's slot ${dev.lastAvail}, lap ${dev.availWrap}`)
    t.equal(w.moved(0, mem, a, dev), false, 'and not again')
    const d = dev.getDesc()!
    dev.complete(d.id, 0)
    t.equal(drv.getBuf()?.token, i)
    t.equal(w.moved(0, mem, a, dev), true, 'the device took it: its next slot is a new look')
    t.equal(w.moved(0, mem, a, dev), false, 'idle: no change, however many looks')
    looks += 4
  }
  t.equal(reads(), looks, 'one read per look, for a ring of any size')
  t.equal(w.moved(1, mem, a, null), true, 'a packed ring without the device\'s position counts as changed')
  t.equal(w.moved(1, mem, a, null), true)
})

t.test('buffers the device leaves waiting are no change; an unreadable ring is', async (t) => {
  const region = new Region(1, 'mem', 0x10000)
  const a = ringAddrs('packed', 0, NUM, 4096)
  const ring = { num: NUM, desc: a.desc, driver: a.driver, device: a.device }
  const drv = new PackedVirtqueue<number>(region, ring)
  const dev = new VringhPacked(region, ring)
  const w = new AvailWatch()
  for (let i = 0; i < 8; i++) drv.add([], [{ addr: 0x8000 + 64 * i, len: 64 }], i)
  t.equal(w.moved(0, region, a, dev), true)
  t.equal(w.moved(0, region, a, dev), false, 'rx buffers waiting for data: no callback on every poll')
  drv.add([], [{ addr: 0x9000, len: 64 }], 8)
  t.equal(w.moved(0, region, a, dev), false, 'more behind the head: the device finds them when it walks from the head')
  const far = ringAddrs('packed', 0x20000, NUM, 4096)
  t.equal(w.moved(2, region, far, { lastAvail: 0, availWrap: 1 }), true, 'outside memory: its callback finds out')
})
