// The per-peer secrets of the peers setting (peers: [{ name, secretFile }]):
// read from their files at start, and again by reload() (SIGHUP). Secrets
// come from files only, never from the config file itself, so that a config
// file can be shown and a secret stays out of it.
//
// A reload reads every file first and replaces the secrets only if all of
// them could be read: a file half written or gone keeps the secrets in use.
// Links already up stay up; the new secrets are proved by the next
// handshake (a reconnect, a resume).

import { ConfigError } from '../errors.js'

export interface PeerSecretFile {
  /** The peer's node name. */
  name: string
  secretFile: string
}

export class PeerSecrets {
  private secrets: ReadonlyMap<string, string>

  constructor (private readonly files: readonly PeerSecretFile[], private readonly readFile: (path: string) => string) {
    this.secrets = this.read()
  }

  /** The secret configured for `name`, if any. */
  get (name: string): string | undefined {
    return this.secrets.get(name)
  }

  /** Names with a secret of their own. */
  get names (): string[] {
    return [...this.secrets.keys()]
  }

  /** Reads every file again; on any failure (ConfigError) the secrets in use stay. Returns how many were read. */
  reload (): number {
    this.secrets = this.read()
    return this.secrets.size
  }

  private read (): Map<string, string> {
    const out = new Map<string, string>()
    for (const f of this.files) {
      let text: string
      try {
        text = this.readFile(f.secretFile)
      } catch (err) {
        throw new ConfigError(`cannot read the secret file of peer ${f.name}, ${f.secretFile}: ${(err as Error).message}`)
      }
      const secret = text.trim()
      if (secret === '') throw new ConfigError(`the secret file of peer ${f.name}, ${f.secretFile}, is empty`)
      out.set(f.name, secret)
    }
    return out
  }
}
