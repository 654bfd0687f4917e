// ntb_epf_send_command (drivers/ntb/hw/epf/ntb_hw_epf.c) over the host's
// replica of the config BAR: ARGUMENT, then COMMAND, wait until the board
// sets CMD_STATUS to OK or ERROR, then write CMD_STATUS back to 0. The
// kernel polls readw() with usleep_range(5, 10) under cmd_lock; here a
// command waits for the replica's Updates instead, so the event loop never
// blocks, and commands run one at a time in the order asked (the mutex).
// A command's own register writes (mw_set_trans' ADDR/SIZE) run inside its
// turn, where the kernel writes them before taking the lock.

import type { Window } from '../../mem/window.js'
import { CommandError, TimeoutError, UnavailableError } from '../../errors.js'
import * as R from './epf-ntb-regs.js'

/** The board did not answer within NTB_EPF_COMMAND_TIMEOUT (the kernel's WARN_ON and -ETIMEDOUT). */
export class NtbCommandTimeoutError extends TimeoutError {
  readonly command: number
  constructor (command: number, message: string) {
    super(message)
    this.command = command
  }
}

export const COMMAND_NAMES: Readonly<Record<number, string>> = {
  [R.CMD_CONFIGURE_DOORBELL]: 'CONFIGURE_DOORBELL',
  [R.CMD_TEARDOWN_DOORBELL]: 'TEARDOWN_DOORBELL',
  [R.CMD_CONFIGURE_MW]: 'CONFIGURE_MW',
  [R.CMD_TEARDOWN_MW]: 'TEARDOWN_MW',
  [R.CMD_LINK_UP]: 'LINK_UP',
  [R.CMD_LINK_DOWN]: 'LINK_DOWN'
}

export interface NtbCommandCounters {
  sent: number
  refused: number
  timedOut: number
}

export class NtbCommandQueue {
  readonly counters: NtbCommandCounters = { sent: 0, refused: 0, timedOut: 0 }
  private readonly ctrl: Window
  private readonly timeoutMs: number
  private tail: Promise<void> = Promise.resolve()
  private readonly waiters = new Set<() => void>()
  private readonly stopListening: () => void
  private closed = false

  constructor (ctrl: Window, timeoutMs = R.COMMAND_TIMEOUT_MS) {
    this.ctrl = ctrl
    this.timeoutMs = timeoutMs
    this.stopListening = ctrl.onUpdate(() => { for (const w of [...this.waiters]) w() })
  }

  /** Runs `cmd` with `arg` after every command asked before; `before` writes the command's registers in its turn. */
  async send (cmd: number, arg: number, before?: () => void): Promise<void> {
    const prev = this.tail
    let release!: () => void
    this.tail = new Promise((resolve) => { release = resolve })
    await prev
    try {
      await this.run(cmd, arg, before)
    } finally {
      release()
    }
  }

  /** The function went away: waiting commands fail, later ones fail at once. */
  close (): void {
    this.closed = true
    this.stopListening()
    for (const w of [...this.waiters]) w()
  }

  private async run (cmd: number, arg: number, before?: () => void): Promise<void> {
    const what = `${COMMAND_NAMES[cmd] ?? `command ${cmd}`}(${arg})`
    this.usable(what)
    // A status left by an answer that came after its command timed out would
    // pass for this command's answer; the kernel leaves it, here it is cleared.
    if (this.ctrl.read16(R.CMD_STATUS) !== 0) this.ctrl.write16(R.CMD_STATUS, 0)
    before?.()
    this.ctrl.write32(R.ARGUMENT, arg >>> 0)
    this.ctrl.write32(R.COMMAND, cmd)
    this.counters.sent++
    let status: number
    try {
      status = await this.answer(cmd, what)
    } finally {
      if (this.ctrl.state === 'open') this.ctrl.write16(R.CMD_STATUS, 0)
    }
    if (status === R.COMMAND_STATUS_ERROR) {
      this.counters.refused++
      throw new CommandError(`${what}: the NTB function answered ERROR`, cmd)
    }
  }

  private usable (what: string): void {
    if (this.closed) throw new UnavailableError(`${what}: the NTB function is gone`)
    if (this.ctrl.state !== 'open') throw new UnavailableError(`${what}: the config BAR is not mapped (${this.ctrl.state})`)
  }

  private async answer (cmd: number, what: string): Promise<number> {
    return await new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.closed || this.ctrl.state !== 'open') {
          done()
          reject(new UnavailableError(`${what}: the NTB function went away`))
          return
        }
        const s = this.ctrl.read16(R.CMD_STATUS)
        if (s === R.COMMAND_STATUS_OK || s === R.COMMAND_STATUS_ERROR) { done(); resolve(s) }
      }
      const timer = setTimeout(() => {
        done()
        this.counters.timedOut++
        reject(new NtbCommandTimeoutError(cmd, `${what}: no answer from the NTB function within ${this.timeoutMs} ms`))
      }, this.timeoutMs)
      const done = (): void => { clearTimeout(timer); this.waiters.delete(check) }
      this.waiters.add(check)
    })
  }
}
