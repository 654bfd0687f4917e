// The endpoint's configuration tree, as Linux's pci_ep configfs lays it out
// (Documentation/PCI/endpoint/pci-endpoint-cfs.rst): functions created under
// functions/<driver>/<name> with their header attributes, linked into a
// controller under controllers/<epc>/, and the controller started or stopped.
// Pure bookkeeping: starting and stopping are done by the hooks the role
// gives, so this file holds no sockets. Starts and stops of one controller
// run one at a time, in the order asked (as configfs's start attribute is
// written under the EPC's lock): a link that drops and comes back in one
// turn queues a stop and a start, and the start finds the old function
// gone instead of its BARs still there.

import { ConflictError, NotFoundError } from '../../errors.js'

import { VHOST_DRIVERS } from '../../../../proto/api/names.js'

/** The vhost-client drivers the ep role registers (the API's vocabulary, proto/api/names.ts). */
export { VHOST_DRIVERS }

export interface FunctionConfig {
  name: string
  /** The function driver (pci-epf-vhost is the only one). */
  type: 'vhost'
  vendorId: number
  deviceId: number
  revisionId: number
  classCode: number
  subsysVendorId: number
  subsysId: number
  interruptPin: number
  msiInterrupts: number
  /** Virtqueues the vhost device creates at most. */
  numVrings: number
  /**
   * Buffers in each virtqueue; 0 (the default): as many as the vhost driver
   * asks (vhost_create_vqs()'s num_bufs: rpmsgNumBufs for rpmsg). A
   * function running the rpmsg driver must leave it 0 or set it equal to
   * rpmsgNumBufs (FunctionChecks), so that one setting sizes rpmsg rings.
   */
  vringSize: number
  /** The vhost-client driver linked to the function (RFC: vhost-client/<driver>/...). */
  vhostDriver: typeof VHOST_DRIVERS[number]
}

export interface ControllerState {
  name: string
  function: string | null
  started: boolean
  lastError: string
}

/** Defaults that match the RFC's RC driver (TI DRA74x ids, PCI_CLASS_OTHERS, INTA). */
export const FUNCTION_DEFAULTS: Omit<FunctionConfig, 'name'> = {
  type: 'vhost',
  vendorId: 0x104c,
  deviceId: 0xb500,
  revisionId: 0,
  classCode: 0xff0000,
  subsysVendorId: 0xffff,
  subsysId: 0xffe0,
  interruptPin: 1,
  msiInterrupts: 9,
  numVrings: 2,
  vringSize: 0,
  vhostDriver: 'soclink-test'
}

export interface ControllerHooks {
  start (ctrl: string, fn: FunctionConfig): Promise<void>
  stop (ctrl: string): Promise<void>
  /** Refuses (throws) a function's attributes the role cannot run, before create() or update() keeps them. */
  check?: (fn: FunctionConfig) => void
}

export class FunctionTable {
  private readonly functions = new Map<string, FunctionConfig>()
  private readonly controllers = new Map<string, ControllerState>()
  private readonly hooks: ControllerHooks
  /** Per controller: the start or stop running now and those queued behind it. */
  private readonly queues = new Map<string, Promise<unknown>>()

  constructor (controllerNames: string[], hooks: ControllerHooks) {
    for (const name of controllerNames) this.controllers.set(name, { name, function: null, started: false, lastError: '' })
    this.hooks = hooks
  }

  create (name: string, attrs: Partial<Omit<FunctionConfig, 'name'>> = {}): FunctionConfig {
    if (this.functions.has(name)) throw new ConflictError(`function ${name} exists`)
    const fn: FunctionConfig = { ...FUNCTION_DEFAULTS, ...attrs, name }
    this.hooks.check?.(fn)
    this.functions.set(name, fn)
    return fn
  }

  /** Changes attributes; a function whose controller is started is busy (-EBUSY). */
  update (name: string, attrs: Partial<Omit<FunctionConfig, 'name'>>): FunctionConfig {
    const fn = this.fn(name)
    const ctrl = this.controllerOf(name)
    if (ctrl?.started === true) throw new ConflictError(`function ${name} is busy: controller ${ctrl.name} is started`)
    this.hooks.check?.({ ...fn, ...attrs })
    Object.assign(fn, attrs)
    return fn
  }

  remove (name: string): void {
    this.fn(name)
    const ctrl = this.controllerOf(name)
    if (ctrl !== undefined) throw new ConflictError(`function ${name} is linked to ${ctrl.name}; unlink it first`)
    this.functions.delete(name)
  }

  link (ctrlName: string, name: string): void {
    this.fn(name)
    const ctrl = this.ctrl(ctrlName)
    const other = this.controllerOf(name)
    if (other !== undefined) throw new ConflictError(`function ${name} is busy: linked to ${other.name}`)
    if (ctrl.function !== null) throw new ConflictError(`controller ${ctrlName} is busy: ${ctrl.function} is linked`)
    ctrl.function = name
  }

  unlink (ctrlName: string, name: string): void {
    const ctrl = this.ctrl(ctrlName)
    if (ctrl.function !== name) throw new NotFoundError(`link ${ctrlName} →`, name)
    if (ctrl.started) throw new ConflictError(`controller ${ctrlName} is started; stop it first`)
    ctrl.function = null
  }

  /** Starts the controller once any start or stop asked before has finished. */
  async start (ctrlName: string): Promise<ControllerState> {
    this.ctrl(ctrlName)
    return await this.inTurn(ctrlName, async () => await this.startNow(ctrlName))
  }

  /** Stops the controller once any start or stop asked before has finished. */
  async stop (ctrlName: string): Promise<ControllerState> {
    this.ctrl(ctrlName)
    return await this.inTurn(ctrlName, async () => await this.stopNow(ctrlName))
  }

  private async inTurn<T> (ctrlName: string, op: () => Promise<T>): Promise<T> {
    const before = this.queues.get(ctrlName)
    const mine = before === undefined ? op() : before.then(op)
    const settled = mine.catch(() => undefined)
    this.queues.set(ctrlName, settled)
    void settled.then(() => { if (this.queues.get(ctrlName) === settled) this.queues.delete(ctrlName) })
    return await mine
  }

  private async startNow (ctrlName: string): Promise<ControllerState> {
    const ctrl = this.ctrl(ctrlName)
    if (ctrl.started) return ctrl
    if (ctrl.function === null) throw new ConflictError(`controller ${ctrlName} has no function linked`)
    try {
      await this.hooks.start(ctrlName, this.fn(ctrl.function))
      ctrl.started = true
      ctrl.lastError = ''
    } catch (err) {
      ctrl.lastError = (err as Error).message
      throw err
    }
    return ctrl
  }

  private async stopNow (ctrlName: string): Promise<ControllerState> {
    const ctrl = this.ctrl(ctrlName)
    if (!ctrl.started) return ctrl
    ctrl.started = false
    await this.hooks.stop(ctrlName)
    return ctrl
  }

  tree (): { functions: FunctionConfig[], controllers: ControllerState[] } {
    return { functions: [...this.functions.values()], controllers: [...this.controllers.values()] }
  }

  fn (name: string): FunctionConfig {
    const fn = this.functions.get(name)
    if (fn === undefined) throw new NotFoundError('function', name)
    return fn
  }

  ctrl (name: string): ControllerState {
    const c = this.controllers.get(name)
    if (c === undefined) throw new NotFoundError('controller', name)
    return c
  }

  private controllerOf (fn: string): ControllerState | undefined {
    return [...this.controllers.values()].find((c) => c.function === fn)
  }
}
