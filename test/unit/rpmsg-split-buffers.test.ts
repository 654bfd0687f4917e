// The vhost side writes a message into whatever chain the virtio side
// posted (vringh_iov_push_iotlb): here every rx buffer is two descriptors
// of 10 and 502 bytes, so the 16-byte struct rpmsg_hdr itself is split.
// The virtio side here is a minimal driver of this test's own, posting
// those chains and reading back what lands in them byte for byte.

import t from 'tap'
import { VhostBus } from '../../daemon/src/vhost/bus.js'
import { VirtioBus } from '../../daemon/src/virtio/bus.js'
import type { VirtioDevice, VirtioDriver } from '../../daemon/src/virtio/virtio.js'
import type { DriverQueue } from '../../daemon/src/virtio/virtqueue.js'
import { VhostRpmsgDriver } from '../../daemon/src/rpmsg/vhost-rpmsg.js'
import { VIRTIO_ID_RPMSG } from '../../daemon/src/uapi/virtio-config.js'
import { RpmsgLoop } from '../support/rpmsg-pair.js'

const FIRST = 10
const SECOND = 502

class SplitRxDriver implements VirtioDriver {
  readonly name = 'split-rx'
  readonly idTable = [{ device: VIRTIO_ID_RPMSG, vendor: 0xffff_ffff }]
  readonly features = 0n
  rvq!: DriverQueue<[number, number]>
  readonly received: Uint8Array[] = []

  constructor (readonly loop: RpmsgLoop) {}

  async probe (dev: VirtioDevice): Promise<void> {
    [this.rvq] = await dev.findVqs<[number, number]>([
      { name: 'input', callback: () => { this.onRx() } },
      { name: 'output', callback: () => {} }
    ])
    for (let i = 0; i < 4; i++) {
      const a = this.loop.pool.alloc(FIRST)!
      const b = this.loop.pool.alloc(SECOND)!
      this.rvq.add([], [{ addr: a, len: FIRST }, { addr: b, len: SECOND }], [a, b])
    }
  }

  async remove (): Promise<void> {}

  private onRx (): void {
    for (let buf = this.rvq.getBuf(); buf !== null; buf = this.rvq.getBuf()) {
      const [a, b] = buf.token
      const head = this.loop.mem.read(a, Math.min(FIRST, buf.len))
      const tail = this.loop.mem.read(b, Math.max(0, buf.len - FIRST))
      this.received.push(Buffer.concat([head, tail]))
    }
  }
}

t.test('a message lands across a split rx chain, header and payload where the segments put them', async (t) => {
  const loop = new RpmsgLoop()
  const vhostBus = new VhostBus()
  const vhostDriver = new VhostRpmsgDriver()
  await vhostBus.registerDriver(vhostDriver)
  t.equal(await vhostBus.registerDevice(loop.vhost), 'bound')
  const virtioBus = new VirtioBus()
  const driver = new SplitRxDriver(loop)
  await virtioBus.registerDriver(driver)
  t.equal(await virtioBus.addDevice(loop.virtio), 'bound')
  const bus = vhostDriver.bus(loop.vhost)

  const payload = Buffer.from('across two descriptors, header split 10 + 6')
  await bus.send(1024, 2048, payload)
  for (let i = 0; i < 100 && driver.received.length === 0; i++) await new Promise((resolve) => setImmediate(resolve))
  t.equal(driver.received.length, 1, 'one used buffer')
  const got = driver.received[0]!
  t.equal(got.length, 16 + payload.length, 'used length is header plus payload')
  // struct rpmsg_hdr: src @0, dst @4, reserved @8, len @12, flags @14 (rpmsg_internal.h).
  const v = new DataView(got.buffer, got.byteOffset, got.byteLength)
  t.equal(v.getUint32(0, true), 1024, 'src')
  t.equal(v.getUint32(4, true), 2048, 'dst')
  t.equal(v.getUint32(8, true), 0, 'reserved')
  t.equal(v.getUint16(12, true), payload.length, 'len')
  t.equal(v.getUint16(14, true), 0, 'flags')
  t.same(Buffer.from(got.subarray(16)), payload, 'payload after the header')

  const full = Buffer.alloc(496, 0x5a)
  await bus.send(1024, 2048, full)
  for (let i = 0; i < 100 && driver.received.length === 1; i++) await new Promise((resolve) => setImmediate(resolve))
  t.equal(driver.received[1]?.length, 512, 'a full buffer fills both segments exactly')
  t.same(Buffer.from(driver.received[1]!.subarray(16)), full)
})
