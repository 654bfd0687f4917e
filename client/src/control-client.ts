// A typed client for a daemon's control API (/v1/...).

import WebSocket from 'ws'
import { ApiError } from './errors.js'
import type { Doorbell, NodeEvent, NodeInfo, Peer, Region, Window, WindowRequest } from './types.js'

type Ref = string | number
const seg = (r: Ref): string => encodeURIComponent(String(r))

/** A live event stream: iterate it, close() to stop. */
export interface EventStream extends AsyncIterable<NodeEvent> {
  close (): void
}

export class ControlClient {
  readonly base: string

  constructor (base = 'http://127.0.0.1:7401') {
    this.base = base.replace(/\/+$/, '')
  }

  private async request (method: string, path: string, body?: unknown, raw?: Uint8Array): Promise<Response> {
    const init: RequestInit = raw !== undefined
      ? { method, body: raw, headers: { 'content-type': 'application/octet-stream' } }
      : body !== undefined
        ? { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
        : { method }
    let res: Response
    try {
      res = await fetch(this.base + path, init)
    } catch (err) {
      throw new ApiError('ERR_CONNECT', `cannot reach the control API at ${this.base}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`, 0, { cause: err })
    }
    if (res.ok) return res
    let code = 'ERR_HTTP'
    let message = `${method} ${path}: HTTP ${res.status}`
    try {
      const e = (await res.json() as { error?: { code?: string, message?: string } }).error
      if (e?.code !== undefined) code = e.code
      if (e?.message !== undefined) message = e.message
    } catch {}
    throw new ApiError(code, message, res.status)
  }

  private async json<T> (method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body)
    return res.status === 204 ? undefined as T : await res.json() as T
  }

  async health (): Promise<{ status: string }> { return await this.json('GET', '/healthz') }
  async node (): Promise<NodeInfo> { return await this.json('GET', '/v1/node') }

  async regions (): Promise<Region[]> { return (await this.json<{ regions: Region[] }>('GET', '/v1/regions')).regions }
  async region (ref: Ref): Promise<Region> { return await this.json('GET', `/v1/regions/${seg(ref)}`) }
  async createRegion (name: string, size: number): Promise<Region> { return await this.json('POST', '/v1/regions', { name, size }) }
  async deleteRegion (ref: Ref): Promise<void> { await this.json('DELETE', `/v1/regions/${seg(ref)}`) }

  async readRegion (ref: Ref, offset: number, length: number): Promise<Uint8Array> {
    const res = await this.request('GET', `/v1/regions/${seg(ref)}/memory?offset=${offset}&length=${length}`)
    return new Uint8Array(await res.arrayBuffer())
  }

  async writeRegion (ref: Ref, offset: number, bytes: Uint8Array): Promise<{ offset: number, length: number }> {
    return await (await this.request('PUT', `/v1/regions/${seg(ref)}/memory?offset=${offset}`, undefined, bytes)).json() as { offset: number, length: number }
  }

  async peers (): Promise<Peer[]> { return (await this.json<{ peers: Peer[] }>('GET', '/v1/peers')).peers }
  async peer (name: string): Promise<Peer> { return await this.json('GET', `/v1/peers/${seg(name)}`) }
  async addPeer (url: string): Promise<Peer> { return await this.json('POST', '/v1/peers', { url }) }

  async windows (): Promise<Window[]> { return (await this.json<{ windows: Window[] }>('GET', '/v1/windows')).windows }
  async window (id: number): Promise<Window> { return await this.json('GET', `/v1/windows/${id}`) }
  async openWindow (req: WindowRequest): Promise<Window> { return await this.json('POST', '/v1/windows', req) }
  async closeWindow (id: number): Promise<void> { await this.json('DELETE', `/v1/windows/${id}`) }

  async readWindow (id: number, offset: number, length: number, opts: { uncached?: boolean } = {}): Promise<Uint8Array> {
    const q = `offset=${offset}&length=${length}${opts.uncached === true ? '&uncached=true' : ''}`
    return new Uint8Array(await (await this.request('GET', `/v1/windows/${id}/memory?${q}`)).arrayBuffer())
  }

  async writeWindow (id: number, offset: number, bytes: Uint8Array): Promise<{ offset: number, length: number }> {
    return await (await this.request('PUT', `/v1/windows/${id}/memory?offset=${offset}`, undefined, bytes)).json() as { offset: number, length: number }
  }

  async doorbells (): Promise<Doorbell[]> { return (await this.json<{ doorbells: Doorbell[] }>('GET', '/v1/doorbells')).doorbells }
  async declareDoorbell (name: string): Promise<Doorbell> { return await this.json('POST', '/v1/doorbells', { name }) }
  async removeDoorbell (name: string): Promise<void> { await this.json('DELETE', `/v1/doorbells/${seg(name)}`) }

  async ring (peer: string, target: string, value = 1): Promise<{ peer: string, target: string, value: number }> {
    return await this.json('POST', `/v1/peers/${seg(peer)}/doorbells/${seg(target)}`, { value })
  }

  /** Opens the live event stream; resolves once it is connected. */
  async events (): Promise<EventStream> {
    const ws = new WebSocket(this.base.replace(/^http/, 'ws') + '/v1/events', { perMessageDeflate: false })
    const queue: NodeEvent[] = []
    let wake: (() => void) | null = null
    let ended = false
    ws.on('message', (data) => {
      for (const line of data.toString().split('\n')) if (line !== '') queue.push(JSON.parse(line) as NodeEvent)
      wake?.()
    })
    ws.on('close', () => { ended = true; wake?.() })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => { resolve() })
      ws.once('error', (err) => { reject(new ApiError('ERR_CONNECT', `cannot open the event stream at ${this.base}: ${err.message}`, 0)) })
    })
    return {
      close: () => { ws.close() },
      async * [Symbol.asyncIterator] () {
        for (;;) {
          while (queue.length > 0) yield queue.shift()!
          if (ended) return
          await new Promise<void>((resolve) => { wake = resolve })
          wake = null
        }
      }
    }
  }
}
