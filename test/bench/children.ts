// Every child process the bench starts dies with it: each is adopted by
// test/support/children.ts and killed from its exit hooks (normal exit, an
// uncaught error, a signal), and the long-lived ones also preload its
// WATCH_PARENT, which ends them if the bench itself is killed outright.

import { startDaemon, type Daemon } from '../support/daemon.js'
import { rpmsgBus } from '../support/rpmsg-procs.js'

export { adopt, WATCH_PARENT } from '../support/children.js'

/**
 * The built soclinkd on kernel-chosen loopback ports (test/support/daemon.ts
 * starts it, watched and adopted), keeping only its ready line.
 */
export async function spawnDaemon (name: string, args: string[]): Promise<Daemon> {
  return await startDaemon(name, args, {}, { keepLogs: false, readyMs: null })
}

/** An rc and an ep daemon running rpmsg (each with `args` too), once both have their bus. */
export async function spawnRpmsgPair (args: string[] = []): Promise<{ rc: Daemon, ep: Daemon, stop: () => Promise<void> }> {
  const rc = await spawnDaemon('bench-rc', ['--role', 'rc', ...args])
  const ep = await spawnDaemon('bench-ep', ['--role', 'ep', '--peer', rc.link, ...args])
  await rpmsgBus(ep)
  await rpmsgBus(rc)
  return { rc, ep, stop: async () => { await ep.stop(); await rc.stop() } }
}
