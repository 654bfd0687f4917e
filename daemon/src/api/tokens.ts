// Bearer tokens of the control API (--api-token-file): a file of lines
// "SCOPE TOKEN", read at start and again on SIGHUP. A token is compared in
// constant time: both sides are hashed to SHA-256 digests of one length and
// compared with timingSafeEqual against every token held, so neither the
// time of a refusal nor which line matched depends on the token's bytes.

import { createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { ConfigError } from '../errors.js'

/**
 * What a token may do. read: every GET (the event stream included). rpmsg:
 * read, plus the rpmsg gateway (/v1/rpmsg), so an application container can
 * send and receive messages without being able to write memory, ring
 * doorbells or reconfigure links as an admin token can. admin: everything.
 */
export const SCOPES = ['read', 'rpmsg', 'admin'] as const
export type Scope = typeof SCOPES[number]

/** What each scope grants, as the scopes a route may need. */
const GRANTS: Readonly<Record<Scope, readonly Scope[]>> = {
  read: ['read'],
  rpmsg: ['read', 'rpmsg'],
  admin: ['read', 'rpmsg', 'admin']
}

export const allows = (held: Scope, needed: Scope): boolean => GRANTS[held].includes(needed)

/** Shortest token accepted: 16 characters; `openssl rand -hex 32` makes 64. */
export const MIN_TOKEN_LENGTH = 16

/** RFC 6750 §2.1 b64token: what an Authorization: Bearer header can carry. */
export const TOKEN_SYNTAX = /^[A-Za-z0-9\-._~+/]+=*$/

export interface TokenEntry { scope: Scope, digest: Buffer }

/** One line of a token file, the token in the clear (soclinkd --health-check sends one). */
export interface TokenLine { scope: Scope, token: string }

const digestOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest()

/** The tokens of a token file, held as digests. */
export function parseTokenFile (text: string, path: string): TokenEntry[] {
  return parseTokenLines(text, path).map(({ scope, token }) => ({ scope, digest: digestOf(token) }))
}

/**
 * The lines of a token file. Blank lines and lines starting with # are
 * skipped; every other line is a scope and a token separated by blanks. A
 * malformed line, an unknown scope, a short token, a token twice or a file
 * with none is a ConfigError naming the file and line (never the token).
 */
export function parseTokenLines (text: string, path: string): TokenLine[] {
  const entries: TokenLine[] = []
  const seen = new Set<string>()
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const where = `${path} line ${i + 1}`
    const fields = line.split(/[ \t]+/)
    if (fields.length !== 2) throw new ConfigError(`${where}: expected "SCOPE TOKEN" (scope ${SCOPES.join(', ')}), got ${fields.length} field(s)`)
    const [scope, token] = fields as [string, string]
    if (!(SCOPES as readonly string[]).includes(scope)) throw new ConfigError(`${where}: unknown scope ${JSON.stringify(scope.slice(0, 32))}; scopes are ${SCOPES.join(', ')}`)
    if (token.length < MIN_TOKEN_LENGTH) throw new ConfigError(`${where}: the token is ${token.length} characters; at least ${MIN_TOKEN_LENGTH} (e.g. openssl rand -hex 32)`)
    if (!TOKEN_SYNTAX.test(token)) throw new ConfigError(`${where}: a token is letters, digits and - . _ ~ + / (then = padding), as an Authorization: Bearer header carries it`)
    if (seen.has(token)) throw new ConfigError(`${where}: the same token is on an earlier line`)
    seen.add(token)
    entries.push({ scope: scope as Scope, token })
  })
  if (entries.length === 0) throw new ConfigError(`${path} holds no token: every request would be refused`)
  return entries
}

/** The tokens this daemon accepts, from its token file. */
export class ApiTokens {
  private entries: TokenEntry[]

  private constructor (readonly path: string, private readonly readFile: (path: string) => string, entries: TokenEntry[]) {
    this.entries = entries
  }

  /** Reads `path` (a ConfigError if it cannot be read or parsed). */
  static load (path: string, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): ApiTokens {
    return new ApiTokens(path, readFile, ApiTokens.read(path, readFile))
  }

  private static read (path: string, readFile: (path: string) => string): TokenEntry[] {
    let text: string
    try {
      text = readFile(path)
    } catch (err) {
      throw new ConfigError(`cannot read API token file ${path}: ${(err as Error).message}`)
    }
    return parseTokenFile(text, path)
  }

  /** How many tokens are held. */
  get size (): number { return this.entries.length }

  /**
   * Reads the file again (SIGHUP). On a ConfigError the tokens held are kept
   * and the error is thrown for the caller to log. Returns the new count.
   */
  reload (): number {
    this.entries = ApiTokens.read(this.path, this.readFile)
    return this.entries.length
  }

  /** The scope of `token`, or null if this daemon holds no such token. */
  scopeOf (token: string): Scope | null {
    const digest = digestOf(token)
    let found: Scope | null = null
    // Every entry is compared, matched or not.
    for (const e of this.entries) {
      if (timingSafeEqual(e.digest, digest)) found = e.scope
    }
    return found
  }
}
