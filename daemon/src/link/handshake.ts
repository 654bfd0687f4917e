// Challenge-response authentication for the link handshake (see the header
// of proto/link.proto). Both sides prove knowledge of the shared secret with
// HMAC-SHA256 over both nonces and their own identity; the secret itself
// never crosses the wire, and a proof is useless for any other connection.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

export const NONCE_BYTES = 32
export const INCARNATION_BYTES = 16

export function newNonce (): Buffer {
  return randomBytes(NONCE_BYTES)
}

export function newIncarnation (): Buffer {
  return randomBytes(INCARNATION_BYTES)
}

type Direction = 'hello' | 'welcome'

/**
 * The proof a side sends. For Hello: (challenge nonce, hello nonce); for
 * Welcome: (hello nonce, challenge nonce): each side's proof starts with the
 * nonce the other side chose.
 */
export function proof (secret: string, direction: Direction, theirNonce: Uint8Array, ourNonce: Uint8Array,
  name: string, incarnation: Uint8Array): Buffer {
  return createHmac('sha256', secret)
    .update(`soclink/1 ${direction}`)
    .update(theirNonce)
    .update(ourNonce)
    .update(name, 'utf8')
    .update(incarnation)
    .digest()
}

export function proofMatches (expected: Buffer, got: Uint8Array | null | undefined): boolean {
  return got != null && got.length === expected.length && timingSafeEqual(expected, got)
}

export function sameBytes (a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): boolean {
  return a != null && b != null && a.length === b.length && Buffer.compare(a, b) === 0
}

export function hex (b: Uint8Array | null | undefined): string {
  return b == null ? '' : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}
