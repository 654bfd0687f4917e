// The virtio side's half of the RFC's command handshake over scratchpads
// (ntb_virtio_send_command in drivers/ntb/ntb_virtio.c): write the command
// into the vhost host's spad 13, wait until spad 14 reads OKAY or ERROR
// (COMMAND_TIMEOUT 1000 ms), then write it back to NONE; one command at a
// time (the RFC's mutex). The RFC busy-polls every 5-10 us; here the
// command rings CONFIG_DB, the vhost side rings it back once it answered,
// and a slow timer re-reads the status in case a doorbell was lost, so the
// event loop never blocks.

import type { NtbDevice } from '../hw/ntb/ntb.js'
import { CommandError, TimeoutError, UnavailableError } from '../errors.js'
import { CmdStatus, Spad } from './ntb-spads.js'

export interface NtbHostCommandsOptions {
  timeoutMs: number
  /** The fallback re-read of the status while a command waits (ms). */
  pollMs: number
  /** Rings CONFIG_DB on the vhost host. */
  ring: () => void
}

interface Waiter { check: () => void, fail: (err: Error) => void }

export class NtbHostCommands {
  private tail: Promise<void> = Promise.resolve()
  private waiter: Waiter | null = null
  /** Bumped by abort(): commands queued before it fail. */
  private epoch = 0

  constructor (private readonly ntb: NtbDevice, private readonly opts: NtbHostCommandsOptions) {}

  /** Sends `cmd` (HostCmd) and resolves once the vhost side answered OKAY. */
  async send (cmd: number, what: string): Promise<void> {
    const epoch = this.epoch
    const prev = this.tail
    let release!: () => void
    this.tail = new Promise((resolve) => { release = resolve })
    await prev
    try {
      if (epoch !== this.epoch) throw new UnavailableError(`${what}: the link went down`)
      this.ntb.peerSpadWrite(Spad.VHOST_COMMAND_STATUS, CmdStatus.NONE)
      this.ntb.peerSpadWrite(Spad.VHOST_COMMAND, cmd)
      this.opts.ring()
      const status = await this.awaitStatus(what)
      this.ntb.peerSpadWrite(Spad.VHOST_COMMAND_STATUS, CmdStatus.NONE)
      if (status === CmdStatus.ERROR) throw new CommandError(`${what}: the vhost side answered ERROR`)
    } finally {
      release()
    }
  }

  /** A doorbell came: the status may be there. */
  check (): void { this.waiter?.check() }

  /** The link went down: the command waiting, and every one queued, fail with `reason`. */
  abort (reason: string): void {
    this.epoch++
    this.waiter?.fail(new UnavailableError(reason))
  }

  private async awaitStatus (what: string): Promise<number> {
    return await new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timeout)
        clearInterval(poll)
        this.waiter = null
      }
      const check = (): void => {
        let s: number
        try {
          s = this.ntb.peerSpadRead(Spad.VHOST_COMMAND_STATUS)
        } catch (err) {
          done()
          reject(err)
          return
        }
        if (s === CmdStatus.OKAY || s === CmdStatus.ERROR) { done(); resolve(s) }
      }
      const timeout = setTimeout(() => { done(); reject(new TimeoutError(`${what}: no answer from the vhost side within ${this.opts.timeoutMs} ms`)) }, this.opts.timeoutMs)
      const poll = setInterval(check, this.opts.pollMs)
      this.waiter = { check, fail: (err) => { done(); reject(err) } }
      check()
    })
  }
}
