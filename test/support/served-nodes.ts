// An in-process rc and ep (nodes.ts) with their control APIs on loopback
// and one RpmsgClient application on each, rpmsg ready on both sides: the
// set-up of the integration tests that drive the gateway through the client
// library. Everything is closed when the test ends.

import type { Test } from 'tap'
import { buildApi } from '../../daemon/src/api/server.js'
import { RpmsgClient } from '../../client/src/index.js'
import type { SoclinkNode } from '../../daemon/src/node.js'
import { linkUrl, rpmsgReady, startNode } from './nodes.js'

export interface ServedPcie { rc: SoclinkNode, ep: SoclinkNode, rcBase: string, epBase: string, rcApp: RpmsgClient, epApp: RpmsgClient }

export async function servedPcie (t: Test, rcArgs: string[] = []): Promise<ServedPcie> {
  const rc = await startNode('rc', ['--role', 'rc', ...rcArgs])
  const ep = await startNode('ep', ['--role', 'ep', '--peer', linkUrl(rc)])
  const rcApi = await buildApi(rc)
  const epApi = await buildApi(ep)
  const clients: RpmsgClient[] = []
  t.teardown(async () => {
    for (const c of clients) await c.close()
    await rcApi.close(); await epApi.close(); await ep.stop('test'); await rc.stop('test')
  })
  const rcBase = await rcApi.listen({ host: '127.0.0.1', port: 0 })
  const epBase = await epApi.listen({ host: '127.0.0.1', port: 0 })
  await rpmsgReady(rc, ep)
  const rcApp = await RpmsgClient.connect(rcBase)
  clients.push(rcApp)
  const epApp = await RpmsgClient.connect(epBase)
  clients.push(epApp)
  return { rc, ep, rcBase, epBase, rcApp, epApp }
}
