// The root complex's view of the PCIe bus: system memory and the function
// enumerated behind each endpoint peer. Registered by the rc role;
// elsewhere (an ep daemon included: see /v1/pci-ep) a 404 that says so.

import type { FastifyInstance } from 'fastify'
import type { PcieRootComplexRole } from './pcie-rc.js'
import { pciView } from './pcie-views.js'
import { errorReplies, noFields } from '../api/schemas.js'
import { PciRootComplexSchema } from '../../../proto/api/index.js'

export function pciRoutes (app: FastifyInstance, role: PcieRootComplexRole): void {
  app.get('/v1/pci', {
    schema: {
      summary: 'The root complex: system memory and the functions it enumerated',
      description: 'On a daemon that is not a PCIe root complex (role rc) this is a 404 ERR_NOT_FOUND; an endpoint shows its side at /v1/pci-ep.',
      tags: ['pci'],
      querystring: noFields,
      response: {
        200: PciRootComplexSchema,
        ...errorReplies(400, 404)
      }
    }
  }, async () => pciView(role))
}
