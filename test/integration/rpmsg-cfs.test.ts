// The rpmsg configfs tree as REST, on an rc and an ep both started with
// --rpmsg-sample (in process, real loopback links): the ep's item c1 is
// linked into virtproc vhost0 by the flag; a linked item is busy; unlink
// destroys the channel on both sides; linking another item creates it
// again and the rc sees it; unknown names are 404s; bad bodies 400s.

import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApi } from '../../daemon/src/api/server.js'
import { linkUrl, startNode } from '../support/nodes.js'
import { until } from '../support/daemon.js'

interface ErrorBody { error: { code: string, message: string } }
interface ChannelsBody { channels: Array<{ name: string, src: number, dst: number | null, side: string }> }
interface SampleBody { channels: Array<{ side: string, channel: string, src: number, dst: number | null, rx: number, tx: number, done: boolean }> }

const SAMPLE = 'rpmsg-client-sample'

async function json<T> (api: FastifyInstance, url: string): Promise<T> {
  const res = await api.inject({ url })
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${res.body}`)
  return res.json<T>()
}

t.test('configfs over REST: mkdir, link, busy, unlink, relink', async (t) => {
  const rc = await startNode('rc', ['--role', 'rc', '--rpmsg-sample'])
  const ep = await startNode('ep', ['--role', 'ep', '--rpmsg-sample', '--peer', linkUrl(rc)])
  const rcApi = await buildApi(rc)
  const epApi = await buildApi(ep)
  t.teardown(async () => { await rcApi.close(); await epApi.close(); await ep.stop('test'); await rc.stop('test') })
  const post = async (api: FastifyInstance, url: string, payload: unknown): Promise<{ status: number, body: unknown, code: string | undefined }> => {
    const res = await api.inject({ method: 'POST', url, payload: payload as Record<string, unknown> })
    const body = res.body === '' ? null : res.json<unknown>()
    return { status: res.statusCode, body, code: (body as ErrorBody | null)?.error?.code }
  }
  const del = async (api: FastifyInstance, url: string): Promise<{ status: number, code: string | undefined }> => {
    const res = await api.inject({ method: 'DELETE', url })
    return { status: res.statusCode, code: res.body === '' ? undefined : res.json<ErrorBody>().error.code }
  }
  const rcChannel = async (): Promise<ChannelsBody['channels'][number] | undefined> =>
    (await rcApi.inject({ url: '/v1/rpmsg/channels' })).json<ChannelsBody>().channels?.find((c) => c.name === SAMPLE)

  const first = await until('the rc sees the sample channel', rcChannel, 15_000)
  const virtprocs = await json<{ virtprocs: unknown[] }>(epApi, '/v1/rpmsg/virtproc')
  t.same(virtprocs, { virtprocs: [{ name: 'vhost0', links: [{ group: SAMPLE, item: 'c1', channel: { name: SAMPLE, src: first.dst } }] }] }, 'ep: vhost0 holds the link --rpmsg-sample made')
  t.same(await json(epApi, '/v1/rpmsg/channel'), { groups: [{ name: SAMPLE, driver: 'rpmsg_client_sample', items: [{ name: 'c1', link: 'vhost0' }] }] })
  t.same(await json(rcApi, '/v1/rpmsg/channel'), { groups: [{ name: SAMPLE, driver: 'rpmsg_client_sample', items: [] }] }, 'rc: the group, no items')
  t.same(await json(rcApi, '/v1/rpmsg/virtproc'), { virtprocs: [] }, 'rc: no vhost device, no virtproc')

  t.match(await post(epApi, '/v1/rpmsg/virtproc/vhost0/links', { group: SAMPLE, item: 'c1' }), { status: 409, code: 'ERR_BUSY' }, 'relink: busy')
  t.match(await del(epApi, `/v1/rpmsg/channel/${SAMPLE}/items/c1`), { status: 409, code: 'ERR_BUSY' }, 'rmdir while linked: busy')
  t.match(await post(epApi, `/v1/rpmsg/channel/${SAMPLE}/items`, { name: 'c2' }), { status: 201, body: { name: 'c2', link: null } }, 'mkdir c2')
  t.match(await post(epApi, `/v1/rpmsg/channel/${SAMPLE}/items`, { name: 'c2' }), { status: 409, code: 'ERR_CONFLICT' }, 'mkdir c2 again')
  t.match(await post(epApi, '/v1/rpmsg/channel/no-such-driver/items', { name: 'c2' }), { status: 404, code: 'ERR_NOT_FOUND' }, 'mkdir in no group')
  t.match(await post(epApi, '/v1/rpmsg/virtproc/vhost0/links', { group: SAMPLE, item: 'c2' }), { status: 409, code: 'ERR_CONFLICT' },
    'a second link of the group: the channel name is taken on vhost0')

  t.match(await post(epApi, '/v1/rpmsg/virtproc/vhost9/links', { group: SAMPLE, item: 'c2' }), { status: 404, code: 'ERR_NOT_FOUND', body: { error: { message: /no such device/ } } }, 'unknown virtproc')
  t.match(await post(epApi, '/v1/rpmsg/virtproc/vhost0/links', { group: SAMPLE, item: 'c7' }), { status: 404, code: 'ERR_NOT_FOUND' }, 'unknown item')
  t.match(await post(epApi, '/v1/rpmsg/virtproc/vhost0/links', { group: 'nope', item: 'c2' }), { status: 404, code: 'ERR_NOT_FOUND' }, 'unknown group')
  t.match(await post(rcApi, '/v1/rpmsg/virtproc/vhost0/links', { group: SAMPLE, item: 'c1' }), { status: 404, code: 'ERR_NOT_FOUND', body: { error: { message: /no such device/ } } }, 'on the rc every virtproc is unknown')
  t.match(await del(epApi, `/v1/rpmsg/virtproc/vhost0/links/${SAMPLE}/c2`), { status: 404, code: 'ERR_NOT_FOUND' }, 'unlink of an unlinked item')

  const bad: Array<[string, unknown]> = [
    [`/v1/rpmsg/channel/${SAMPLE}/items`, {}],
    [`/v1/rpmsg/channel/${SAMPLE}/items`, { name: 'c3', extra: 1 }],
    [`/v1/rpmsg/channel/${SAMPLE}/items`, { name: '../c3' }],
    [`/v1/rpmsg/channel/${SAMPLE}/items`, { name: 3 }],
    ['/v1/rpmsg/virtproc/vhost0/links', { group: SAMPLE }],
    ['/v1/rpmsg/virtproc/vhost0/links', { group: SAMPLE, item: 'c2', to: 'vhost0' }],
    ['/v1/rpmsg/virtproc/vhost0/links', { group: '', item: 'c2' }],
    ['/v1/rpmsg/virtproc/vhost0/links', []]
  ]
  for (const [url, body] of bad) t.match(await post(epApi, url, body), { status: 400, code: 'ERR_VALIDATION' }, `400: POST ${url} ${JSON.stringify(body)}`)
  t.match(await post(epApi, `/v1/rpmsg/channel/${SAMPLE}/items?x=1`, { name: 'c3' }), { status: 400, code: 'ERR_VALIDATION' }, 'no query fields')

  t.match(await del(epApi, `/v1/rpmsg/virtproc/vhost0/links/${SAMPLE}/c1`), { status: 204 }, 'unlink c1')
  t.same((await json<ChannelsBody>(epApi, '/v1/rpmsg/channels')).channels, [], 'the ep\'s channel is gone')
  await until('the rc drops the channel on NS DESTROY', async () => await rcChannel() === undefined ? true : undefined)
  t.same(await json(rcApi, '/v1/rpmsg/sample'), { channels: [] }, 'the rc\'s sample was removed from it')
  t.same(await json(epApi, '/v1/rpmsg/sample'), { channels: [] }, 'and the ep\'s')
  t.match(await del(epApi, `/v1/rpmsg/channel/${SAMPLE}/items/c1`), { status: 204 }, 'rmdir c1 once unlinked')
  t.match(await del(epApi, `/v1/rpmsg/channel/${SAMPLE}/items/c1`), { status: 404, code: 'ERR_NOT_FOUND' })

  const linked = await post(epApi, '/v1/rpmsg/virtproc/vhost0/links', { group: SAMPLE, item: 'c2' })
  t.match(linked, { status: 201, body: { group: SAMPLE, item: 'c2', channel: { name: SAMPLE } } }, 'link c2: a channel named after the group')
  const src = (linked.body as { channel: { src: number } }).channel.src
  const again = await until('the rc sees the new channel', rcChannel)
  t.equal(again.dst, src, 'the rc\'s channel sends to the new endpoint')
  t.same(await json(epApi, '/v1/rpmsg/channel'), { groups: [{ name: SAMPLE, driver: 'rpmsg_client_sample', items: [{ name: 'c2', link: 'vhost0' }] }] })
  const sampleDone = async (api: FastifyInstance): Promise<true | undefined> =>
    (await json<SampleBody>(api, '/v1/rpmsg/sample')).channels.some((c) => c.done && c.rx === 100) ? true : undefined
  await until('both samples ran again on the new channel', async () => (await sampleDone(rcApi)) === true && (await sampleDone(epApi)) === true ? true : undefined, 15_000)
  t.pass('both samples ran again to 100')
})

t.test('without the sample, and without rpmsg', async (t) => {
  const rc = await startNode('rc-plain', ['--role', 'rc'])
  const other = await startNode('ntb', ['--role', 'ntb'])
  const rcApi = await buildApi(rc)
  const otherApi = await buildApi(other)
  t.teardown(async () => { await rcApi.close(); await otherApi.close(); await rc.stop('test'); await other.stop('test') })
  t.same(await json(rcApi, '/v1/rpmsg/channel'), { groups: [] }, 'no driver registered, no group')
  t.same(await json(rcApi, '/v1/rpmsg/virtproc'), { virtprocs: [] })
  const sample = await rcApi.inject({ url: '/v1/rpmsg/sample' })
  t.equal(sample.statusCode, 404, 'the sample is not loaded')
  t.equal(sample.json<ErrorBody>().error.code, 'ERR_NOT_FOUND')
  for (const url of ['/v1/rpmsg/channel', '/v1/rpmsg/virtproc', '/v1/rpmsg/sample']) {
    const res = await otherApi.inject({ url })
    t.equal(res.statusCode, 404, `${url} on a daemon with no rpmsg`)
  }
})
