// The control API: fastify with strict JSON Schema on every route (no type
// coercion, no silently dropped fields), one error shape, OpenAPI at /docs
// and live events over a WebSocket. buildApi registers everything; the
// caller decides where it listens.

import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import websocket from '@fastify/websocket'
import { VERSION, type SoclinkNode } from '../node.js'
import { installErrorHandling } from './errors.js'
import { addSharedSchemas } from './schemas.js'
import { nodeRoutes } from './routes/node.js'
import { regionRoutes } from './routes/regions.js'
import { memoryRoutes } from './routes/memory.js'
import { peerRoutes } from './routes/peers.js'
import { windowRoutes } from './routes/windows.js'
import { doorbellRoutes } from './routes/doorbells.js'
import { eventRoutes } from './routes/events.js'
import { addPcieSchemas } from './pcie-schemas.js'
import { pciEpRoutes } from './routes/pci-ep.js'
import { pciRoutes } from './routes/pci.js'
import { deviceRoutes } from './routes/devices.js'
import { rpmsgRoutes } from './routes/rpmsg.js'
import { rpmsgCfsRoutes } from './routes/rpmsg-cfs.js'
import { vhostCfsRoutes } from './routes/vhost-cfs.js'
import { rpmsgGatewayRoutes, selectProtocol } from './rpmsg-gateway.js'
import { MAX_BATCH_BYTES } from '../../../proto/rpmsg-batch.js'
import { addNtbSchemas } from './routes/ntb-schemas.js'
import { ntbRoutes } from './routes/ntb.js'
import { ntbToolRoutes } from './routes/ntb-tool.js'

export async function buildApi (node: SoclinkNode): Promise<FastifyInstance> {
  // Typed as fastify's logger so the instance has the plain FastifyInstance type.
  const logger: FastifyBaseLogger = node.logger.child({ layer: 'api' })
  const app = Fastify({
    loggerInstance: logger,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true } }
  })
  installErrorHandling(app)
  addSharedSchemas(app)
  addPcieSchemas(app)
  addNtbSchemas(app)

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'soclink control API', version: VERSION, description: `Control API of soclinkd ${node.settings.name}.` },
      tags: ['node', 'regions', 'windows', 'peers', 'doorbells', 'pci-ep', 'pci', 'devices', 'virtqueues', 'rpmsg', 'ntb'].map((name) => ({ name }))
    },
    // Shared schemas appear in components under their own $id.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  // Room beyond the gateway's largest batch, so that an oversized one is answered ERR_RPMSG_BATCH_SIZE, not cut off by ws.
  await app.register(websocket, { options: { maxPayload: 4 * MAX_BATCH_BYTES, perMessageDeflate: false, handleProtocols: selectProtocol } })

  nodeRoutes(app, node)
  regionRoutes(app, node)
  peerRoutes(app, node)
  windowRoutes(app, node)
  doorbellRoutes(app, node)
  eventRoutes(app, node)
  pciEpRoutes(app, node)
  pciRoutes(app, node)
  deviceRoutes(app, node)
  rpmsgRoutes(app, node)
  rpmsgCfsRoutes(app, node)
  vhostCfsRoutes(app, node)
  rpmsgGatewayRoutes(app, node)
  ntbRoutes(app, node)
  ntbToolRoutes(app, node)
  await app.register(async (memory) => { await memoryRoutes(memory, node) })
  return app
}
