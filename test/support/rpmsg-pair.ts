// The in-process virtio+vhost loop of virtio-loop.ts with the rpmsg drivers
// bound on both sides.

import { once } from 'node:events'
import type { RpmsgChannel } from '../../daemon/src/rpmsg/core.js'
import { VIRTIO_ID_RPMSG } from '../../daemon/src/uapi/virtio-config.js'
import { VirtioBus } from '../../daemon/src/virtio/bus.js'
import { VhostBus } from '../../daemon/src/vhost/bus.js'
import { VirtioRpmsgDriver, type VirtioRpmsgBus } from '../../daemon/src/rpmsg/virtio-rpmsg.js'
import { VhostRpmsgDriver, type VhostRpmsgBus } from '../../daemon/src/rpmsg/vhost-rpmsg.js'
import { VirtioLoop } from './virtio-loop.js'

/** The in-memory loop carrying the rpmsg device id. */
export class RpmsgLoop extends VirtioLoop {
  /** `noConfig`: the vhost side's transport has no config space (no writeConfig/readConfig). */
  constructor (noConfig = false) {
    super({ device: VIRTIO_ID_RPMSG, noConfig })
  }
}

export interface RpmsgPair {
  loop: RpmsgLoop
  virtioBus: VirtioBus
  vhostDriver: VhostRpmsgDriver
  virtioDriver: VirtioRpmsgDriver
  /** The vhost side's rpmsg bus. */
  vhost: VhostRpmsgBus
  /** The virtio side's rpmsg bus. */
  virtio: VirtioRpmsgBus
}

/** Both sides bound: vhost first (it publishes its queues), then virtio (DRIVER_OK). */
export interface RpmsgPairOptions {
  packed?: boolean
  /** Buffer sizes each side is configured for (default 512). */
  virtioBufSize?: number
  vhostBufSize?: number
  /** The vhost side's transport has no config space. */
  noConfig?: boolean
  /** Buffers per direction (both sides; default 256). */
  numBufs?: number
}

export async function rpmsgPair (opts: RpmsgPairOptions = {}): Promise<RpmsgPair> {
  const loop = new RpmsgLoop(opts.noConfig === true)
  const vbus = new VhostBus()
  const vhostDriver = new VhostRpmsgDriver({ bufSize: opts.vhostBufSize, numBufs: opts.numBufs })
  await vbus.registerDriver(vhostDriver)
  if (await vbus.registerDevice(loop.vhost) !== 'bound') throw new Error(`vhost side did not bind: ${loop.vhost.lastError?.message}`)
  const virtioBus = new VirtioBus()
  const virtioDriver = new VirtioRpmsgDriver({ packed: opts.packed === true, bufSize: opts.virtioBufSize, numBufs: opts.numBufs })
  await virtioBus.registerDriver(virtioDriver)
  const outcome = await virtioBus.addDevice(loop.virtio)
  if (outcome !== 'bound') throw new Error(`virtio side: ${outcome}: ${loop.virtio.lastError?.message}`)
  return { loop, virtioBus, vhostDriver, virtioDriver, vhost: vhostDriver.bus(loop.vhost), virtio: virtioDriver.bus(loop.virtio) }
}

/** The driver name rpmsgChannelPair claims its virtio-side channel with. */
export const TEST_CLAIMER = 'rpmsg_test_driver'

/**
 * A pair with one channel made on the vhost side, seen on the virtio side
 * (name service), claimed there by a driver (TEST_CLAIMER: rpmsgBind kernel
 * binds only then) and so bound (address service).
 */
export async function rpmsgChannelPair (name: string, opts: RpmsgPairOptions = {}): Promise<{ pair: RpmsgPair, host: RpmsgChannel, guest: RpmsgChannel }> {
  const pair = await rpmsgPair(opts)
  const created = once(pair.virtio, 'channel-created') as Promise<[RpmsgChannel]>
  const bound = once(pair.vhost, 'channel-bound') as Promise<[RpmsgChannel]>
  const host = pair.vhost.createChannel(name)
  const [guest] = await created
  pair.virtio.claimChannel(guest, TEST_CLAIMER)
  await bound
  return { pair, host, guest }
}

/**
 * The virtio side's channel `name`, if announced, claimed by TEST_CLAIMER if
 * no one holds it (rpmsgBind kernel binds it only then: AS ASSIGN follows).
 * Safe to call from a polling check.
 */
export function claimAnnounced (virtio: VirtioRpmsgBus, name: string): RpmsgChannel | undefined {
  const ch = virtio.channel(name)
  if (ch !== undefined && ch.driver === null) virtio.claimChannel(ch, TEST_CLAIMER)
  return ch
}
