// What a link connection proved about who is at the other end, and the rule
// for a second connection under a name that is already linked.
//
// A node name is proved, not claimed, only by a credential bound to it: a
// certificate whose names include it (link/tls.ts) or the per-peer secret
// configured for it (peers: [{ name, secretFile }]). The shared secret and
// no secret at all prove only that the peer holds what every peer holds.
// A live link (up, or waiting to resume) is replaced only by a connection
// that proves the same identity, so whoever holds another name's secret, or
// the shared secret where a name has its own, cannot kick the real peer off;
// the real peer restarting (a new incarnation, the same credential) can.

export type CredentialKind = 'certificate' | 'peer-secret' | 'shared-secret' | 'none'

export interface Credential {
  kind: CredentialKind
  /** The names the credential is bound to (certificate, peer-secret); absent for the others. */
  names?: string[]
}

/** Whether `c` proves the node name `name` (shared secrets and none prove no name). */
export function bindsName (c: Credential, name: string): boolean {
  return (c.kind === 'certificate' || c.kind === 'peer-secret') && (c.names ?? []).includes(name)
}

/** Whether `next` proves the identity `live` proved for `name`: the same kind and principal. */
export function sameIdentity (live: Credential, next: Credential, name: string): boolean {
  if (live.kind !== next.kind) return false
  if (live.kind === 'certificate' || live.kind === 'peer-secret') return bindsName(live, name) && bindsName(next, name)
  return true
}

/** For people: what a credential is. */
export function describeCredential (c: Credential): string {
  switch (c.kind) {
    case 'certificate': return 'a certificate'
    case 'peer-secret': return 'its own secret'
    case 'shared-secret': return 'the shared secret'
    case 'none': return 'no secret'
  }
}

/**
 * The takeover rule: null if a connection that proved `next` may replace
 * the live link to `name` authenticated with `live`, else why not.
 */
export function takeoverRefusal (name: string, live: Credential, next: Credential): string | null {
  if (sameIdentity(live, next, name)) return null
  return `${name} is linked with ${describeCredential(live)}; this connection proved ${describeCredential(next)}`
}
