// soclinkd --health-check: GET /healthz of the control API that this
// daemon's own settings describe. The Docker image's HEALTHCHECK runs it in
// the container, with the daemon's SOCLINK_* environment and files, so the
// probe finds the API wherever and however it is served:
// - an unspecified listen address (0.0.0.0, ::) is asked on loopback;
// - with tlsCert the API is https, and the chain is verified against tlsCa
//   (else the system's CAs). The host name is not checked: the target is
//   this machine's own port, by an address the certificate need not name;
// - with apiTokenFile the probe sends the file's least-privileged token.
// Docker reads exit 0 as healthy and 1 as unhealthy (2 is reserved), so
// every failure, a setting that cannot be read included, is 1.

import { readFileSync } from 'node:fs'
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { parseTokenLines, SCOPES, type TokenLine } from '../api/tokens.js'
import type { Settings } from '../config/settings.js'

/** What the probe asks, and with what. */
export interface HealthProbe {
  url: string
  /** PEM of tlsCa, when set. */
  ca?: string
  /** A bearer token, when the API takes tokens. */
  token?: string
}

export type HealthSettings = Pick<Settings, 'api' | 'tlsCert' | 'tlsCa' | 'apiTokenFile'>

/** The URL of /healthz on the API `s` describes. Pure. */
export function healthUrl (s: Pick<Settings, 'api' | 'tlsCert'>): string {
  const bare = s.api.host.replace(/^\[|\]$/g, '')
  const host = bare === '' || bare === '0.0.0.0' || bare === '::' ? '127.0.0.1' : bare
  return `${s.tlsCert !== '' ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${s.api.port}/healthz`
}

/** The token that grants least: a health check needs only to read. Pure. */
export function leastPrivileged (lines: readonly TokenLine[]): TokenLine | undefined {
  return [...lines].sort((a, b) => SCOPES.indexOf(a.scope) - SCOPES.indexOf(b.scope))[0]
}

/** The probe for `s`, reading its CA and token files (ConfigError when they cannot be read or parsed). */
export function healthProbe (s: HealthSettings, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): HealthProbe {
  const probe: HealthProbe = { url: healthUrl(s) }
  if (s.tlsCert !== '' && s.tlsCa !== '') probe.ca = readFile(s.tlsCa)
  if (s.apiTokenFile !== '') probe.token = leastPrivileged(parseTokenLines(readFile(s.apiTokenFile), s.apiTokenFile))?.token
  return probe
}

/** Asks once; resolves with whether the API answered 200, and a line that says what happened. */
export async function askHealth (probe: HealthProbe, timeoutMs: number): Promise<{ ok: boolean, detail: string }> {
  const options: RequestOptions & { ca?: string, checkServerIdentity?: () => undefined } = {
    method: 'GET',
    timeout: timeoutMs,
    headers: probe.token === undefined ? {} : { authorization: `Bearer ${probe.token}` }
  }
  if (probe.url.startsWith('https:')) {
    options.ca = probe.ca
    options.checkServerIdentity = () => undefined
  }
  return await new Promise((resolve) => {
    const send = probe.url.startsWith('https:') ? httpsRequest : httpRequest
    const req: ClientRequest = send(probe.url, options, (res: IncomingMessage) => {
      res.resume()
      const ok = res.statusCode === 200
      resolve({ ok, detail: `${probe.url}: HTTP ${res.statusCode ?? '?'}${ok ? '' : ` ${res.statusMessage ?? ''}`.trimEnd()}` })
    })
    req.on('timeout', () => { req.destroy(new Error(`no answer in ${timeoutMs} ms`)) })
    req.on('error', (err) => { resolve({ ok: false, detail: `${probe.url}: ${err.message}` }) })
    req.end()
  })
}
