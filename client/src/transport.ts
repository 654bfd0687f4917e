// How the clients reach a daemon: HTTP requests (fetch) and WebSockets (ws),
// each with the credentials of credentials.ts. Node's fetch takes no CA of
// its own, so with TLS trust given, requests go through undici's fetch and
// an Agent holding it (loaded only then); ws takes the CA, certificate and
// headers as options.

import WebSocket from 'ws'
import { ApiError } from './errors.js'
import { linkPortRefusal } from './link-port.js'
import { authHeaders, refusal, type Credentials } from './credentials.js'

export type Fetch = (url: string, init: RequestInit) => Promise<Response>

/** A fetch that sends the token and trusts what `c` says. */
export function fetcherFor (c: Credentials): Fetch {
  const headers = authHeaders(c)
  const withToken = (init: RequestInit): RequestInit => ({ ...init, headers: { ...init.headers as Record<string, string> | undefined, ...headers } })
  if (c.tls === null) return async (url, init) => await fetch(url, withToken(init))
  const tls = c.tls
  let undici: Promise<{ fetch: Fetch, dispatcher: unknown }> | undefined
  return async (url, init) => {
    undici ??= import('undici').then((u) => ({ fetch: u.fetch as unknown as Fetch, dispatcher: new u.Agent({ connect: { ...tls } }) }))
    const { fetch: undiciFetch, dispatcher } = await undici
    return await undiciFetch(url, { ...withToken(init), dispatcher } as RequestInit)
  }
}

/** ws options for `c`: the token header and the TLS trust. */
export function socketOptions (c: Credentials): WebSocket.ClientOptions {
  return { perMessageDeflate: false, headers: authHeaders(c), ...c.tls }
}

const MAX_REFUSAL_BYTES = 64 * 1024

/**
 * Resolves when `ws` is open. A refused upgrade (401, 403, ...) rejects with
 * the daemon's error code and message; a failure to connect with
 * ERR_CONNECT. `what` names the socket in messages.
 */
export async function whenOpen (ws: WebSocket, what: string, c: Credentials): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => { resolve() })
    // Stays attached: ws follows an error with 'close', and may raise one more while it gives up.
    ws.on('error', (err) => { reject(new ApiError('ERR_CONNECT', `cannot open ${what}: ${err.message}`, 0, { cause: err })) })
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (d: Buffer) => { if ((size += d.length) <= MAX_REFUSAL_BYTES) chunks.push(d) })
      res.on('error', () => { /* the refusal below names the status anyway */ })
      res.on('close', () => {
        const status = res.statusCode ?? 0
        const linkPort = linkPortRefusal(ws.url, status, Buffer.concat(chunks).toString('utf8'))
        if (linkPort !== null) { reject(linkPort); ws.terminate(); return }
        let code = 'ERR_HTTP'
        let message = `${what}: the daemon answered HTTP ${status} to the upgrade`
        try {
          const e = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { code?: unknown, message?: unknown } }).error
          if (typeof e?.code === 'string') code = e.code
          if (typeof e?.message === 'string') message = `${what}: ${e.message}`
        } catch {
          // Not our error shape (a proxy's page, say): the status says it.
        }
        reject(refusal(status, code, message, c))
        ws.terminate()
      })
    })
  })
}

/**
 * whenOpen(), and what the daemon says before it is open and the caller
 * listens: its first messages may come with the upgrade's own bytes, and
 * ws emits them before an await on the open socket resumes.
 */
export async function whenOpenHolding (ws: WebSocket, what: string, c: Credentials): Promise<WebSocket.RawData[]> {
  const early: WebSocket.RawData[] = []
  const hold = (data: WebSocket.RawData): void => { early.push(data) }
  ws.on('message', hold)
  try {
    await whenOpen(ws, what, c)
  } finally {
    ws.off('message', hold)
  }
  return early
}
