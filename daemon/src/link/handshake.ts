// Challenge-response authentication for the link handshake (see the header
// of proto/link.proto). Both sides prove knowledge of a secret with
// HMAC-SHA256 over both nonces and their own identity; the secret itself
// never crosses the wire, and a proof is useless for any other connection.
// The secret is the peer's own where one is configured for its name
// (peers: [{ name, secretFile }]), else the shared one; a name with its own
// secret is never accepted with the shared secret. A refusal says which
// case it is (secrets.ts).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { wire, PROTOCOL_VERSION, type Frame } from './codec.js'
import { authFailure, secretFor, type SecretBook, type SecretChoice } from './secrets.js'
import type { Credential } from './credential.js'

const Code = wire.Goodbye.Code

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

/** Who this side is, for the handshake. */
export interface Identity extends SecretBook {
  role: number
  incarnation: Uint8Array
  /** Optional protocol features this side speaks (a bit set of wire.Feature). */
  features: number
}

/** What the dialer does with one handshake frame. */
export type DialStep =
  | { kind: 'send', frame: Frame }
  | { kind: 'refuse', code: number, why: string }
  | { kind: 'refused', code: number, why: string }
  | { kind: 'welcomed', name: string, role: number, incarnation: Uint8Array, resumeAt: number | null, features: number, credential: Credential }

/**
 * The dialer's side of the handshake as a pure state machine: Challenge in,
 * Hello out; Welcome in, its proof checked. The socket edge (dialer.ts)
 * feeds it decoded frames and carries out each step. `expect` is the name
 * the peer is configured under (peers: [{ name, url }]): the Hello proves
 * that peer's own secret, and a Welcome from any other name is refused.
 */
export class DialerHandshake {
  private readonly me: Identity
  private readonly resume: { peerIncarnation: Uint8Array, nextSeq: number } | null
  private readonly expect: string | undefined
  private readonly nonce = newNonce()
  private challengeNonce: Uint8Array | null = null

  constructor (me: Identity, resume: { peerIncarnation: Uint8Array, nextSeq: number } | null, expect?: string) {
    this.me = me
    this.resume = resume
    this.expect = expect
  }

  step (f: Frame): DialStep {
    if (f.goodbye != null) return { kind: 'refused', code: f.goodbye.code ?? 0, why: `refused by peer: ${f.goodbye.reason ?? ''}` }
    if (this.challengeNonce === null) {
      if (f.challenge == null) return { kind: 'refuse', code: Code.CODE_PROTOCOL, why: 'expected Challenge' }
      if (f.challenge.version !== PROTOCOL_VERSION) {
        return { kind: 'refuse', code: Code.CODE_VERSION, why: `peer speaks protocol version ${f.challenge.version ?? 0}, we speak ${PROTOCOL_VERSION}` }
      }
      this.challengeNonce = f.challenge.nonce ?? new Uint8Array()
      const me = this.me
      const secret = this.expect !== undefined ? secretFor(me, this.expect).secret : me.secret
      return {
        kind: 'send',
        frame: {
          hello: {
            version: PROTOCOL_VERSION,
            role: me.role,
            name: me.name,
            incarnation: me.incarnation,
            nonce: this.nonce,
            proof: proof(secret, 'hello', this.challengeNonce, this.nonce, me.name, me.incarnation),
            resume: this.resume,
            features: me.features
          }
        }
      }
    }
    const w = f.welcome
    if (w == null) return { kind: 'refuse', code: Code.CODE_PROTOCOL, why: 'expected Welcome' }
    const name = w.name ?? ''
    const incarnation = w.incarnation ?? new Uint8Array()
    if (this.expect !== undefined && name !== this.expect) {
      return { kind: 'refuse', code: Code.CODE_AUTH, why: `authentication failed: dialed ${this.expect}, the peer says it is ${name}` }
    }
    const challengeNonce = this.challengeNonce
    const choice = secretFor(this.me, name)
    const made = (secret: string): Buffer => proof(secret, 'welcome', this.nonce, challengeNonce, name, incarnation)
    if (!proofMatches(made(choice.secret), w.proof)) {
      return { kind: 'refuse', code: Code.CODE_AUTH, why: authFailure(this.me, name, choice, (secret) => proofMatches(made(secret), w.proof)) }
    }
    // The acceptor answers with the features both speak; one it did not offer back is not in use.
    const features = (w.features ?? 0) & this.me.features
    return { kind: 'welcomed', name, role: w.role ?? 0, incarnation, resumeAt: w.resume != null ? w.resume.nextSeq ?? null : null, features, credential: choice.credential }
  }
}

/** What the acceptor makes of the Hello. */
export type AcceptStep =
  | { kind: 'refuse', code: number, why: string }
  | { kind: 'hello', name: string, role: number, incarnation: Uint8Array, resume: { peerIncarnation?: Uint8Array | null, nextSeq?: number | null } | null, features: number, credential: Credential }

/**
 * The acceptor's side of the handshake as a pure state machine: Challenge
 * out, the Hello checked (version, proof, name), Welcome out. What to do with
 * a valid Hello (which link, whether to resume) is the caller's.
 */
export class AcceptorHandshake {
  private readonly me: Identity
  private readonly nonce = newNonce()
  private helloNonce: Uint8Array | null = null
  /** The secret the Hello proved; the Welcome proves the same one. */
  private choice: SecretChoice | null = null
  /** The features both sides speak, once a Hello passed check(). */
  private features = 0

  constructor (me: Identity) {
    this.me = me
  }

  challenge (): Frame {
    return { challenge: { version: PROTOCOL_VERSION, nonce: this.nonce } }
  }

  check (f: Frame): AcceptStep {
    const h = f.hello
    if (h == null) return { kind: 'refuse', code: Code.CODE_PROTOCOL, why: 'expected Hello' }
    if (h.version !== PROTOCOL_VERSION) {
      return { kind: 'refuse', code: Code.CODE_VERSION, why: `protocol version ${h.version ?? 0} not supported; this daemon speaks ${PROTOCOL_VERSION}` }
    }
    const name = h.name ?? ''
    const incarnation = h.incarnation ?? new Uint8Array()
    const helloNonce = h.nonce ?? new Uint8Array()
    const choice = secretFor(this.me, name)
    const made = (secret: string): Buffer => proof(secret, 'hello', this.nonce, helloNonce, name, incarnation)
    if (!proofMatches(made(choice.secret), h.proof)) {
      return { kind: 'refuse', code: Code.CODE_AUTH, why: authFailure(this.me, name, choice, (secret) => proofMatches(made(secret), h.proof)) }
    }
    if (name === '') return { kind: 'refuse', code: Code.CODE_PROTOCOL, why: 'Hello without a node name' }
    if (name === this.me.name) return { kind: 'refuse', code: Code.CODE_PROTOCOL, why: `peer uses our own node name ${name}` }
    this.helloNonce = helloNonce
    this.choice = choice
    this.features = (h.features ?? 0) & this.me.features
    return { kind: 'hello', name, role: h.role ?? 0, incarnation, resume: h.resume ?? null, features: this.features, credential: choice.credential }
  }

  /** The Welcome for a checked Hello; `resume` is set when the session resumes. */
  welcome (resume: { peerIncarnation: Uint8Array, nextSeq: number } | null): Frame {
    if (this.helloNonce === null || this.choice === null) throw new Error('welcome() before a Hello passed check()')
    const me = this.me
    return {
      welcome: {
        version: PROTOCOL_VERSION,
        role: me.role,
        name: me.name,
        incarnation: me.incarnation,
        proof: proof(this.choice.secret, 'welcome', this.helloNonce, this.nonce, me.name, me.incarnation),
        resume,
        features: this.features
      }
    }
  }
}
