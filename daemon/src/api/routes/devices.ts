// Virtio and vhost devices and their virtqueues (read-only), and runs of the
// soclink test device pair. An rc daemon shows its virtio devices (the
// driver side), an ep daemon its started vhost device (the device side),
// an ntb-virtio host the virtio device its transport presents and an
// ntb-vhost host its registered vhost device; the roles that have devices
// register these routes with their own DeviceSource.

import type { FastifyInstance } from 'fastify'
import { NotFoundError, TimeoutError } from '../../errors.js'
import type { TestCounters, TestVirtioDriver } from '../../virtio/virtio-soclink-test.js'
import type { VirtioDevice } from '../../virtio/virtio.js'
import type { DeviceView, VirtqueueView } from '../pcie-views.js'
import { errorReplies, fields, noFields } from '../schemas.js'
import { DEFAULT_TEST_TIMEOUT_MS, DeviceListSchema, DeviceSchema, ENTRY_NAME, TestRunRequestSchema, TestRunResultSchema, VirtqueueListSchema, ref, type TestRunRequest, type TestRunResult } from '../../../../proto/api/index.js'
import { within } from '../../../../client/src/deadline.js'

export type TestRunView = TestRunResult

const nameParams = fields({ name: { type: 'string', pattern: ENTRY_NAME, description: 'virtio<n> or vhost<n>' } })

/** A role's devices, their rings, and the ones the test routes may run. */
export interface DeviceSource {
  devices: () => DeviceView[]
  virtqueues: () => VirtqueueView[]
  /** The virtio device `name` with the test driver that drives it, if this role runs one (the rc). */
  testDevice: (name: string) => { device: VirtioDevice, driver: TestVirtioDriver } | undefined
}

export function deviceRoutes (app: FastifyInstance, source: DeviceSource): void {
  app.get('/v1/devices', {
    schema: {
      summary: 'Virtio devices (rc, ntb-virtio) or the vhost device (ep, ntb-vhost), with status and features',
      tags: ['devices'],
      querystring: noFields,
      response: { 200: DeviceListSchema, ...errorReplies(400) }
    }
  }, async () => ({ devices: source.devices() }))

  app.get<{ Params: { name: string } }>('/v1/devices/:name', {
    schema: {
      summary: 'One device, by name',
      tags: ['devices'],
      params: nameParams,
      querystring: noFields,
      response: { 200: ref(DeviceSchema), ...errorReplies(400, 404) }
    }
  }, async (request): Promise<DeviceView> => {
    const d = source.devices().find((v) => v.name === request.params.name)
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
    const test = source.testDevice(name)
    if (test === undefined) throw new NotFoundError('virtio device bound to the test driver', name)
    const { device: dev, driver } = test
    const { tx, rx, timeoutMs = DEFAULT_TEST_TIMEOUT_MS } = request.body
    const before = { ...driver.counters(dev) }
    const started = performance.now()
    const after: TestCounters = await within(driver.run({ tx, rx }, dev), timeoutMs, () => { throw new TimeoutError(`the test run on ${name} did not finish in ${timeoutMs} ms`) })
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
  }, async () => ({ virtqueues: source.virtqueues() }))
}
