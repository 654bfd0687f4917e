// The ntb-vhost (HOST1) and ntb-virtio (HOST2) roles: a host is a root
// complex (system memory of memorySize) behind one endpoint controller of
// the NTB board. When the board's LinkEvent 'pcie' arrives the host
// enumerates the function (as the rc role does), binds ntb_hw_epf to it
// (drivers/ntb/hw/epf/ntb_hw_epf.c: init, then the client's link enable)
// and runs the RFC's NTB transport above it, with the same virtio, vhost
// and rpmsg code as the PCIe roles:
//   - ntb-virtio: ntb_virtio (transport/ntb-virtio.ts) on a virtio bus with
//     virtio_rpmsg_bus and the soclink test driver. MW0, where rings and
//     buffers live, is carved out of system memory at MW0_BASE (1 MiB, a
//     multiple of ntb_hw_epf's 4 KiB translation alignment, so that low
//     memory and address 0 are never a buffer); it may take everything
//     above that, and takes the size the vhost side offers (its peer MW0,
//     ntbMwSize on the board);
//   - ntb-vhost: ntb_vhost (transport/ntb-vhost.ts) on a vhost bus with
//     vhost_rpmsg_bus and the test vhost driver; the vhost device registers
//     with the id of the vhost-client item linked into vhost-transport
//     (ntb-vhost-cfs.ts; at start the one vhostDriver names, rpmsg:
//     {VIRTIO_ID_RPMSG, VIRTIO_DEV_ANY_ID}; none: it waits for a link).
// The board's link going down, or the function being removed, is surprise
// removal: the NTB device is disposed, the transport stopped and its
// devices removed; all of it comes back on the next enumeration. A bring-up
// (ntb_hw_epf init, the transport's start) that timed out because the board
// did not answer is undone and tried again with backoff while the function
// is there (hw/bring-up-retry.ts).

import type { Logger } from 'pino'
import type { Role, RoleApi, RoleHost } from '../role.js'
import { ntbHostApi } from './ntb-api.js'
import { PCIE_LINK } from '../hw/pcie/endpoint-controller.js'
import { RootComplex, type EndpointFunction } from '../hw/pcie/root-complex.js'
import { NtbHwEpf, matchesNtbEpf } from '../hw/ntb/ntb-hw-epf.js'
import { NtbVirtio } from '../transport/ntb-virtio.js'
import { NtbVhost } from '../transport/ntb-vhost.js'
import { NtbPerf } from '../transport/ntb-perf.js'
import { BUFFER_OFFSET } from '../transport/ntb-spads.js'
import { VirtioBus } from '../virtio/bus.js'
import { TestVirtioDriver } from '../virtio/virtio-soclink-test.js'
import { VhostBus } from '../vhost/bus.js'
import { TestVhostDriver } from '../vhost/vhost-soclink-test.js'
import { VirtioRpmsgDriver } from '../rpmsg/virtio-rpmsg.js'
import { VhostRpmsgDriver } from '../rpmsg/vhost-rpmsg.js'
import { ConfigError } from '../errors.js'
import { BringUpRetry, retriable } from '../hw/bring-up-retry.js'
import { NtbVhostLink } from './ntb-vhost-cfs.js'
import { NtbTool } from './ntb-tool.js'

/** Where MW0 starts in an ntb-virtio host's system memory. */
export const MW0_BASE = 0x10_0000

export type NtbSide = 'virtio' | 'vhost'

export class NtbHostRole implements Role {
  readonly side: NtbSide
  readonly rc: RootComplex
  readonly virtioBus: VirtioBus | null
  readonly vhostBus: VhostBus | null
  /** ntb_hw_epf bound to the board's function, while it is there. */
  device: NtbHwEpf | null = null
  /** The transport of the current device, once started. */
  virtio: NtbVirtio | null = null
  vhost: NtbVhost | null = null
  /** ntb-vhost: the vhost-client item linked into vhost-transport (set in init, once the drivers are registered). */
  vhostLink: NtbVhostLink | null = null
  /** ntb_perf beside the transport (transport/ntb-perf.ts), on the same device. */
  perf: NtbPerf | null = null
  /** ntb_tool on the device, refusing what the transport and ntb_perf own (ntb-tool.ts). */
  readonly tool: NtbTool = new NtbTool(this)
  /** Why the last device did not come up, if it did not. */
  lastError = ''
  /** The device's bring-up timed out and is tried again. */
  readonly retry = new BringUpRetry()
  /** ntb-virtio or ntb-vhost. */
  readonly name: string
  /** What the role uses of its node. */
  readonly node: RoleHost
  /** Its routes (ntb-api.ts, pcie-api.ts). */
  readonly api: RoleApi = ntbHostApi(this)
  private readonly logger: Logger
  /** Binding and removal, one at a time, in order. */
  private work: Promise<void> = Promise.resolve()

  constructor (node: RoleHost, side: NtbSide) {
    this.node = node
    this.side = side
    this.name = `ntb-${side}`
    this.logger = node.logger.child({ layer: `ntb-${side}` })
    const s = node.settings
    if (side === 'virtio' && s.memorySize < MW0_BASE + 2 * BUFFER_OFFSET) {
      throw new ConfigError(`memorySize ${s.memorySize}: an ntb-virtio host needs more than ${MW0_BASE + 2 * BUFFER_OFFSET} bytes (MW0 starts at 0x${MW0_BASE.toString(16)})`)
    }
    this.rc = new RootComplex({ regions: node.regions, requester: node.requester, doorbells: node.doorbells, memorySize: s.memorySize, logger: this.logger })
    this.virtioBus = side === 'virtio' ? new VirtioBus() : null
    this.vhostBus = side === 'vhost' ? new VhostBus() : null
  }

  async start (): Promise<void> {
    const s = this.node.settings
    const packed = s.ring === 'packed'
    await this.virtioBus?.registerDriver(new TestVirtioDriver({ packed }))
    // As the PCIe roles build them: the same drivers, the same buffer size.
    await this.virtioBus?.registerDriver(new VirtioRpmsgDriver({ packed, drivers: this.node.rpmsg!, bufSize: s.rpmsgBufSize, numBufs: s.rpmsgNumBufs, binding: { mode: s.rpmsgBind, channels: s.rpmsgBindChannels } }))
    await this.vhostBus?.registerDriver(new TestVhostDriver())
    await this.vhostBus?.registerDriver(new VhostRpmsgDriver({ drivers: this.node.rpmsg!, bufSize: s.rpmsgBufSize, numBufs: s.rpmsgNumBufs }))
    if (this.vhostBus !== null) this.vhostLink = new NtbVhostLink(this.vhostBus, s.vhostDriver, this.logger)
    this.node.onLinkEvent((peer, link, up, reason) => { if (link === PCIE_LINK) this.rc.linkEvent(peer, up, reason) })
    this.node.links.on('down', (link, reason) => { this.rc.peerDown(link.name, reason) })
    this.rc.on('enumerated', (fn) => { this.enumerated(fn) })
    this.rc.on('removed', (peer, reason) => { this.removed(peer, reason) })
    this.rc.on('failed', (peer, message) => { this.logger.error({ peer, message }, 'enumeration failed') })
  }

  /** Nothing to undo: the node's links close next, and each peer's going takes its devices down as surprise removal does. */
  async stop (): Promise<void> {}

  /** The board whose function is bound, if any. */
  get board (): string | null { return this.device?.peer ?? null }

  private enumerated (fn: EndpointFunction): void {
    if (!matchesNtbEpf(fn)) {
      this.logger.info({ peer: fn.peer, vendor: fn.header.vendorId, device: fn.header.deviceId }, 'no driver for this function')
      return
    }
    if (this.device !== null) {
      this.logger.warn({ peer: fn.peer, bound: this.device.peer }, 'a second NTB function: this host drives one NTB')
      return
    }
    const dev = new NtbHwEpf({ fn, rc: this.rc })
    this.device = dev
    this.logger.info({ peer: fn.peer, bars: fn.bars.map((b) => b.index) }, 'ntb_hw_epf bound to the board\'s NTB function')
    this.retry.reset()
    this.bringUp(dev)
  }

  /** ntb_hw_epf init (once), then the transport; after a timeout, undone and tried again later. */
  private bringUp (dev: NtbHwEpf): void {
    this.serial(async () => {
      if (this.device !== dev) return
      try {
        if (!dev.ready) {
          await dev.init()
          const st = dev.state()
          this.logger.info({ peer: dev.peer, vectors: st.vectors, mws: st.mwCount, spads: st.spadCount }, 'ntb_hw_epf ready: doorbells configured')
        }
        if (this.device !== dev) return
        await this.startTransport(dev)
        this.retry.reset()
      } catch (err) {
        if (!retriable(err) || this.device !== dev) throw err
        await this.stopTransport()
        const retryMs = this.retry.schedule(() => { if (this.device === dev) this.bringUp(dev) })
        this.logger.warn({ peer: dev.peer, err: (err as Error).message, retryMs }, 'ntb bring-up timed out; it is tried again')
        throw err
      }
    })
  }

  /** Surprise removal: no more interrupts or commands, then the transport and its devices go. */
  private removed (peer: string, reason: string): void {
    const dev = this.device
    if (dev === null || dev.peer !== peer) return
    this.device = null
    this.retry.reset()
    dev.dispose()
    this.logger.info({ peer, reason }, 'the board\'s NTB function is gone: device removed')
    this.serial(async () => { await this.stopTransport() })
  }

  private async startTransport (ntb: NtbHwEpf): Promise<void> {
    const s = this.node.settings
    if (this.side === 'virtio') {
      const t = new NtbVirtio({ ntb, memory: this.rc.sysmem, base: MW0_BASE, size: s.memorySize - MW0_BASE, bus: this.virtioBus!, logger: this.logger })
      t.on('device', (dev, outcome) => { this.logger.info({ device: dev.name, outcome, status: dev.status }, 'virtio device probed') })
      t.on('removed', (dev, reason) => { this.logger.info({ device: dev.name, reason }, 'virtio device removed') })
      this.virtio = t
      await t.start()
    } else {
      // Unregistered until the linked vhost-client item registers it (ntb-vhost-cfs.ts).
      const t = new NtbVhost({ ntb, id: { device: 0, vendor: 0 }, logger: this.logger, registered: false })
      t.on('up', (addr) => { this.logger.info({ virtioAddr: addr }, 'vhost device serving the virtio host') })
      t.on('down', (reason) => { this.logger.info({ reason }, 'vhost device reset') })
      this.vhost = t
      await this.vhostLink!.attach(t)
      await t.start()
    }
    this.perf = new NtbPerf({ ntb, memorySize: s.memorySize, mw0Base: MW0_BASE, logger: this.logger })
    this.perf.start()
    this.lastError = ''
    this.logger.info({ board: ntb.peer }, 'ntb link enabled; the transport waits for the other host')
  }

  private async stopTransport (): Promise<void> {
    const p = this.perf
    this.perf = null
    await p?.stop()
    const v = this.virtio
    this.virtio = null
    await v?.stop()
    const h = this.vhost
    this.vhost = null
    if (h !== null) {
      await h.stop()
      await this.vhostBus!.unregisterDevice(h.device)
    }
  }

  private serial (fn: () => Promise<void>): void {
    this.work = this.work.then(fn).catch((err: unknown) => {
      this.lastError = err instanceof Error ? err.message : String(err)
      this.logger.error({ err: this.lastError }, 'ntb device did not come up')
    })
  }
}
