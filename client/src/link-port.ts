// A daemon's link port (soclinkd --listen) answers an HTTP client with a
// line that says what it is and where the control API is
// (daemon/src/link/link-table.ts). A client pointed there by mistake
// (--api at the --listen port) says so, instead of "HTTP 426".

import { ApiError } from './errors.js'

const LINK_PORT = /^soclink link port\b[^\n]*?(?:on port (\d+))?\s*$/m

/** The error for a link port's answer `body` to a request to `url`; null when the answer is not a link port's. */
export function linkPortRefusal (url: string, status: number, body: string): ApiError | null {
  const m = LINK_PORT.exec(body)
  if (m === null) return null
  // A WebSocket's URL is ws(s)://: the API URL a user gives is http(s)://.
  const asked = new URL(url.replace(/^ws(s?):/, 'http$1:'))
  const api = new URL(asked.origin)
  if (m[1] !== undefined) api.port = m[1]
  const hint = m[1] !== undefined ? `: try ${api.origin}` : ' (the control API is soclinkd --api)'
  return new ApiError('ERR_LINK_PORT', `${asked.origin} is a soclink link port, where peers link, not the control API${hint}`, status)
}
