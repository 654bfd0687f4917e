// Every child process the bench starts dies with it: each is adopted here
// and killed from the bench's exit hooks (normal exit, an uncaught error, a
// signal), and the long-lived ones also preload parent-watch.ts, which
// ends them if the bench itself is killed outright.

import type { ChildProcess } from 'node:child_process'
import { pathToFileURL } from 'node:url'
import { startDaemon, type Daemon } from '../support/daemon.js'
import { rpmsgBus } from '../support/rpmsg-procs.js'

const live = new Set<ChildProcess>()

function killAll (): void {
  for (const p of live) {
    try { p.kill('SIGKILL') } catch {}
  }
}

process.on('exit', killAll)
for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const) {
  process.once(signal, () => { killAll(); process.exit(128 + number) })
}

export function adopt (proc: ChildProcess): ChildProcess {
  live.add(proc)
  proc.once('exit', () => { live.delete(proc) })
  return proc
}

/** node flags that make a child end itself when the bench goes. */
export const WATCH_PARENT = ['--import', pathToFileURL(new URL('./parent-watch.js', import.meta.url).pathname).href]

/**
 * The built soclinkd on kernel-chosen loopback ports, watched and adopted
 * (test/support/daemon.ts starts it), keeping only its ready line.
 */
export async function spawnDaemon (name: string, args: string[]): Promise<Daemon> {
  return await startDaemon(name, args, {}, { nodeArgs: WATCH_PARENT, onSpawn: adopt, keepLogs: false, readyMs: null })
}

/** An rc and an ep daemon running rpmsg (each with `args` too), once both have their bus. */
export async function spawnRpmsgPair (args: string[] = []): Promise<{ rc: Daemon, ep: Daemon, stop: () => Promise<void> }> {
  const rc = await spawnDaemon('bench-rc', ['--role', 'rc', ...args])
  const ep = await spawnDaemon('bench-ep', ['--role', 'ep', '--peer', rc.link, ...args])
  await rpmsgBus(ep)
  await rpmsgBus(rc)
  return { rc, ep, stop: async () => { await ep.stop(); await rc.stop() } }
}
