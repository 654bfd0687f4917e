// The daemon's API as the page uses it: GETs with the bearer token, and the
// event stream. A browser's WebSocket cannot set Authorization, so the token
// rides as a subprotocol beside soclink.events (daemon/src/api/ws-bearer.ts).
// The token lives in this tab's sessionStorage only.

const TOKEN_KEY = 'soclink.token'
const EVENTS_PROTOCOL = 'soclink.events'
const BEARER_PROTOCOL_PREFIX = 'base64url.bearer.soclink.'

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? '',
  set: (value) => { sessionStorage.setItem(TOKEN_KEY, value) },
  forget: () => { sessionStorage.removeItem(TOKEN_KEY) }
}

/** A refusal of the API (401, 403, 404...) with its error code. */
export class ApiError extends Error {
  constructor (status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

/** GET `path`: the JSON body, or an ApiError. */
export async function getJson (path) {
  const t = token.get()
  const res = await fetch(path, { headers: t === '' ? {} : { authorization: `Bearer ${t}` }, cache: 'no-store' })
  const body = await res.json().catch(() => null)
  if (!res.ok) throw new ApiError(res.status, body?.error?.code ?? 'ERR_HTTP', body?.error?.message ?? `HTTP ${res.status}`)
  return body
}

function base64url (text) {
  let binary = ''
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/**
 * Follows GET /v1/events: `onEvent` for each event, `onState` with
 * 'live' | 'closed'; reconnects after a close, waiting longer each time
 * (up to 5 s). Returns a function that stops it.
 */
export function followEvents (onEvent, onState) {
  let ws = null
  let wait = 500
  let stopped = false
  let timer
  const open = () => {
    const t = token.get()
    const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/v1/events`
    ws = new WebSocket(url, t === '' ? [EVENTS_PROTOCOL] : [EVENTS_PROTOCOL, BEARER_PROTOCOL_PREFIX + base64url(t)])
    ws.onopen = () => { wait = 500; onState('live') }
    ws.onmessage = (m) => {
      try {
        onEvent(JSON.parse(m.data))
      } catch (err) {
        console.warn('soclink: an event that is not JSON', err)
      }
    }
    ws.onclose = () => {
      onState('closed')
      if (stopped) return
      timer = setTimeout(open, wait)
      wait = Math.min(wait * 2, 5000)
    }
  }
  open()
  return {
    stop: () => { stopped = true; clearTimeout(timer); ws?.close() },
    /** Opens again now (a new token). */
    restart: () => { clearTimeout(timer); wait = 500; if (ws !== null && ws.readyState <= WebSocket.OPEN) ws.close(); else open() }
  }
}
