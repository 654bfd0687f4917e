// A typed client for a daemon's control API (/v1/...), over fetch, with the
// token and TLS trust of credentials.ts.

import { ApiError } from './errors.js'
import { linkPortRefusal } from './link-port.js'
import { refusal, resolveCredentials, type ConnectionOptions, type Credentials } from './credentials.js'
import { fetcherFor, type Fetch } from './transport.js'
import { openEventStream, type EventStream } from './event-stream.js'
import type {
  Device, Doorbell, Health, NodeInfo, NtbDbRequest, NtbDoorbells, NtbLinkResult, NtbPerfRequest, NtbPerfResult, NtbPerfState, NtbSpads,
  NtbSpadWrite, NtbState, NtbWindow, NtbWindows, PciEpController, PciEpFunction, PciEpFunctionAttrs, PciEpTree, PciRootComplex, Peer, FaultPlan,
  Region, RingResult, RpmsgChannelInfo, RpmsgEndpointList, TestRunRequest, TestRunResult, Virtqueue, Window, WindowRequest, WriteResult
} from '../../proto/api/index.js'

type Ref = string | number
const seg = (r: Ref): string => encodeURIComponent(String(r))

/** Query strings carry numbers as plain decimal. */
function query (values: Record<string, number | boolean | undefined>): string {
  const parts = Object.entries(values).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${String(v)}`)
  return parts.length === 0 ? '' : `?${parts.join('&')}`
}

function reason (err: unknown): string {
  const cause = (err as Error).cause as (Error & { code?: string }) | undefined
  if (cause !== undefined) return cause.message !== '' ? cause.message : (cause.code ?? String(cause))
  return (err as Error).message
}

export class ControlClient {
  readonly base: string
  private readonly credentials: Credentials
  private readonly fetch: Fetch

  /**
   * `base` is the daemon's API URL, e.g. http://127.0.0.1:7401 or
   * https://board:7401; `options` the token and TLS trust (files are read now).
   */
  constructor (base = 'http://127.0.0.1:7401', readonly options: ConnectionOptions = {}) {
    const url = new URL(base)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`control API URL ${base} is not http(s)`)
    this.base = base.replace(/\/+$/, '')
    this.credentials = resolveCredentials(options)
    this.fetch = fetcherFor(this.credentials)
  }

  private async request (method: string, path: string, body?: { json: unknown } | { bytes: Uint8Array }): Promise<Response> {
    const init: RequestInit = body === undefined
      ? { method }
      : 'bytes' in body
        ? { method, body: body.bytes, headers: { 'content-type': 'application/octet-stream' } }
        : { method, body: JSON.stringify(body.json), headers: { 'content-type': 'application/json' } }
    let res: Response
    try {
      res = await this.fetch(this.base + path, init)
    } catch (err) {
      throw new ApiError('ERR_CONNECT', `cannot reach the control API at ${this.base}: ${reason(err)}`, 0, { cause: err })
    }
    if (res.ok) return res
    let code = 'ERR_HTTP'
    let message = `${method} ${path}: HTTP ${res.status}`
    const text = await res.text().catch(() => '')
    const linkPort = linkPortRefusal(this.base, res.status, text)
    if (linkPort !== null) throw linkPort
    try {
      const e = (JSON.parse(text) as { error?: { code?: unknown, message?: unknown } }).error
      if (typeof e?.code === 'string') code = e.code
      if (typeof e?.message === 'string') message = e.message
    } catch {
      // Not our JSON error shape (a proxy's page, an empty body): ERR_HTTP and the status say what is known.
    }
    throw refusal(res.status, code, message, this.credentials)
  }

  private async json<T> (method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body === undefined ? undefined : { json: body })
    if (res.status === 204) return undefined as T
    try {
      return await res.json() as T
    } catch (err) {
      throw new ApiError('ERR_BAD_REPLY', `${method} ${path}: the reply is not JSON`, res.status, { cause: err })
    }
  }

  private async bytes (path: string): Promise<Uint8Array> {
    return new Uint8Array(await (await this.request('GET', path)).arrayBuffer())
  }

  private async put (path: string, bytes: Uint8Array): Promise<WriteResult> {
    return await (await this.request('PUT', path, { bytes })).json() as WriteResult
  }

  async health (): Promise<Health> { return await this.json('GET', '/healthz') }
  async node (): Promise<NodeInfo> { return await this.json('GET', '/v1/node') }

  async regions (): Promise<Region[]> { return (await this.json<{ regions: Region[] }>('GET', '/v1/regions')).regions }
  async region (ref: Ref): Promise<Region> { return await this.json('GET', `/v1/regions/${seg(ref)}`) }
  async createRegion (name: string, size: number): Promise<Region> { return await this.json('POST', '/v1/regions', { name, size }) }
  async deleteRegion (ref: Ref): Promise<void> { await this.json('DELETE', `/v1/regions/${seg(ref)}`) }

  async readRegion (ref: Ref, offset: number, length: number): Promise<Uint8Array> {
    return await this.bytes(`/v1/regions/${seg(ref)}/memory${query({ offset, length })}`)
  }

  async writeRegion (ref: Ref, offset: number, bytes: Uint8Array): Promise<WriteResult> {
    return await this.put(`/v1/regions/${seg(ref)}/memory${query({ offset })}`, bytes)
  }

  async peers (): Promise<Peer[]> { return (await this.json<{ peers: Peer[] }>('GET', '/v1/peers')).peers }
  async peer (name: string): Promise<Peer> { return await this.json('GET', `/v1/peers/${seg(name)}`) }
  async addPeer (url: string): Promise<Peer> { return await this.json('POST', '/v1/peers', { url }) }
  /** Puts the link to `name` through a fault plan (a daemon started with --fault-injection). */
  async setFaults (name: string, plan: FaultPlan): Promise<Peer> { return await this.json('PUT', `/v1/peers/${seg(name)}/faults`, plan) }
  async clearFaults (name: string): Promise<void> { await this.json('DELETE', `/v1/peers/${seg(name)}/faults`) }

  async windows (): Promise<Window[]> { return (await this.json<{ windows: Window[] }>('GET', '/v1/windows')).windows }
  async window (id: number): Promise<Window> { return await this.json('GET', `/v1/windows/${seg(id)}`) }
  async openWindow (req: WindowRequest): Promise<Window> { return await this.json('POST', '/v1/windows', req) }
  async closeWindow (id: number): Promise<void> { await this.json('DELETE', `/v1/windows/${seg(id)}`) }

  async readWindow (id: number, offset: number, length: number, opts: { uncached?: boolean } = {}): Promise<Uint8Array> {
    return await this.bytes(`/v1/windows/${seg(id)}/memory${query({ offset, length, uncached: opts.uncached === true ? true : undefined })}`)
  }

  async writeWindow (id: number, offset: number, bytes: Uint8Array): Promise<WriteResult> {
    return await this.put(`/v1/windows/${seg(id)}/memory${query({ offset })}`, bytes)
  }

  async doorbells (): Promise<Doorbell[]> { return (await this.json<{ doorbells: Doorbell[] }>('GET', '/v1/doorbells')).doorbells }
  async declareDoorbell (name: string): Promise<Doorbell> { return await this.json('POST', '/v1/doorbells', { name }) }
  async removeDoorbell (name: string): Promise<void> { await this.json('DELETE', `/v1/doorbells/${seg(name)}`) }

  async ring (peer: string, target: string, value = 1): Promise<RingResult> {
    return await this.json('POST', `/v1/peers/${seg(peer)}/doorbells/${seg(target)}`, { value })
  }

  /** The endpoint's pci_ep configfs tree (an ep daemon only). */
  async pciEp (): Promise<PciEpTree> { return await this.json('GET', '/v1/pci-ep') }
  async createFunction (name: string, attrs: PciEpFunctionAttrs = {}): Promise<PciEpFunction> {
    return await this.json('POST', '/v1/pci-ep/functions', { name, ...attrs })
  }

  async updateFunction (name: string, attrs: PciEpFunctionAttrs): Promise<PciEpFunction> {
    return await this.json('PATCH', `/v1/pci-ep/functions/${seg(name)}`, attrs)
  }

  async deleteFunction (name: string): Promise<void> { await this.json('DELETE', `/v1/pci-ep/functions/${seg(name)}`) }
  async linkFunction (ctrl: string, name: string): Promise<void> { await this.json('PUT', `/v1/pci-ep/controllers/${seg(ctrl)}/functions/${seg(name)}`) }
  async unlinkFunction (ctrl: string, name: string): Promise<void> { await this.json('DELETE', `/v1/pci-ep/controllers/${seg(ctrl)}/functions/${seg(name)}`) }
  async startController (ctrl: string): Promise<PciEpController> { return await this.json('POST', `/v1/pci-ep/controllers/${seg(ctrl)}/start`) }
  async stopController (ctrl: string): Promise<PciEpController> { return await this.json('POST', `/v1/pci-ep/controllers/${seg(ctrl)}/stop`) }

  /** The root complex's view (an rc daemon only). */
  async pci (): Promise<PciRootComplex> { return await this.json('GET', '/v1/pci') }

  async devices (): Promise<Device[]> { return (await this.json<{ devices: Device[] }>('GET', '/v1/devices')).devices }
  async device (name: string): Promise<Device> { return await this.json('GET', `/v1/devices/${seg(name)}`) }
  async virtqueues (): Promise<Virtqueue[]> { return (await this.json<{ virtqueues: Virtqueue[] }>('GET', '/v1/virtqueues')).virtqueues }

  /** Runs the test device pair on a virtio device (rc); resolves when every buffer is used. */
  async runTestDevice (name: string, req: TestRunRequest): Promise<TestRunResult> {
    return await this.json('POST', `/v1/devices/${seg(name)}/test`, req)
  }

  /** rpmsg channels on the daemon's rpmsg bus(es); ERR_NOT_FOUND (404) when it has none. */
  async rpmsgChannels (): Promise<RpmsgChannelInfo[]> { return (await this.json<{ channels: RpmsgChannelInfo[] }>('GET', '/v1/rpmsg/channels')).channels }
  /** Binds an announced channel on the virtio side with no reader (a REST claim, driver soclink_rest); ERR_BUSY if the configuration holds it. */
  async rpmsgClaim (name: string): Promise<RpmsgChannelInfo> { return await this.json('POST', `/v1/rpmsg/channels/${seg(name)}/claim`) }
  /** Releases a REST claim: the channel is unbound (AS FREE) unless something else holds it. */
  async rpmsgRelease (name: string): Promise<void> { await this.json('DELETE', `/v1/rpmsg/channels/${seg(name)}/claim`) }
  /** rpmsg endpoints (local addresses) and each bus's counters. */
  async rpmsgEndpoints (): Promise<RpmsgEndpointList> { return await this.json('GET', '/v1/rpmsg/endpoints') }

  /** The NTB board's pairs (role ntb) or a host's NTB device and transport (ntb-virtio, ntb-vhost). */
  async ntb (): Promise<NtbState> { return await this.json('GET', '/v1/ntb') }

  // ntb_tool and ntb_perf on an NTB host. `force` overrides the refusal
  // (409 ERR_BUSY) of what the transport or ntb_perf owns.
  async ntbLink (up: boolean, force?: boolean): Promise<NtbLinkResult> { return await this.json('POST', '/v1/ntb/link', { up, ...(force === true && { force }) }) }
  async ntbDoorbells (): Promise<NtbDoorbells> { return await this.json('GET', '/v1/ntb/db') }
  async ntbDoorbellWrite (req: NtbDbRequest): Promise<NtbDoorbells> { return await this.json('POST', '/v1/ntb/db', req) }
  async ntbPeerDoorbell (bits: number, force?: boolean): Promise<{ rang: number }> {
    return await this.json('POST', '/v1/ntb/peer-db', { bits, ...(force === true && { force }) })
  }

  async ntbSpads (): Promise<NtbSpads> { return await this.json('GET', '/v1/ntb/spad') }
  /** spad_write, or peer_spad_write with `peer`. */
  async ntbSpadWrite (idx: number, value: number, opts: { peer?: boolean, force?: boolean } = {}): Promise<NtbSpadWrite> {
    return await this.json('PUT', `/v1/ntb/${opts.peer === true ? 'peer-spad' : 'spad'}/${seg(idx)}`, { value, ...(opts.force === true && { force: true }) })
  }

  async ntbWindows (): Promise<NtbWindows> { return await this.json('GET', '/v1/ntb/mw') }
  async ntbSetWindow (widx: number, addr: number, size: number, force?: boolean): Promise<NtbWindow> {
    return await this.json('PUT', `/v1/ntb/mw/${seg(widx)}`, { addr, size, ...(force === true && { force }) })
  }

  async ntbClearWindow (widx: number, force?: boolean): Promise<NtbWindow> {
    return await this.json('DELETE', `/v1/ntb/mw/${seg(widx)}${force === true ? '?force=true' : ''}`)
  }

  async ntbPerf (): Promise<NtbPerfState> { return await this.json('GET', '/v1/ntb/perf') }
  /** One ntb_perf run toward the other host: memory window write bandwidth, then doorbell round trips. */
  async runNtbPerf (req: NtbPerfRequest = {}): Promise<NtbPerfResult> { return await this.json('POST', '/v1/ntb/perf', req) }

  /** The live event stream; resolves once subscribed, so no later event is missed. */
  async events (): Promise<EventStream> {
    return await openEventStream(this.base.replace(/^http/, 'ws') + '/v1/events', this.credentials)
  }
}
