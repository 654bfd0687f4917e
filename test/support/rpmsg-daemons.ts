// An rc and an ep daemon process (the built package) running rpmsg: the ep's
// function vhost0 names vhostDriver 'rpmsg' in a config file, as a user
// would write it, so the rc's virtio_rpmsg_bus binds the device.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ControlClient } from '../../client/src/index.js'
import { startDaemon, until, type Daemon } from './daemon.js'

export const EP_RPMSG_CONFIG = 'pcieFunctions:\n  - name: vhost0\n    controller: pcie0\n    vhostDriver: rpmsg\n'

/** Starts an ep linked to `rc` with an rpmsg function; resolves once both daemons have an rpmsg bus. */
export async function startRpmsgEp (rc: Daemon): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'soclink-rpmsg-e2e-'))
  const file = join(dir, 'ep.yaml')
  writeFileSync(file, EP_RPMSG_CONFIG)
  let ep: Daemon
  try {
    ep = await startDaemon('ep', ['--role', 'ep', '--peer', rc.link, '--config', file])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const hasBus = async (api: string): Promise<true | undefined> => {
    try {
      const list = await new ControlClient(api).rpmsgEndpoints()
      return list.buses.length > 0 ? true : undefined
    } catch {
      return undefined
    }
  }
  try {
    await until('the ep\'s vhost rpmsg bus', async () => await hasBus(ep.api), 20_000)
    await until('the rc\'s virtio rpmsg bus', async () => await hasBus(rc.api), 20_000)
  } catch (err) {
    await ep.stop()
    throw err
  }
  return ep
}

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
