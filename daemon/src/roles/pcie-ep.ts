// The ep role: a PCIe endpoint running the pci-epf-vhost function, with the
// vhost bus and its drivers above it. The function table is the pci_ep
// configfs tree; the controller starts when the root complex is linked (the
// PCIe link trains) and stops when that link goes down, which resets the
// device, as surprise removal would.

import type { Logger } from 'pino'
import type { Role, RoleApi, RoleHost } from '../role.js'
import { pcieEpApi } from './pcie-api.js'
import type { PeerLink } from '../link/peer-link.js'
import { wire } from '../link/codec.js'
import { EndpointController, PCIE_LINK } from '../hw/pcie/endpoint-controller.js'
import { FunctionTable, type FunctionConfig } from '../hw/pcie/function-table.js'
import { PciEpfVhost } from '../transport/pci-epf-vhost.js'
import { VhostBus } from '../vhost/bus.js'
import { TestVhostDriver } from '../vhost/vhost-soclink-test.js'
import { VhostRpmsgDriver } from '../rpmsg/vhost-rpmsg.js'
import { vhostDriverDeviceId } from '../uapi/soclink-ids.js'
import { ConfigError, UnavailableError } from '../errors.js'

export const CONTROLLER = 'pcie0'

export class PcieEndpointRole implements Role {
  readonly functions: FunctionTable
  readonly vhostBus = new VhostBus()
  readonly testDriver: TestVhostDriver
  /** vhost_rpmsg_bus: binds a function whose vhostDriver is 'rpmsg'; each bus is a virtproc of the node's rpmsg table. */
  readonly rpmsgDriver: VhostRpmsgDriver
  readonly name = 'ep'
  /** What the role uses of its node. */
  readonly node: RoleHost
  /** Its routes (ntb-api.ts, pcie-api.ts). */
  readonly api: RoleApi = pcieEpApi(this)
  private readonly logger: Logger
  private rcPeer: string | null = null
  private ctrl: EndpointController | null = null
  private transport: PciEpfVhost | null = null
  /** Controllers to start whenever the root complex links. */
  private readonly autostart = new Set<string>()

  constructor (node: RoleHost) {
    this.node = node
    this.logger = node.logger.child({ layer: 'pcie-ep' })
    this.testDriver = new TestVhostDriver()
    this.rpmsgDriver = new VhostRpmsgDriver({ drivers: node.rpmsg!, bufSize: node.settings.rpmsgBufSize, numBufs: node.settings.rpmsgNumBufs })
    this.functions = new FunctionTable([CONTROLLER], {
      start: async (_ctrl, fn) => { await this.startFunction(fn) },
      stop: async () => { await this.stopFunction() },
      check: (fn) => { checkRpmsgRings(fn, node.settings.rpmsgNumBufs) }
    })
  }

  async start (): Promise<void> {
    await this.vhostBus.registerDriver(this.testDriver)
    await this.vhostBus.registerDriver(this.rpmsgDriver)
    for (const f of this.node.settings.pcieFunctions) {
      const { name, controller, ...attrs } = f
      this.functions.create(name, { vhostDriver: this.node.settings.vhostDriver, ...attrs })
      if (controller !== undefined) {
        this.functions.link(controller, name)
        this.autostart.add(controller)
      }
    }
    this.node.links.on('up', (link) => { this.linkUp(link) })
    this.node.links.on('down', (link) => {
      if (link.name !== this.rcPeer) return
      this.rcPeer = null
      void this.functions.stop(CONTROLLER).catch((err: Error) => { this.logger.warn({ err: err.message }, 'stop failed') })
    })
  }

  /** Nothing to undo: the node's links close next, and each peer's going takes its devices down as surprise removal does. */
  async stop (): Promise<void> {}

  private linkUp (link: PeerLink): void {
    if (link.role !== wire.Role.ROLE_RC) return
    this.rcPeer = link.name
    for (const c of this.autostart) {
      void this.functions.start(c).catch((err: Error) => { this.logger.error({ err: err.message }, 'endpoint function did not start') })
    }
  }

  private async startFunction (fn: FunctionConfig): Promise<void> {
    const rc = this.rcPeer
    if (rc === null) throw new UnavailableError('no root complex is linked: start the controller once an rc peer is up')
    const id = vhostDriverDeviceId(fn.vhostDriver)
    if (id !== null) fn.subsysId = id
    const ctrl = new EndpointController({
      regions: this.node.regions,
      requester: this.node.requester,
      doorbellRing: (target, value) => { this.node.ring(rc, target, value) },
      sendLinkEvent: (up, reason) => { this.node.sendLinkEvent(rc, PCIE_LINK, up, reason) },
      rcPeer: rc,
      name: CONTROLLER
    })
    const transport = new PciEpfVhost({ ctrl, fn, rcMemorySize: this.node.settings.memorySize, logger: this.logger })
    await this.vhostBus.registerDevice(transport.device)
    transport.start()
    this.ctrl = ctrl
    this.transport = transport
    this.logger.info({ function: fn.name, rc }, 'endpoint function started')
  }

  private async stopFunction (): Promise<void> {
    const t = this.transport
    this.transport = null
    this.ctrl = null
    if (t === null) return
    await this.vhostBus.unregisterDevice(t.device)
    t.stop()
  }

  get controller (): EndpointController | null { return this.ctrl }
  get epf (): PciEpfVhost | null { return this.transport }
}

/**
 * rpmsgNumBufs sizes the rings of every function running the rpmsg driver
 * (vhost_rpmsg_bus asks vhost_create_vqs() for that many buffers, as the
 * RFC's asks for MAX_RPMSG_NUM_BUFS / 2). A function's vringSize may say
 * the same, or 0 (as the driver asks); another size is refused, not
 * silently preferred.
 */
export function checkRpmsgRings (fn: FunctionConfig, rpmsgNumBufs: number): void {
  if (fn.vhostDriver !== 'rpmsg' || fn.vringSize === 0 || fn.vringSize === rpmsgNumBufs) return
  throw new ConfigError(`function ${fn.name}: vringSize ${fn.vringSize} disagrees with rpmsgNumBufs ${rpmsgNumBufs}, which sizes the rings of the rpmsg driver; leave vringSize 0 (as the driver asks) or set it to ${rpmsgNumBufs}`)
}
