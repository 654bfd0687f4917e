// Whether the control API may listen where it is told to. On loopback only
// this machine's users reach it, as before. Beyond loopback anyone on the
// network can, and an admin request writes any region's memory: the daemon
// refuses to start unless every request must carry a token (apiTokenFile)
// and the tokens travel inside TLS (tlsCert), or --api-insecure says to run
// it so anyway, which is warned about at start. Pure: soclinkd throws the
// error and logs the warnings.

import { isIP } from 'node:net'
import { ConfigError } from '../errors.js'
import type { Settings } from './settings.js'

/** 127.0.0.0/8, ::1 (and its IPv4-mapped forms), localhost. A host name other than localhost may resolve anywhere. */
export function isLoopback (host: string): boolean {
  const h = host.toLowerCase()
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h
  return isIP(v4) === 4 && v4.startsWith('127.')
}

export type ApiExposureSettings = Pick<Settings, 'api' | 'apiTokenFile' | 'apiInsecure' | 'tlsCert'>

/** The warnings to log at start; throws a ConfigError when the API may not listen where it is set to. */
export function checkApiExposure (s: ApiExposureSettings): string[] {
  if (isLoopback(s.api.host)) return []
  const where = `${s.api.host.includes(':') ? `[${s.api.host}]` : s.api.host}:${s.api.port}`
  const tokens = s.apiTokenFile !== ''
  const tls = s.tlsCert !== ''
  if (tokens && tls) return []
  const missing = [tokens ? null : 'no API token file (--api-token-file)', tls ? null : 'no TLS (--tls-cert, --tls-key)'].filter((m) => m !== null).join(' and ')
  if (!s.apiInsecure) {
    throw new ConfigError(`the control API would listen on ${where}, beyond loopback, with ${missing}: anyone who reaches it could ` +
      'write this daemon\'s memory. Set --api-token-file and --tls-cert/--tls-key, listen on loopback (--api 127.0.0.1:PORT), ' +
      'or pass --api-insecure to run it so anyway')
  }
  const warnings = [`--api-insecure: the control API listens on ${where}, beyond loopback, with ${missing}`]
  if (tokens) warnings.push(`the control API's bearer tokens cross the network in the clear on ${where} (no TLS): anyone on the path can read and reuse them`)
  else warnings.push(`the control API on ${where} takes no token: anyone who reaches it can read and write this daemon's memory and links`)
  return warnings
}
