// The root complex's side of the RFC's command handshake (virtio_pci_epf.c):
// write a command byte into BAR0, wait until the endpoint answers OKAY or
// ERROR in the status byte, then write the status back to NONE. The RFC
// polls with usleep and holds a mutex; here a command waits for the BAR0
// replica's Update instead, so the event loop never blocks, and commands on
// one register are queued one after another (the mutex). Queue NOTIFY is
// posted: it takes no status, and a kick while a command is outstanding on
// that queue waits for it and is coalesced with other kicks.

import type { Window } from '../mem/window.js'
import { CommandError, TimeoutError, UnavailableError } from '../errors.js'
import { CmdStatus, COMMAND_TIMEOUT_MS, HOST_CMD, HOST_CMD_STATUS, QueueCmd, queueReg } from './epf-vhost-regs.js'

interface Slot {
  /** The tail of this register's queue of commands. */
  tail: Promise<void>
  busy: boolean
  kickPending: boolean
}

export class CommandChannel {
  private readonly bar: Window
  private readonly timeoutMs: number
  private readonly host: Slot = { tail: Promise.resolve(), busy: false, kickPending: false }
  private readonly queues = new Map<number, Slot>()
  private readonly waiters = new Set<() => void>()
  private readonly stopListening: () => void

  constructor (bar: Window, timeoutMs = COMMAND_TIMEOUT_MS) {
    this.bar = bar
    this.timeoutMs = timeoutMs
    this.stopListening = bar.onUpdate(() => { for (const w of [...this.waiters]) w() })
  }

  /** HOST_CMD: SET_STATUS, FINALIZE_FEATURES or RESET. */
  async hostCommand (cmd: number, what: string): Promise<void> {
    await this.run(this.host, HOST_CMD, HOST_CMD_STATUS, cmd, what)
  }

  /** QUEUE_CMD(n): ACTIVATE or DEACTIVATE. */
  async queueCommand (n: number, cmd: number, what: string): Promise<void> {
    const r = queueReg(n)
    const slot = this.slot(n)
    await this.run(slot, r.cmd, r.cmdStatus, cmd, what)
    if (slot.kickPending && !slot.busy) this.notify(n)
  }

  /** QUEUE_CMD(n) = NOTIFY, posted; coalesced while a command is outstanding. */
  notify (n: number): void {
    const slot = this.slot(n)
    if (slot.busy) { slot.kickPending = true; return }
    slot.kickPending = false
    this.bar.write8(queueReg(n).cmd, QueueCmd.NOTIFY)
  }

  close (): void {
    this.stopListening()
    for (const w of [...this.waiters]) w()
  }

  private slot (n: number): Slot {
    let s = this.queues.get(n)
    if (s === undefined) { s = { tail: Promise.resolve(), busy: false, kickPending: false }; this.queues.set(n, s) }
    return s
  }

  private async run (slot: Slot, cmdOff: number, statusOff: number, cmd: number, what: string): Promise<void> {
    const prev = slot.tail
    let release!: () => void
    slot.tail = new Promise((resolve) => { release = resolve })
    await prev
    if (this.bar.state !== 'open') { release(); throw new UnavailableError(`${what}: BAR0 is not mapped (${this.bar.state})`) }
    slot.busy = true
    try {
      this.bar.write8(statusOff, CmdStatus.NONE)
      this.bar.write8(cmdOff, cmd)
      const status = await this.awaitStatus(statusOff, what)
      this.bar.write8(statusOff, CmdStatus.NONE)
      if (status === CmdStatus.ERROR) throw new CommandError(`${what}: the endpoint answered ERROR`)
    } finally {
      slot.busy = false
      release()
    }
  }

  private async awaitStatus (statusOff: number, what: string): Promise<number> {
    return await new Promise((resolve, reject) => {
      const check = (): void => {
        const s = this.bar.state === 'open' ? this.bar.read8(statusOff) : -1
        if (s === CmdStatus.OKAY || s === CmdStatus.ERROR) { done(); resolve(s) } else if (s < 0) { done(); reject(new UnavailableError(`${what}: BAR0 went away`)) }
      }
      const timer = setTimeout(() => { done(); reject(new TimeoutError(`${what}: no answer from the endpoint within ${this.timeoutMs} ms`)) }, this.timeoutMs)
      const done = (): void => { clearTimeout(timer); this.waiters.delete(check) }
      this.waiters.add(check)
    })
  }
}
