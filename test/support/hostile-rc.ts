// A root complex that breaks the virtio rules on purpose: an in-process rc
// node whose virtio test driver brings the ep's device to DRIVER_OK, after
// which the test writes broken split rings straight into rc system memory
// and kicks through the real BAR0 register block (QUEUE_CMD(n) = NOTIFY), as
// a buggy or hostile virtio driver on the root complex could.

import type { SoclinkNode } from '../../daemon/src/node.js'
import type { Region } from '../../daemon/src/mem/region.js'
import type { Window } from '../../daemon/src/mem/window.js'
import type { VirtioPciEpf } from '../../daemon/src/transport/virtio-pci-epf.js'
import type { RingAddrs } from '../../daemon/src/virtio/virtqueue.js'
import { CmdStatus, DEVICE_STATUS, HOST_CMD, HOST_CMD_STATUS, HostCmd, QueueCmd, queueReg } from '../../daemon/src/transport/epf-vhost-regs.js'
import { VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FAILED, VIRTIO_CONFIG_S_NEEDS_RESET } from '../../daemon/src/uapi/virtio-config.js'
import { VRING_DESC_SIZE } from '../../daemon/src/uapi/virtio-ring.js'
import { until } from './daemon.js'

/**
 * The rc's transport for `peer`'s function once the device reached DRIVER_OK
 * (not NEEDS_RESET, not FAILED) and the SET_STATUS that put it there has been
 * answered (HOST_CMD and HOST_CMD_STATUS back to NONE): the bus has finished
 * the probe by the next turn of the event loop, which is when this resolves.
 */
export async function driverOk (rc: SoclinkNode, peer = 'ep', ms = 10_000): Promise<VirtioPciEpf> {
  const tr = await until(`${peer}: virtio device at DRIVER_OK`, () => {
    const tr = rc.pcieRc!.transports.get(peer)
    if (tr === undefined || tr.device.driver === undefined) return undefined
    const s = tr.device.status
    if ((s & VIRTIO_CONFIG_S_DRIVER_OK) === 0 || (s & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)) !== 0) return undefined
    const bar0 = bar0Of(rc, peer)
    return bar0.read8(HOST_CMD) === HostCmd.NONE && bar0.read8(HOST_CMD_STATUS) === CmdStatus.NONE ? tr : undefined
  }, ms)
  await new Promise((resolve) => setImmediate(resolve))
  return tr
}

/** The rc's replica window onto `peer`'s BAR0 (the transport keeps its own private). */
export function bar0Of (rc: SoclinkNode, peer = 'ep'): Window {
  const fn = rc.pcieRc!.rc.functionOf(peer)
  const bar = fn?.bars.find((b) => b.index === 0)
  if (bar === undefined) throw new Error(`${peer}: no enumerated BAR0`)
  return bar.window
}

/** Sysmem, queue n's ring addresses, and how to break it. */
export class HostileRing {
  readonly mem: Region
  readonly addrs: RingAddrs
  constructor (readonly rc: SoclinkNode, readonly transport: VirtioPciEpf, readonly n: number) {
    this.mem = rc.pcieRc!.rc.sysmem
    const vq = transport.vqs[n]
    if (vq === undefined) throw new Error(`no queue ${n}`)
    if (vq.addrs.layout !== 'split') throw new Error('HostileRing writes split rings only')
    this.addrs = vq.addrs
  }

  get num (): number { return this.addrs.num }

  /** Writes desc[i] (struct vring_desc: addr u64, len u32, flags u16, next u16). */
  desc (i: number, d: { addr: number, len: number, flags: number, next?: number }): void {
    const b = Buffer.alloc(VRING_DESC_SIZE)
    b.writeUInt32LE(d.addr % 0x1_0000_0000, 0)
    b.writeUInt32LE(Math.floor(d.addr / 0x1_0000_0000), 4)
    b.writeUInt32LE(d.len, 8)
    b.writeUInt16LE(d.flags, 12)
    b.writeUInt16LE(d.next ?? 0, 14)
    this.mem.write(this.addrs.desc + VRING_DESC_SIZE * i, b)
  }

  get availIdx (): number { return this.mem.read16(this.addrs.driver + 2) }

  /** avail->ring[availIdx & (num - 1)] = head, then avail->idx += 1. */
  publish (head: number): void {
    const idx = this.availIdx
    this.mem.write16(this.addrs.driver + 4 + 2 * (idx & (this.num - 1)), head)
    this.mem.write16(this.addrs.driver + 2, (idx + 1) & 0xffff)
  }

  /** avail->idx = idx, whatever the ring holds. */
  setAvailIdx (idx: number): void {
    this.mem.write16(this.addrs.driver + 2, idx & 0xffff)
  }

  /** QUEUE_CMD(n) = NOTIFY through the rc's BAR0 window, after the ring writes on the same link. */
  kick (): void {
    bar0Of(this.rc, this.transport.peer).write8(queueReg(this.n).cmd, QueueCmd.NOTIFY)
  }
}

/**
 * Records every DEVICE_STATUS value the rc's BAR0 replica takes, so a bit
 * that is set and soon cleared again (NEEDS_RESET before the re-probe) is
 * not missed between polls.
 */
export function watchDeviceStatus (bar0: Window): { seen: number[], stop: () => void } {
  const seen: number[] = []
  const stop = bar0.onUpdate((offset, length) => {
    if (offset <= DEVICE_STATUS && offset + length > DEVICE_STATUS && bar0.state === 'open') seen.push(bar0.read8(DEVICE_STATUS))
  })
  return { seen, stop }
}

