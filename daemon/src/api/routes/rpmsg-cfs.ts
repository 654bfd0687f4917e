// The rpmsg configfs tree (the RFC's /sys/kernel/config/rpmsg/, drivers/rpmsg/
// rpmsg_cfs.c) as REST: channel/ has a group per id of each registered
// rpmsg driver, holding items made by mkdir; virtproc/ has one entry per
// vhost rpmsg device on this daemon. Linking an item into a virtproc
// creates a channel named after the item's group and announces it to the
// rc; unlinking destroys it. A linked item is busy (409 ERR_BUSY). An rc
// has no vhost device: its virtproc/ is empty and every link is a 404, as
// the kernel answers -ENODEV. Also the rpmsg client sample's counters.

import type { FastifyInstance } from 'fastify'
import { NotFoundError } from '../../errors.js'
import type { SoclinkNode } from '../../node.js'
import type { ChannelGroupView, ChannelItemView, RpmsgDriverTable, VirtprocLinkView, VirtprocView } from '../../rpmsg/driver.js'
import { RpmsgClientSample, SAMPLE_DRIVER, type SampleView } from '../../rpmsg/sample.js'
import { ENTRY_NAME } from '../../../../proto/api/index.js'
import { errorReplies, fields, noContent, noFields, record } from '../schemas.js'

/** A group is an rpmsg channel name (rpmsg_device_id.name): up to 31 bytes, no NUL or slash. */
const group = { type: 'string', minLength: 1, maxLength: 31, pattern: '^[^\\u0000/]+$', description: 'a group: an id in a registered rpmsg driver\'s id table' }
const item = { type: 'string', pattern: ENTRY_NAME, description: 'an item (a configfs directory name)' }
const device = { type: 'string', pattern: ENTRY_NAME, description: 'a vhost rpmsg device, e.g. vhost0' }
const addr = { type: 'integer', minimum: 0, maximum: 0xffff_ffff }
const count = { type: 'integer', minimum: 0 }

const ItemSchema = record({ name: { type: 'string' }, link: { type: ['string', 'null'], description: 'the virtproc it is linked into, or null' } })
const GroupSchema = record({
  name: { type: 'string', description: 'the channel name a link creates' },
  driver: { type: 'string', description: 'the rpmsg driver whose id table gives the group' },
  items: { type: 'array', items: ItemSchema }
})
const LinkSchema = record({
  group: { type: 'string' },
  item: { type: 'string' },
  channel: record({ name: { type: 'string', description: 'the group\'s name' }, src: { ...addr, description: 'its local address (1024 up)' } })
})
const VirtprocSchema = record({ name: { type: 'string' }, links: { type: 'array', items: LinkSchema } })
const SampleSchema = record({
  side: { type: 'string', enum: ['virtio', 'vhost'] },
  device: { type: 'string' },
  channel: { type: 'string' },
  src: addr,
  dst: { anyOf: [addr, { type: 'null' }], description: 'null until the address service has bound it (vhost side)' },
  rx: { ...count, description: 'messages received' },
  tx: { ...count, description: 'messages sent' },
  done: { type: 'boolean', description: 'rx has reached MSG_LIMIT (100): "goodbye!", no more replies' },
  failed: { ...count, description: 'sends that failed' },
  lastError: { type: ['string', 'null'] }
})

const NO_RPMSG = 'A daemon that runs no rpmsg (the NTB board) answers 404 ERR_NOT_FOUND.'

function table (node: SoclinkNode): RpmsgDriverTable {
  const t = node.rpmsg
  if (t === null) throw new NotFoundError('rpmsg configfs on', node.settings.name)
  return t
}

export function rpmsgCfsRoutes (app: FastifyInstance, node: SoclinkNode): void {
  app.get('/v1/rpmsg/channel', {
    schema: {
      summary: 'rpmsg/channel/: a group per registered rpmsg driver id, with its items and where each is linked',
      description: `Groups come and go with drivers (--rpmsg-sample loads rpmsg-client-sample). ${NO_RPMSG}`,
      tags: ['rpmsg'],
      querystring: noFields,
      response: { 200: record({ groups: { type: 'array', items: GroupSchema } }), ...errorReplies(400, 404) }
    }
  }, async (): Promise<{ groups: ChannelGroupView[] }> => ({ groups: table(node).channelGroups() }))

  app.post<{ Params: { group: string }, Body: { name: string } }>('/v1/rpmsg/channel/:group/items', {
    schema: {
      summary: 'mkdir rpmsg/channel/<group>/<name>',
      description: `No such group: 404. An item of that name: 409 ERR_CONFLICT. ${NO_RPMSG}`,
      tags: ['rpmsg'],
      params: fields({ group }),
      querystring: noFields,
      body: record({ name: item }),
      response: { 201: ItemSchema, ...errorReplies(400, 404, 409, 413, 415) }
    }
  }, async (request, reply): Promise<ChannelItemView> => {
    table(node).makeItem(request.params.group, request.body.name)
    reply.code(201)
    return { name: request.body.name, link: null }
  })

  app.delete<{ Params: { group: string, item: string } }>('/v1/rpmsg/channel/:group/items/:item', {
    schema: {
      summary: 'rmdir rpmsg/channel/<group>/<item>',
      description: `A linked item is busy: 409 ERR_BUSY (unlink it first). ${NO_RPMSG}`,
      tags: ['rpmsg'],
      params: fields({ group, item }),
      querystring: noFields,
      response: { 204: noContent, ...errorReplies(400, 404, 409) }
    }
  }, async (request, reply) => {
    table(node).removeItem(request.params.group, request.params.item)
    return reply.code(204).send()
  })

  app.get('/v1/rpmsg/virtproc', {
    schema: {
      summary: 'rpmsg/virtproc/: one per vhost rpmsg device on this daemon, with its links',
      description: `Empty on an rc (no vhost device) and on an ep before its rpmsg function starts. ${NO_RPMSG}`,
      tags: ['rpmsg'],
      querystring: noFields,
      response: { 200: record({ virtprocs: { type: 'array', items: VirtprocSchema } }), ...errorReplies(400, 404) }
    }
  }, async (): Promise<{ virtprocs: VirtprocView[] }> => ({ virtprocs: table(node).virtprocs() }))

  app.post<{ Params: { dev: string }, Body: { group: string, item: string } }>('/v1/rpmsg/virtproc/:dev/links', {
    schema: {
      summary: 'ln -s rpmsg/channel/<group>/<item> rpmsg/virtproc/<dev>: a channel named <group>, announced to the rc',
      description: 'An unknown virtproc (every one, on an rc), group or item: 404 ERR_NOT_FOUND. An item already linked: 409 ERR_BUSY. ' +
        `A channel of that name on the device: 409 ERR_CONFLICT. ${NO_RPMSG}`,
      tags: ['rpmsg'],
      params: fields({ dev: device }),
      querystring: noFields,
      body: record({ group, item }),
      response: { 201: LinkSchema, ...errorReplies(400, 404, 409, 413, 415) }
    }
  }, async (request, reply): Promise<VirtprocLinkView> => {
    const { group: g, item: i } = request.body
    const ch = table(node).link(request.params.dev, g, i)
    reply.code(201)
    return { group: g, item: i, channel: { name: ch.name, src: ch.src } }
  })

  app.delete<{ Params: { dev: string, group: string, item: string } }>('/v1/rpmsg/virtproc/:dev/links/:group/:item', {
    schema: {
      summary: 'rm rpmsg/virtproc/<dev>/<item>: the channel is destroyed (NS DESTROY to the rc)',
      description: `No such link: 404. ${NO_RPMSG}`,
      tags: ['rpmsg'],
      params: fields({ dev: device, group, item }),
      querystring: noFields,
      response: { 204: noContent, ...errorReplies(400, 404) }
    }
  }, async (request, reply) => {
    table(node).unlink(request.params.dev, request.params.group, request.params.item)
    return reply.code(204).send()
  })

  app.get('/v1/rpmsg/sample', {
    schema: {
      summary: 'The rpmsg client sample: per probed channel, messages received and sent and whether it is done',
      description: `Without the sample driver loaded (--rpmsg-sample): 404 ERR_NOT_FOUND. ${NO_RPMSG}`,
      tags: ['rpmsg'],
      querystring: noFields,
      response: { 200: record({ channels: { type: 'array', items: SampleSchema } }), ...errorReplies(400, 404) }
    }
  }, async (): Promise<{ channels: SampleView[] }> => {
    const drv = table(node).driver(SAMPLE_DRIVER)
    if (!(drv instanceof RpmsgClientSample)) throw new NotFoundError('rpmsg driver', SAMPLE_DRIVER)
    return { channels: drv.views() }
  })
}
