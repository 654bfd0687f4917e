// Which secret a handshake proof uses, and what a proof that does not match
// says about the two sides. Pure: the secrets come from the caller (the
// shared one from the secret setting, a peer's own from peer-secrets.ts).
//
// A refusal says which case it is: the proof is checked against the secret
// expected and, when that fails, against the empty secret (the peer has
// none) and the shared one (a name with its own secret that proved the
// shared secret); what is left is a wrong secret.

import type { Credential } from './credential.js'

/** The secrets one side holds. */
export interface SecretBook {
  /** This daemon's node name. */
  name: string
  /** The shared secret ('' = none). */
  secret: string
  /** The secret configured for one peer's name, if any. */
  peerSecret?: (name: string) => string | undefined
}

/** The secret a handshake with `peer` proves, and the credential it makes. */
export interface SecretChoice {
  secret: string
  credential: Credential
}

export function secretFor (book: SecretBook, peer: string): SecretChoice {
  const own = book.peerSecret?.(peer)
  if (own !== undefined) return { secret: own, credential: { kind: 'peer-secret', names: [peer] } }
  return { secret: book.secret, credential: { kind: book.secret === '' ? 'none' : 'shared-secret' } }
}

/** A name for messages: quoted when odd, cut when long (the peer chose it before authenticating). */
function shown (name: string): string {
  const cut = name.length > 48 ? name.slice(0, 48) + '...' : name
  return /^[A-Za-z0-9._@-]+$/.test(cut) ? cut : JSON.stringify(cut)
}

/**
 * Why a proof from `peer` did not match `choice`: `proves(secret)` tells
 * whether the peer's proof is the one `secret` makes.
 */
export function authFailure (book: SecretBook, peer: string, choice: SecretChoice, proves: (secret: string) => boolean): string {
  const me = shown(book.name)
  const them = shown(peer)
  const why = ((): string => {
    switch (choice.credential.kind) {
      case 'peer-secret':
        if (book.secret !== '' && proves(book.secret)) return `${them} has its own secret at ${me}; the shared secret is not accepted for it`
        if (proves('')) return `${me} holds a secret for ${them}; ${them} proved none`
        return `wrong secret: ${them} did not prove its own secret at ${me}`
      case 'shared-secret':
        if (proves('')) return `${me} has a secret; ${them} proved none`
        return `wrong secret: ${them} did not prove ${me}'s secret`
      default:
        return `${me} has no secret; ${them} proved one`
    }
  })()
  return `authentication failed: ${why}`
}
