// The rc role: a PCIe root complex with system memory, the virtio-pci-epf
// transport for each endpoint function it enumerates, and the virtio bus
// and its drivers above. LinkEvents from an endpoint drive enumeration;
// a peer whose link goes down is removed, as on surprise removal. A probe
// that timed out (the endpoint did not answer its commands) is tried again
// with backoff while the function is there (hw/bring-up-retry.ts).

import type { Logger } from 'pino'
import type { Role, RoleApi, RoleHost } from '../role.js'
import { pcieRcApi } from './pcie-api.js'
import { PCIE_LINK } from '../hw/pcie/endpoint-controller.js'
import { RootComplex, type EndpointFunction } from '../hw/pcie/root-complex.js'
import { BringUpRetry, retriable } from '../hw/bring-up-retry.js'
import type { ProbeOutcome } from '../virtio/bus.js'
import { isEpfVhost, VirtioPciEpf } from '../transport/virtio-pci-epf.js'
import { VirtioBus } from '../virtio/bus.js'
import { FirstFitPool } from '../virtio/buffer-pool.js'
import { TestVirtioDriver } from '../virtio/virtio-soclink-test.js'
import { VirtioRpmsgDriver } from '../rpmsg/virtio-rpmsg.js'

/** System memory below this stays unused, so that address 0 is never a buffer. */
const POOL_BASE = 0x10000

export class PcieRootComplexRole implements Role {
  readonly rc: RootComplex
  readonly virtioBus = new VirtioBus()
  readonly testDriver: TestVirtioDriver
  /** virtio_rpmsg_bus: binds functions whose subsystem id is VIRTIO_ID_RPMSG. */
  readonly rpmsgDriver: VirtioRpmsgDriver
  readonly pool: FirstFitPool
  readonly transports = new Map<string, VirtioPciEpf>()
  readonly name = 'rc'
  /** What the role uses of its node. */
  readonly node: RoleHost
  /** Its routes (ntb-api.ts, pcie-api.ts). */
  readonly api: RoleApi = pcieRcApi(this)
  private readonly logger: Logger
  /** Per transport, while its function is there: probes tried again after a timeout. */
  private readonly retries = new Map<VirtioPciEpf, BringUpRetry>()

  constructor (node: RoleHost) {
    this.node = node
    this.logger = node.logger.child({ layer: 'pcie-rc' })
    const s = node.settings
    this.rc = new RootComplex({ regions: node.regions, requester: node.requester, doorbells: node.doorbells, memorySize: s.memorySize, logger: this.logger })
    this.pool = new FirstFitPool(this.rc.sysmem, POOL_BASE, s.memorySize - POOL_BASE)
    this.testDriver = new TestVirtioDriver({ packed: s.ring === 'packed' })
    this.rpmsgDriver = new VirtioRpmsgDriver({ packed: s.ring === 'packed', drivers: node.rpmsg!, bufSize: s.rpmsgBufSize, numBufs: s.rpmsgNumBufs, binding: { mode: s.rpmsgBind, channels: s.rpmsgBindChannels } })
  }

  async start (): Promise<void> {
    await this.virtioBus.registerDriver(this.testDriver)
    await this.virtioBus.registerDriver(this.rpmsgDriver)
    this.node.onLinkEvent((peer, link, up, reason) => { if (link === PCIE_LINK) this.rc.linkEvent(peer, up, reason) })
    this.node.links.on('down', (link, reason) => { this.rc.peerDown(link.name, reason) })
    this.rc.on('enumerated', (fn) => { this.attach(fn) })
    this.rc.on('removed', (peer) => { void this.detach(peer) })
    this.rc.on('failed', (peer, message) => { this.logger.error({ peer, message }, 'enumeration failed') })
  }

  /** Nothing to undo: the node's links close next, and each peer's going takes its devices down as surprise removal does. */
  async stop (): Promise<void> {}

  private attach (fn: EndpointFunction): void {
    if (!isEpfVhost(fn)) {
      this.logger.info({ peer: fn.peer, vendor: fn.header.vendorId, device: fn.header.deviceId }, 'no driver for this function')
      return
    }
    const t = new VirtioPciEpf({ fn, rc: this.rc, pool: this.pool, msi: this.node.settings.interrupts === 'msi', logger: this.logger })
    t.onNeedsReset = () => { void this.virtioBus.deviceNeedsReset(t.device).then((outcome) => { this.probed(t, outcome) }) }
    this.transports.set(fn.peer, t)
    this.retries.set(t, new BringUpRetry())
    void this.virtioBus.addDevice(t.device).then((outcome) => { this.probed(t, outcome) })
  }

  /** A probe's outcome; one that failed on a timeout is tried again later, while the function is there. */
  private probed (t: VirtioPciEpf, outcome: ProbeOutcome): void {
    const retry = this.retries.get(t)
    if (retry === undefined) return
    const dev = t.device
    if (outcome === 'bound') retry.reset()
    const retryMs = outcome === 'failed' && retriable(dev.lastError)
      ? retry.schedule(() => {
        if (this.retries.get(t) === retry) void this.virtioBus.reprobe(dev).then((again) => { this.probed(t, again) })
      })
      : null
    dev.retrying = retryMs !== null
    const why = outcome === 'failed' ? { err: dev.lastError?.message, retryMs } : {}
    this.logger.info({ peer: t.peer, outcome, status: t.device.status, ...why }, 'virtio device probed')
  }

  private async detach (peer: string): Promise<void> {
    const t = this.transports.get(peer)
    if (t === undefined) return
    this.transports.delete(peer)
    this.retries.get(t)?.cancel()
    this.retries.delete(t)
    t.device.retrying = false
    t.close()
    await this.virtioBus.removeDevice(t.device)
  }
}
