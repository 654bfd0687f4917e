// An rc and an ep daemon process (the built package) running rpmsg: the
// ep's function vhost0 runs vhost_rpmsg_bus by default, so the rc's
// virtio_rpmsg_bus binds the device.

import { startDaemon, type Daemon } from './daemon.js'
import { rpmsgBus, startRpmsgEp } from './rpmsg-procs.js'

/** An rc and an ep with rpmsg running between them. */
export async function startRpmsgPair (): Promise<{ rc: Daemon, ep: Daemon, stop: () => Promise<void> }> {
  const rc = await startDaemon('rc', ['--role', 'rc'])
  let ep: Daemon
  try {
    ep = await startRpmsgEp(rc)
  } catch (err) {
    await rc.stop()
    throw err
  }
  return { rc, ep, stop: async () => { await ep.stop(); await rc.stop() } }
}

/** The same pair, once both sides' rpmsg buses are up (the rc's driver probed, the ep's vhost bus started). */
export async function startRpmsgBuses (): Promise<{ rc: Daemon, ep: Daemon, stop: () => Promise<void> }> {
  const pair = await startRpmsgPair()
  try {
    await rpmsgBus(pair.rc)
    await rpmsgBus(pair.ep)
  } catch (err) {
    await pair.stop()
    throw err
  }
  return pair
}
