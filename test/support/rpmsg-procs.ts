// rpmsg daemon processes for end-to-end tests that stop, restart or freeze
// one side: an ep that may dial an rc or be dialed by one, and small REST
// and event helpers. An ep's function vhost0 runs vhost_rpmsg_bus with no
// config file: vhostDriver defaults to rpmsg.

import type { EventEmitter } from 'node:events'
import { startDaemon, until, within, type Daemon } from './daemon.js'
import type { RpmsgChannelEvent, RpmsgClient } from '../../client/src/index.js'

/**
 * An ep daemon that dials `rc` (null: none; an rc dials it), with `args`
 * added; with an rc, resolves once both daemons have an rpmsg bus.
 */
export async function startRpmsgEp (rc: Daemon | null, args: string[] = []): Promise<Daemon> {
  const ep = await startDaemon('ep', ['--role', 'ep', ...(rc === null ? [] : ['--peer', rc.link]), ...args])
  if (rc === null) return ep
  try {
    await rpmsgBus(ep)
    await rpmsgBus(rc)
  } catch (err) {
    await ep.stop()
    throw err
  }
  return ep
}

/** GET `path` on a daemon's API: status and JSON body. */
export async function getJson<T> (api: string, path: string): Promise<{ status: number, body: T }> {
  const res = await fetch(api + path)
  return { status: res.status, body: await res.json() as T }
}

export interface EndpointRow { addr: number, channel: string | null, owner: string, connection: number | null, client: string | null, counters: { sent: number, received: number, dropped: number } }
export interface EndpointsBody { endpoints: EndpointRow[], buses: Array<{ counters: Record<string, number> }> }
export interface ConnectionsBody {
  connections: Array<{ id: number, client: string, dropped: number, buffered: number, endpoints: Array<{ addr: number, name: string, state: string, remote: number | null, sent: number, received: number, dropped: number, buffered: number }> }>
}

/** Resolves once the daemon has an rpmsg bus (GET /v1/rpmsg/endpoints answers 200). */
export async function rpmsgBus (d: Daemon, ms = 20_000): Promise<EndpointsBody> {
  return await until(`${d.name}'s rpmsg bus`, async () => {
    const r = await getJson<EndpointsBody>(d.api, '/v1/rpmsg/endpoints')
    return r.status === 200 ? r.body : undefined
  }, ms)
}

/** The next `event` on `emitter` (its arguments), or a failure naming it. */
export async function nextEvent<T extends unknown[]> (emitter: EventEmitter, event: string, what = event): Promise<T> {
  return await within(new Promise<T>((resolve) => { emitter.once(event, (...args: unknown[]) => { resolve(args as T) }) }), what, 30_000)
}

/** The next channel event on `client` for `name`. */
export async function channelEvent (client: RpmsgClient, name: string, created: boolean): Promise<RpmsgChannelEvent> {
  return await within(new Promise<RpmsgChannelEvent>((resolve) => {
    const on = (ev: RpmsgChannelEvent): void => {
      if (ev.name === name && ev.created === created) { client.off('channel', on); resolve(ev) }
    }
    client.on('channel', on)
  }), `channel ${name} ${created ? 'created' : 'destroyed'}`, 30_000)
}
