// The vhost configfs tree (the RFC's /sys/kernel/config/vhost/, drivers/
// vhost/vhost_cfs.c) as REST: vhost-client/ has a group per registered
// vhost driver with an item per id-table entry ("%08x:%08x", vendor and
// device); vhost-transport/ has the transport devices of this daemon's
// vhost sides. Linking an item into a device gives the device that id
// (ln -s), unlinking takes it away; a device in use is busy (409 ERR_BUSY),
// an unknown one is a 404 "no such device", as the kernel answers -ENODEV.
// The vhost sides: an ep's endpoint functions, an ntb-vhost host's NTB
// device; those roles register these routes over their own tree. A daemon
// with no vhost side (rc, ntb-virtio, the NTB board) answers 404.

import type { FastifyInstance } from 'fastify'
import type { VhostCfs, VhostClientView, VhostTransportView } from '../../vhost/cfs.js'
import { ENTRY_NAME } from '../../../../proto/api/index.js'
import { errorReplies, fields, noContent, noFields, record } from '../schemas.js'

const driver = { type: 'string', pattern: ENTRY_NAME, description: 'a vhost-client group: a registered vhost driver\'s name, e.g. vhost_rpmsg_bus' }
const item = { type: 'string', pattern: '^[0-9a-f]{8}:[0-9a-f]{8}$', description: 'an item: vendor:device of an id-table entry, "%08x:%08x", e.g. ffffffff:00000007' }
// An NTB device's name (dev_name of the ntb_dev) has a colon: ntb_hw_epf:<board>.
const device = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$', description: 'a vhost-transport device: on an ep, an endpoint function\'s name; on an ntb-vhost host, its NTB device\'s (ntb_hw_epf:<board>)' }
const u32 = { type: 'integer', minimum: 0, maximum: 0xffff_ffff }

const ClientSchema = record({
  name: { type: 'string', description: 'the driver\'s name (vhost_driver.driver.name)' },
  items: { type: 'array', items: record({ name: item, vendor: { ...u32, description: '0xffffffff: any (VIRTIO_DEV_ANY_ID)' }, device: u32 }) }
})
const TransportSchema = record({
  name: { type: 'string' },
  kind: {
    type: 'string',
    enum: ['pci-epf-vhost', 'ntb-vhost'],
    description: 'pci-epf-vhost: an endpoint function (the RFC keeps this group under its pci_ep function directory, ' +
      'functions/pci_epf_vhost/<fn>/, not under vhost-transport/); ntb-vhost: an NTB host\'s device'
  },
  link: { anyOf: [record({ driver: { type: 'string' }, item: { type: 'string' } }), { type: 'null' }], description: 'the vhost-client item linked into it, or null' },
  registered: { type: 'boolean', description: 'its vhost device is on the vhost bus (an ep: the controller is started; ntb-vhost: an item is linked)' },
  vhostDevice: { type: ['string', 'null'], description: 'that vhost device (vhost<n>), or null' },
  busy: { type: 'boolean', description: 'its link cannot change now (an ep: the controller is started)' }
})

const NO_VHOST = 'A daemon with no vhost side (not an ep or an ntb-vhost host) answers 404 ERR_NOT_FOUND.'

/** `cfs`: the tree over the role's vhost sides, made once. */
export function vhostCfsRoutes (app: FastifyInstance, cfs: VhostCfs): void {
  app.get('/v1/vhost/vhost-client', {
    schema: {
      summary: 'vhost/vhost-client/: a group per registered vhost driver, an item per id-table entry',
      description: `Items are named "%08x:%08x", vendor then device, as vhost_register_driver() names them. ${NO_VHOST}`,
      tags: ['vhost'],
      querystring: noFields,
      response: { 200: record({ drivers: { type: 'array', items: ClientSchema } }), ...errorReplies(400, 404) }
    }
  }, async (): Promise<{ drivers: VhostClientView[] }> => ({ drivers: cfs.clients() }))

  app.get('/v1/vhost/vhost-transport', {
    schema: {
      summary: 'vhost/vhost-transport/: the transport devices, the client item linked into each, registered and busy',
      description: 'On an ep, one per endpoint function, named after it; on an ntb-vhost host, its NTB device while the board\'s function is bound ' +
        `(ntb_vhost's vhost_cfs_add_device_item(), named dev_name(parent)). ${NO_VHOST}`,
      tags: ['vhost'],
      querystring: noFields,
      response: { 200: record({ devices: { type: 'array', items: TransportSchema } }), ...errorReplies(400, 404) }
    }
  }, async (): Promise<{ devices: VhostTransportView[] }> => ({ devices: cfs.transports() }))

  app.post<{ Params: { dev: string }, Body: { driver: string, item: string } }>('/v1/vhost/vhost-transport/:dev/link', {
    schema: {
      summary: 'ln -s vhost/vhost-client/<driver>/<item> vhost-transport/<dev>/: the device takes the item\'s id',
      description: 'On an ep the function\'s vhostDriver names the driver and its subsysId and subsysVendorId take the item\'s device and vendor ' +
        '(16 bits each); its vhost device registers when the controller starts. On an ntb-vhost host the vhost device takes the item\'s id ' +
        'and registers (vhost_register_device(): the driver probes, and the transport announces the device to the virtio host). ' +
        'An unknown device: 404 ERR_NOT_FOUND "no such device"; ' +
        'an unknown driver or item: 404. A device that is busy (controller started) or already has a link: 409 ERR_BUSY. ' + NO_VHOST,
      tags: ['vhost'],
      params: fields({ dev: device }),
      querystring: noFields,
      body: record({ driver, item }),
      response: { 201: TransportSchema, ...errorReplies(400, 404, 409, 413, 415) }
    }
  }, async (request, reply): Promise<VhostTransportView> => {
    const view = await cfs.link(request.params.dev, request.body.driver, request.body.item)
    reply.code(201)
    return view
  })

  app.delete<{ Params: { dev: string } }>('/v1/vhost/vhost-transport/:dev/link', {
    schema: {
      summary: 'rm vhost/vhost-transport/<dev>/<item>: the device has no vhost client',
      description: 'On an ep the function\'s vhostDriver becomes none and its subsystem ids stay as they are. On an ntb-vhost host ' +
        'the vhost device unregisters (its driver is removed) and the virtio host removes its device. ' +
        `No link: 404. A busy device (controller started): 409 ERR_BUSY. ${NO_VHOST}`,
      tags: ['vhost'],
      params: fields({ dev: device }),
      querystring: noFields,
      response: { 204: noContent, ...errorReplies(400, 404, 409) }
    }
  }, async (request, reply) => {
    await cfs.unlink(request.params.dev)
    return reply.code(204).send()
  })
}
