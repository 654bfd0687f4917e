// The in-memory rpmsg pair of rpmsg-pair.ts, but with each side's rpmsg
// driver given its own RpmsgDriverTable, as the rc and ep roles do: the
// vhost side (ep) is bound first, the virtio side (rc) when connect() is
// called, so a test can act while the virtio side is not there yet.

import pino, { type Logger } from 'pino'
import { RpmsgLoop } from './rpmsg-pair.js'
import { VirtioBus } from '../../daemon/src/virtio/bus.js'
import { VhostBus } from '../../daemon/src/vhost/bus.js'
import { RpmsgDriverTable } from '../../daemon/src/rpmsg/driver.js'
import { VirtioRpmsgDriver, type VirtioRpmsgBus } from '../../daemon/src/rpmsg/virtio-rpmsg.js'
import { VhostRpmsgDriver, type VhostRpmsgBus } from '../../daemon/src/rpmsg/vhost-rpmsg.js'

export interface TablePair {
  loop: RpmsgLoop
  vhostBus: VhostBus
  virtioBus: VirtioBus
  /** The ep's table (vhost side) and the rc's (virtio side). */
  ep: RpmsgDriverTable
  rc: RpmsgDriverTable
  vhostDriver: VhostRpmsgDriver
  virtioDriver: VirtioRpmsgDriver
  vhost: VhostRpmsgBus
  /** Binds the virtio side (DRIVER_OK) and returns its rpmsg bus. */
  connect (): Promise<VirtioRpmsgBus>
}

export async function tablePair (): Promise<TablePair> {
  const loop = new RpmsgLoop()
  const ep = new RpmsgDriverTable()
  const rc = new RpmsgDriverTable()
  const vhostBus = new VhostBus()
  const vhostDriver = new VhostRpmsgDriver({ drivers: ep })
  await vhostBus.registerDriver(vhostDriver)
  if (await vhostBus.registerDevice(loop.vhost) !== 'bound') throw new Error(`vhost side did not bind: ${loop.vhost.lastError?.message}`)
  const virtioBus = new VirtioBus()
  const virtioDriver = new VirtioRpmsgDriver({ drivers: rc })
  await virtioBus.registerDriver(virtioDriver)
  return {
    loop, vhostBus, virtioBus, ep, rc, vhostDriver, virtioDriver,
    vhost: vhostDriver.bus(loop.vhost),
    async connect () {
      const outcome = await virtioBus.addDevice(loop.virtio)
      if (outcome !== 'bound') throw new Error(`virtio side: ${outcome}: ${loop.virtio.lastError?.message}`)
      return virtioDriver.bus(loop.virtio)
    }
  }
}

export interface LogLine { msg: string, [key: string]: unknown }

/** A pino logger whose lines are kept, parsed, in `lines`. */
export function capturingLogger (): { logger: Logger, lines: LogLine[] } {
  const lines: LogLine[] = []
  const logger = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as LogLine) } })
  return { logger, lines }
}

/** Lets setImmediate-delivered doorbells run until `check` holds; fails after `turns` turns. */
export async function settle (what: string, check: () => boolean, turns = 100_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (check()) return
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error(`${what}: not reached`)
}
