// What a client shows a daemon: a bearer token for the control API and the
// rpmsg gateway (a daemon started with --api-token-file wants one on every
// request), and the TLS trust for https:// and wss:// URLs (a CA to check
// the daemon's certificate against; a certificate and key of its own where
// the daemon asks for one). Files are read once, when a client is made.

import { readFileSync } from 'node:fs'
import { ApiError } from './errors.js'

export interface ConnectionOptions {
  /** Bearer token sent as Authorization: Bearer TOKEN. */
  token?: string
  /**
   * A file holding the token: the token alone on a line, or a line "SCOPE
   * TOKEN" as in the daemon's token file (the first such line; blank lines
   * and # comments are skipped).
   */
  tokenFile?: string
  /** CA certificate(s), PEM, trusted for https:// and wss:// instead of Node's list. */
  ca?: string | Buffer
  caFile?: string
  /** A client certificate and its key, PEM, for a daemon that requires one (mutual TLS). */
  cert?: string | Buffer
  certFile?: string
  key?: string | Buffer
  keyFile?: string
}

export interface TlsTrust { ca?: string | Buffer, cert?: string | Buffer, key?: string | Buffer }

export interface Credentials {
  token: string | null
  /** null: Node's defaults. */
  tls: TlsTrust | null
}

function readText (path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new ApiError('ERR_CONFIG', `cannot read ${what} ${path}: ${(err as Error).message}`, 0, { cause: err })
  }
}

/** The token of a client token file (see ConnectionOptions.tokenFile). */
export function tokenOfFile (text: string, path: string): string {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const fields = line.split(/[ \t]+/)
    if (fields.length > 2) throw new ApiError('ERR_CONFIG', `token file ${path}: expected a token, or "SCOPE TOKEN", on its first line`, 0)
    return fields[fields.length - 1]!
  }
  throw new ApiError('ERR_CONFIG', `token file ${path} holds no token`, 0)
}

/** Reads what the options name; an unreadable file is ApiError ERR_CONFIG. */
export function resolveCredentials (o: ConnectionOptions = {}): Credentials {
  const token = o.token ?? (o.tokenFile !== undefined ? tokenOfFile(readText(o.tokenFile, 'token file'), o.tokenFile) : null)
  const tls: TlsTrust = {}
  const ca = o.ca ?? (o.caFile !== undefined ? readText(o.caFile, 'CA file') : undefined)
  const cert = o.cert ?? (o.certFile !== undefined ? readText(o.certFile, 'certificate file') : undefined)
  const key = o.key ?? (o.keyFile !== undefined ? readText(o.keyFile, 'key file') : undefined)
  if (ca !== undefined) tls.ca = ca
  if (cert !== undefined) tls.cert = cert
  if (key !== undefined) tls.key = key
  return { token: token === '' ? null : token, tls: Object.keys(tls).length > 0 ? tls : null }
}

export function authHeaders (c: Credentials): Record<string, string> {
  return c.token === null ? {} : { authorization: `Bearer ${c.token}` }
}

/**
 * A refusal of the daemon's (401, 403) as the client's error, with what to
 * do about it; other statuses keep the daemon's code and message.
 */
export function refusal (status: number, code: string, message: string, c: Credentials): ApiError {
  if (status === 401) {
    const hint = c.token === null
      ? 'this daemon wants a bearer token: pass --token-file FILE (or SOCLINK_TOKEN_FILE; the token option of the client library)'
      : 'the token was refused: check the file --token-file (SOCLINK_TOKEN_FILE) names against the daemon\'s --api-token-file'
    return new ApiError('ERR_UNAUTHENTICATED', `${message}; ${hint}`, status)
  }
  if (status === 403) {
    return new ApiError('ERR_FORBIDDEN', `${message}; pass a token whose scope allows it with --token-file FILE (or SOCLINK_TOKEN_FILE)`, status)
  }
  return new ApiError(code, message, status)
}
