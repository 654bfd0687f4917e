// Virtio and vhost devices and their virtqueues (read-only), and runs of the
// soclink test device pair. An rc daemon shows its virtio devices (the
// driver side), an ep daemon its started vhost device (the device side),
// an ntb-virtio host the virtio device its transport presents and an
// ntb-vhost host its registered vhost device; other daemons have none.

import type { FastifyInstance } from 'fastify'
import type { SoclinkNode } from '../../node.js'
import { NotFoundError, TimeoutError } from '../../errors.js'
import type { TestCounters } from '../../virtio/virtio-soclink-test.js'
import { deviceViews, virtqueueViews, type DeviceView, type VirtqueueView } from '../pcie-views.js'
import { ntbDeviceViews, ntbVirtqueueViews } from '../ntb-device-views.js'
import { errorReplies, fields, noFields } from '../schemas.js'
import { DEFAULT_TEST_TIMEOUT_MS, DeviceListSchema, DeviceSchema, ENTRY_NAME, TestRunRequestSchema, TestRunResultSchema, VirtqueueListSchema, ref, type TestRunRequest, type TestRunResult } from '../../../../proto/api/index.js'
import { within } from '../../../../client/src/deadline.js'

export type TestRunView = TestRunResult

const nameParams = fields({ name: { type: 'string', pattern: ENTRY_NAME, description: 'virtio<n> or vhost<n>' } })

const allDevices = (node: SoclinkNode): DeviceView[] => [...deviceViews(node), ...ntbDeviceViews(node)]
const allVirtqueues = (node: SoclinkNode): VirtqueueView[] => [...virtqueueViews(node), ...ntbVirtqueueViews(node)]

export function deviceRoutes (app: FastifyInstance, node: SoclinkNode): void {
  app.get('/v1/devices', {
    schema: {
      summary: 'Virtio devices (rc, ntb-virtio) or the vhost device (ep, ntb-vhost), with status and features',
      tags: ['devices'],
      querystring: noFields,
      response: { 200: DeviceListSchema, ...errorReplies(400) }
    }
  }, async () => ({ devices: allDevices(node) }))

  app.get<{ Params: { name: string } }>('/v1/devices/:name', {
    schema: {
      summary: 'One device, by name',
      tags: ['devices'],
      params: nameParams,
      querystring: noFields,
      response: { 200: ref(DeviceSchema), ...errorReplies(400, 404) }
    }
  }, async (request): Promise<DeviceView> => {
    const d = allDevices(node).find((v) => v.name === request.params.name)
    if (d === undefined) throw new NotFoundError('device', request.params.name)
    return d
  })

  app.post<{ Params: { name: string }, Body: TestRunRequest }>('/v1/devices/:name/test', {
    schema: {
      summary: 'Run the soclink test device: send tx buffers and receive rx buffers, contents checked',
      description: 'On the driver side (rc), for a virtio device bound to the test driver; any other name is a 404. ' +
        'Answers when the device has used every buffer, with this run\'s counters: sent (tx buffers), received ' +
        '(rx buffers), verified (rx buffers whose contents were right), errors (rx buffers that were not), bytes ' +
        '(payload both ways). Runs on one device overlap; counters of one cover what moved meanwhile. ' +
        'Not done within timeoutMs: 504 ERR_TIMEOUT, and the buffers stay queued. The device failing under the run (removed, a broken ring): ' +
        '503 with the device\'s own code (ERR_VIRTIO_*, ERR_RING_*).',
      tags: ['devices'],
      params: nameParams,
      querystring: noFields,
      body: TestRunRequestSchema,
      response: {
        200: TestRunResultSchema,
        ...errorReplies(400, 404, 413, 415, 503, 504)
      }
    }
  }, async (request): Promise<TestRunView> => {
    const { name } = request.params
    const role = node.pcieRc
    const dev = [...role?.transports.values() ?? []].map((t) => t.device).find((d) => d.name === name)
    if (role === null || dev === undefined || dev.driver !== role.testDriver) throw new NotFoundError('virtio device bound to the test driver', name)
    const { tx, rx, timeoutMs = DEFAULT_TEST_TIMEOUT_MS } = request.body
    const before = { ...role.testDriver.counters(dev) }
    const started = performance.now()
    const after: TestCounters = await within(role.testDriver.run({ tx, rx }, dev), timeoutMs, () => { throw new TimeoutError(`the test run on ${name} did not finish in ${timeoutMs} ms`) })
    return {
      sent: after.sent - before.sent,
      received: after.received - before.received,
      verified: after.verified - before.verified,
      errors: after.errors - before.errors,
      bytes: after.bytes - before.bytes,
      seconds: (performance.now() - started) / 1000
    }
  })

  app.get('/v1/virtqueues', {
    schema: {
      summary: 'Every virtqueue of every device: addresses, indices, counters',
      description: 'rc: the driver side, rings in its system memory. ep: the device side, the same rings read ' +
        'through the outbound window (region <rc>:pcie.sysmem), so its indices may trail the rc\'s for a moment. ' +
        'ntb-virtio: the driver side, rings in its system memory (MW0). ntb-vhost: the device side, the same rings read through ' +
        'its peer memory window (region <board>:pcie.bar2, MW1 of the board\'s NTB function), by the virtio host\'s addresses.',
      tags: ['virtqueues'],
      querystring: noFields,
      response: { 200: VirtqueueListSchema, ...errorReplies(400) }
    }
  }, async () => ({ virtqueues: allVirtqueues(node) }))
}
