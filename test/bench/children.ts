// Every child process the bench starts dies with it: each is adopted here
// and killed from the bench's exit hooks (normal exit, an uncaught error, a
// signal), and the long-lived ones also preload parent-watch.ts, which
// ends them if the bench itself is killed outright.

import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import type { Daemon } from '../support/daemon.js'
import { rpmsgBus } from '../support/rpmsg-procs.js'
import { SOCLINKD } from './paths.js'

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
 * The built soclinkd on kernel-chosen loopback ports, watched and adopted;
 * resolves once its "ready" log line says where it listens (as
 * test/support/daemon.ts starts them for the tests).
 */
export async function spawnDaemon (name: string, args: string[]): Promise<Daemon> {
  const proc = adopt(spawn(process.execPath, [...WATCH_PARENT, SOCLINKD, '--name', name, '--listen', '127.0.0.1:0', '--api', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }))
  const logs: string[] = []
  let stderr = ''
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => { resolve(code) }))
  const ready = await new Promise<{ api: string, link: string }>((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout! })
    lines.on('line', (line) => {
      // Only the ready line is kept: a busy daemon's log is not the bench's to hold.
      if (logs.length > 0) return
      try {
        const rec = JSON.parse(line) as { api?: string, listen?: string }
        if (rec.api !== undefined && rec.listen !== undefined) { logs.push(line); resolve({ api: rec.api, link: rec.listen }) }
      } catch {}
    })
    void exited.then((code) => { reject(new Error(`${name} exited with ${String(code)}: ${stderr}`)) })
  })
  return {
    name,
    ...ready,
    proc,
    logs,
    async stop () {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode
      proc.kill('SIGTERM')
      return await exited
    }
  }
}

/** An rc and an ep daemon running rpmsg (each with `args` too), once both have their bus. */
export async function spawnRpmsgPair (args: string[] = []): Promise<{ rc: Daemon, ep: Daemon, stop: () => Promise<void> }> {
  const rc = await spawnDaemon('bench-rc', ['--role', 'rc', ...args])
  const ep = await spawnDaemon('bench-ep', ['--role', 'ep', '--peer', rc.link, ...args])
  await rpmsgBus(ep)
  await rpmsgBus(rc)
  return { rc, ep, stop: async () => { await ep.stop(); await rc.stop() } }
}
