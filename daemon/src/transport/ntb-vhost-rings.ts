// The vhost side's rings (the RFC's ntb_vhost_create_vq in
// drivers/ntb/ntb_vhost.c: vring_init over peer MW 0 at the ring's offset,
// then vringh_init_mmio): where each ring lies in the virtio host's MW0
// (ntb-spads.ts ringOffsets), reached through peer MW 0 (ntb-vhost.ts virtioMw);
// and how this side notices what the driver did without a kick.
//
// Differences from the RFC, on purpose: rings are built at DRIVER_OK from
// the negotiated features (split or packed), not at create_vqs; a ring that
// would run past BUFFER_OFFSET is a ring error for its queue; a descriptor
// outside MW0 is a ring error that stops its queue, never an access outside
// the window; a lost kick is found by watching the driver's writes to MW0
// and, on the fallback poll, its avail index or the packed head the device
// reads next (ntb-avail-watch.ts).

import { packedDeviceRing, type VhostVirtqueue } from '../vhost/virtqueue.js'
import { Vringh } from '../vhost/vringh.js'
import { VringhPacked } from '../vhost/vringh-packed.js'
import { ringBytes } from '../virtio/virtqueue.js'
import { ringAddrs, type RingAddrs } from '../uapi/ring-addrs.js'
import { RingError } from '../uapi/ring-error.js'
import { hasFeature, VIRTIO_F_RING_PACKED } from '../uapi/virtio-config.js'
import type { OffsetView } from '../mem/offset-view.js'
import { AvailWatch } from './ntb-avail-watch.js'
import { BUFFER_OFFSET, ringOffsets, VRING_ALIGN } from './ntb-spads.js'

/** Where the device side of a ring is: the next avail entry (split) or slot (packed) it reads, the next used one it writes, the packed wrap counters. */
export interface VhostRingPosition { lastAvail: number, availWrap: boolean | null, nextUsed: number, usedWrap: boolean | null }

export class NtbVhostRings {
  /** Where each active ring is, for state views. */
  readonly addrs: Array<RingAddrs | undefined> = []
  /** The device side of each ring activated, for state views (position). */
  private readonly rings: Array<Vringh | VringhPacked | undefined> = []
  /** What the virtio side had made available in each ring at the last poll. */
  private readonly avail = new AvailWatch()

  /** Ring `n`'s position; null before its first activation. */
  position (n: number): VhostRingPosition | null {
    const r = this.rings[n]
    if (r === undefined) return null
    if (r instanceof Vringh) return { lastAvail: r.lastAvailIdx, availWrap: null, nextUsed: r.lastUsedIdx, usedWrap: null }
    return { lastAvail: r.lastAvail, availWrap: r.availWrap === 1, nextUsed: r.nextUsed, usedWrap: r.usedWrap === 1 }
  }

  /** DRIVER_OK: the rings the virtio side laid out in its MW0, in the negotiated layout. */
  activate (mw: OffsetView, features: bigint, queues: readonly VhostVirtqueue[]): void {
    const layout = hasFeature(features, VIRTIO_F_RING_PACKED) ? 'packed' : 'split'
    const { offsets } = ringOffsets(layout, queues.map((q) => q.num))
    this.avail.reset()
    for (const vq of queues) {
      vq.activate(() => {
        const at = offsets[vq.index]!
        if (at + ringBytes(layout, vq.num, VRING_ALIGN) > BUFFER_OFFSET) {
          throw new RingError('ERR_RING_SIZE', `vq ${vq.index}: a ${layout} ring of ${vq.num} at MW0 offset 0x${at.toString(16)} runs past BUFFER_OFFSET 0x${BUFFER_OFFSET.toString(16)}`)
        }
        const addrs = ringAddrs(layout, mw.start + at, vq.num, VRING_ALIGN)
        this.addrs[vq.index] = addrs
        // As createDeviceRing(), keeping the ring for position().
        const opts = { features, canAccess: (addr: number, len: number): boolean => mw.contains(addr, len) }
        const ring = layout === 'packed'
          ? new VringhPacked(mw, { num: addrs.num, desc: addrs.desc, driver: addrs.driver, device: addrs.device }, opts)
          : new Vringh(mw, { num: addrs.num, desc: addrs.desc, avail: addrs.driver, used: addrs.device }, opts)
        this.rings[vq.index] = ring
        return ring instanceof VringhPacked ? packedDeviceRing(ring) : ring
      })
    }
  }

  /**
   * The fallback poll's look at each ready ring: an interrupt is raised only
   * if one is owed (recheck), and the queue's callback runs only if the
   * driver made buffers available since the last look (`mw`: null without
   * a session).
   */
  look (mw: OffsetView | null, queues: readonly VhostVirtqueue[]): void {
    for (const vq of queues) {
      if (!vq.ready) continue
      vq.recheck()
      const a = this.addrs[vq.index]
      const ring = this.rings[vq.index]
      if (mw !== null && a !== undefined && this.avail.moved(vq.index, mw, a, ring instanceof VringhPacked ? ring : null)) vq.wake()
    }
  }

  /**
   * The virtio host wrote into its MW0 (by its addresses; PeerMw.onUpdate):
   * a write to a ring's driver area may owe an interrupt, a moved avail index
   * a look at a kick it skipped; look now, not at the next slow poll (as
   * transport/pci-epf-vhost.ts driverWrote does).
   */
  driverWrote (addr: number, length: number, queues: readonly VhostVirtqueue[]): void {
    for (const vq of queues) {
      const a = this.addrs[vq.index]
      if (a === undefined || !vq.ready) continue
      const to = a.layout === 'split' ? a.driver + 4 + 2 * a.num + 2 : a.driver + 4
      if (addr < to && addr + length > a.driver) vq.recheck()
      if (a.layout === 'split' && addr < a.driver + 4 && addr + length > a.driver + 2) queueMicrotask(() => { if (vq.ready) vq.wake() })
    }
  }
}
