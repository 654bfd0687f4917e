// An rc and an ep daemon process (the built package) running rpmsg: the
// ep's function vhost0 runs vhost_rpmsg_bus by default, so the rc's
// virtio_rpmsg_bus binds the device.

import { startDaemon, type Daemon } from './daemon.js'
import { startRpmsgEp } from './rpmsg-procs.js'

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
