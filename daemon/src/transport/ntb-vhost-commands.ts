// The vhost side's half of the RFC's command handshake over scratchpads
// (ntb_vhost_cmd_handler and ntb_vhost_finalize_features in
// drivers/ntb/ntb_vhost.c): read the command from this host's spad 13,
// clear it, act on it, answer OKAY or ERROR in spad 14. The virtio side's
// half is ntb-host-command.ts.
//
// Differences from the RFC, on purpose: the handler runs when CONFIG_DB
// rings (and on the fallback poll) instead of every 1 ms on kntbvhost, and
// CONFIG_DB is rung back after each answer; an unknown command is answered
// ERROR (the RFC leaves the virtio side to time out); a device that refused
// the features leaves FEATURES_OK clear; DRIVER_OK builds the rings.

import type { Logger } from 'pino'
import type { NtbDevice } from '../hw/ntb/ntb.js'
import type { VhostDevice } from '../vhost/vhost.js'
import type { VhostVirtqueue } from '../vhost/virtqueue.js'
import { VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK } from '../uapi/virtio-config.js'
import { CmdStatus, HostCmd, joinFeatures, Spad } from './ntb-spads.js'

/** What the command handler needs of ntb_vhost. */
export interface NtbVhostCommandsHost {
  ntb: NtbDevice
  device: VhostDevice
  logger: Logger
  counters: { commands: number, commandErrors: number }
  /** Whether the virtio side is being served. */
  up: () => boolean
  queues: () => readonly VhostVirtqueue[]
  /** DRIVER_OK: build the rings the virtio side laid out. */
  activate: () => void
  /** The answer is in spad 14: ring CONFIG_DB. */
  answered: () => void
  note: (err: unknown, what: string) => void
}

export class NtbVhostCommands {
  private featuresAccepted = true
  private driverOk = false

  constructor (private readonly host: NtbVhostCommandsHost) {}

  /** The session ended: nothing is negotiated any more. */
  reset (): void {
    this.featuresAccepted = true
    this.driverOk = false
  }

  /** ntb_vhost_cmd_handler: read the command, clear it, act, answer. */
  check (): void {
    const { ntb, counters } = this.host
    if (!this.host.up()) return
    let cmd: number
    try {
      cmd = ntb.spadRead(Spad.VHOST_COMMAND)
      if (cmd === HostCmd.NONE) return
      ntb.spadWrite(Spad.VHOST_COMMAND, HostCmd.NONE)
    } catch (err) {
      this.host.note(err, 'command')
      return
    }
    counters.commands++
    let ok = false
    try {
      ok = this.act(cmd)
    } catch (err) {
      this.host.note(err, `command ${cmd}`)
    }
    if (!ok) counters.commandErrors++
    if (!this.host.up()) return
    try {
      ntb.spadWrite(Spad.VHOST_COMMAND_STATUS, ok ? CmdStatus.OKAY : CmdStatus.ERROR)
      this.host.answered()
    } catch (err) {
      this.host.note(err, 'command status')
    }
  }

  private act (cmd: number): boolean {
    const { ntb, device } = this.host
    switch (cmd) {
      case HostCmd.SET_STATUS: {
        const status = ntb.spadRead(Spad.VHOST_DEVICE_STATUS)
        // A device that refused the features leaves FEATURES_OK clear (virtio 1.x 3.1.1).
        if ((status & VIRTIO_CONFIG_S_FEATURES_OK) !== 0 && !this.featuresAccepted) {
          ntb.spadWrite(Spad.VHOST_DEVICE_STATUS, status & ~VIRTIO_CONFIG_S_FEATURES_OK)
          return true
        }
        if ((status & VIRTIO_CONFIG_S_DRIVER_OK) !== 0 && !this.driverOk) {
          this.driverOk = true
          this.host.activate()
        }
        device.notifySetStatus(status)
        return true
      }
      case HostCmd.FINALIZE_FEATURES: {
        const f = joinFeatures(ntb.spadRead(Spad.VIRTIO_FEATURES_LOWER), ntb.spadRead(Spad.VIRTIO_FEATURES_UPPER))
        this.featuresAccepted = device.notifyFinalizeFeatures(f)
        return true
      }
      case HostCmd.RESET:
        for (const q of this.host.queues()) q.deactivate()
        ntb.spadWrite(Spad.VHOST_DEVICE_STATUS, 0)
        this.reset()
        device.notifyReset()
        return true
      default:
        this.host.logger.warn({ ntb: ntb.name, cmd }, 'unknown command')
        return false
    }
  }
}
