// The endpoint's configuration, as Linux's /sys/kernel/config/pci_ep/ lays
// it out: functions with their header attributes, controllers, the link
// (configfs symlink) between them, and a controller's start. Registered by
// the ep role; elsewhere every route is a 404 that says so (not-served.ts).

import type { FastifyInstance } from 'fastify'
import type { PcieEndpointRole } from './pcie-ep.js'
import type { FunctionConfig } from '../hw/pcie/function-table.js'
import { controllerView, functionView, pciEpTree, type ControllerView } from './pcie-views.js'
import { errorReplies, fields, noContent, noFields } from '../api/schemas.js'
import { ENTRY_NAME, PciEpControllerSchema, PciEpFunctionAttrsSchema, PciEpFunctionCreateSchema, PciEpFunctionSchema, PciEpTreeSchema, ref, type PciEpFunctionAttrs, type PciEpFunctionCreate } from '../../../proto/api/index.js'

const entry = { type: 'string', pattern: ENTRY_NAME }
const fnParams = fields({ name: entry })
const linkParams = fields({ ctrl: entry, name: entry })
const ctrlParams = fields({ ctrl: entry })
/** Routes that take no body accept none (an empty POST or PUT). */
const noBody = { type: 'null', description: 'no body' }

const NOT_EP = 'On a daemon that is not a PCIe endpoint (role ep): 404 ERR_NOT_FOUND.'

export function pciEpRoutes (app: FastifyInstance, role: PcieEndpointRole): void {
  app.get('/v1/pci-ep', {
    schema: {
      summary: 'The pci_ep configfs tree: functions, controllers and their endpoint state',
      description: `controllers[i].endpoint is the started controller's state (BARs, outbound windows, counters); null while stopped. ${NOT_EP}`,
      tags: ['pci-ep'],
      querystring: noFields,
      response: {
        200: PciEpTreeSchema,
        ...errorReplies(400, 404)
      }
    }
  }, async () => pciEpTree(role))

  app.post<{ Body: PciEpFunctionCreate }>('/v1/pci-ep/functions', {
    schema: {
      summary: 'Create a function (mkdir functions/pci_epf_vhost/<name>)',
      description: `Attributes not given take the RFC's defaults (TI 0x104c:0xb500, the soclink test device). ${NOT_EP}`,
      tags: ['pci-ep'],
      querystring: noFields,
      body: PciEpFunctionCreateSchema,
      response: { 201: ref(PciEpFunctionSchema), ...errorReplies(400, 404, 409, 413, 415) }
    }
  }, async (request, reply): Promise<FunctionConfig> => {
    const { name, ...attrs } = request.body
    const fn = role.functions.create(name, attrs)
    reply.code(201)
    return functionView(fn)
  })

  app.get<{ Params: { name: string } }>('/v1/pci-ep/functions/:name', {
    schema: {
      summary: 'One function',
      tags: ['pci-ep'],
      params: fnParams,
      querystring: noFields,
      response: { 200: ref(PciEpFunctionSchema), ...errorReplies(400, 404) }
    }
  }, async (request): Promise<FunctionConfig> => functionView(role.functions.fn(request.params.name)))

  app.patch<{ Params: { name: string }, Body: PciEpFunctionAttrs }>('/v1/pci-ep/functions/:name', {
    schema: {
      summary: 'Change a function\'s attributes',
      description: `A function whose controller is started is busy: 409 ERR_CONFLICT (configfs answers EBUSY). ${NOT_EP}`,
      tags: ['pci-ep'],
      params: fnParams,
      querystring: noFields,
      body: PciEpFunctionAttrsSchema,
      response: { 200: ref(PciEpFunctionSchema), ...errorReplies(400, 404, 409, 413, 415) }
    }
  }, async (request): Promise<FunctionConfig> => functionView(role.functions.update(request.params.name, request.body)))

  app.delete<{ Params: { name: string } }>('/v1/pci-ep/functions/:name', {
    schema: {
      summary: 'Remove a function (rmdir); a linked one is a 409',
      tags: ['pci-ep'],
      params: fnParams,
      querystring: noFields,
      response: { 204: noContent, ...errorReplies(400, 404, 409) }
    }
  }, async (request, reply) => {
    role.functions.remove(request.params.name)
    return reply.code(204).send()
  })

  app.put<{ Params: { ctrl: string, name: string } }>('/v1/pci-ep/controllers/:ctrl/functions/:name', {
    schema: {
      summary: 'Link a function into a controller (ln -s functions/.../<name> controllers/<ctrl>/)',
      description: `One function per controller: a busy controller or function is a 409. ${NOT_EP}`,
      tags: ['pci-ep'],
      params: linkParams,
      querystring: noFields,
      body: noBody,
      response: { 204: noContent, ...errorReplies(400, 404, 409, 413, 415) }
    }
  }, async (request, reply) => {
    role.functions.link(request.params.ctrl, request.params.name)
    return reply.code(204).send()
  })

  app.delete<{ Params: { ctrl: string, name: string } }>('/v1/pci-ep/controllers/:ctrl/functions/:name', {
    schema: {
      summary: 'Unlink a function from a controller; a started controller is a 409',
      tags: ['pci-ep'],
      params: linkParams,
      querystring: noFields,
      response: { 204: noContent, ...errorReplies(400, 404, 409) }
    }
  }, async (request, reply) => {
    role.functions.unlink(request.params.ctrl, request.params.name)
    return reply.code(204).send()
  })

  app.post<{ Params: { ctrl: string } }>('/v1/pci-ep/controllers/:ctrl/start', {
    schema: {
      summary: 'Start a controller (echo 1 > controllers/<ctrl>/start): the link trains and the rc enumerates',
      description: 'A controller with no function linked is a 409; with no root complex linked, 503 ERR_UNAVAILABLE. ' +
        `Starting a started controller changes nothing. ${NOT_EP}`,
      tags: ['pci-ep'],
      params: ctrlParams,
      querystring: noFields,
      body: noBody,
      response: { 200: ref(PciEpControllerSchema), ...errorReplies(400, 404, 409, 413, 415, 503) }
    }
  }, async (request): Promise<ControllerView> => {
    return controllerView(role, await role.functions.start(request.params.ctrl))
  })

  app.post<{ Params: { ctrl: string } }>('/v1/pci-ep/controllers/:ctrl/stop', {
    schema: {
      summary: 'Stop a controller: the link goes down and the rc removes the function, as on surprise removal',
      description: `Stopping a stopped controller changes nothing. ${NOT_EP}`,
      tags: ['pci-ep'],
      params: ctrlParams,
      querystring: noFields,
      body: noBody,
      response: { 200: ref(PciEpControllerSchema), ...errorReplies(400, 404, 413, 415) }
    }
  }, async (request): Promise<ControllerView> => {
    return controllerView(role, await role.functions.stop(request.params.ctrl))
  })
}
