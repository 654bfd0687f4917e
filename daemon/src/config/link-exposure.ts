// Whether the link port may listen where it is told to. On loopback only
// this machine's users reach it, as before. Beyond loopback anyone on the
// network can, and a linked peer opens windows onto this daemon's regions:
// the daemon refuses to start unless every link must authenticate, with
// mutual TLS (tlsCa: a certificate from the CA) or a shared secret (peers
// without one of their own prove it), or --link-insecure says to run it so
// anyway, which is warned about at start. Per-peer secrets alone do not
// count: a name without a secret of its own is still let in unproved.
// Pure: soclinkd throws the error and logs the warnings.

import { ConfigError } from '../errors.js'
import { isLoopback } from './api-exposure.js'
import type { Settings } from './settings.js'

export type LinkExposureSettings = Pick<Settings, 'listen' | 'secret' | 'tlsCert' | 'tlsCa' | 'linkInsecure'>

/** The warnings to log at start; throws a ConfigError when the link port may not listen where it is set to. */
export function checkLinkExposure (s: LinkExposureSettings): string[] {
  if (isLoopback(s.listen.host)) return []
  const where = `${s.listen.host.includes(':') ? `[${s.listen.host}]` : s.listen.host}:${s.listen.port}`
  const mtls = s.tlsCa !== ''
  const secret = s.secret !== ''
  if (!mtls && !secret) {
    if (!s.linkInsecure) {
      throw new ConfigError(`the link port would listen on ${where}, beyond loopback, with no authentication: anyone who reaches it ` +
        'could link under any node name and read and write this daemon\'s regions. Set --tls-cert/--tls-key/--tls-ca (mutual TLS) ' +
        'or --secret-file, listen on loopback (--listen 127.0.0.1:PORT), or pass --link-insecure to run it so anyway')
    }
    return [`--link-insecure: the link port listens on ${where}, beyond loopback, with no authentication: anyone who reaches it can link under any name and read and write this daemon's regions`]
  }
  if (s.tlsCert === '') {
    return [`links on ${where} authenticate with a secret but carry memory in the clear (no TLS): anyone on the path can read and rewrite window data; set --tls-cert/--tls-key (SECURITY.md)`]
  }
  return []
}
