// Handshake proofs (proto/link.proto, Hello.proof and Welcome.proof):
// HMAC-SHA256(secret, "soclink/1 <direction>" | theirNonce | ourNonce |
// name (UTF-8) | incarnation). The expected values are computed here from
// one concatenated buffer with node:crypto.

import t from 'tap'
import { createHmac } from 'node:crypto'
import { proof, proofMatches, newNonce, newIncarnation, sameBytes, hex, NONCE_BYTES, INCARNATION_BYTES } from '../../daemon/src/link/handshake.js'

const challengeNonce = Buffer.alloc(32, 0x11)
const helloNonce = Buffer.alloc(32, 0x22)
const incarnation = Buffer.from('00112233445566778899aabbccddeeff', 'hex')
const name = 'ep-ü1' // non-ASCII: the name is hashed as UTF-8

function expected (secret: string, label: string, first: Buffer, second: Buffer): Buffer {
  const message = Buffer.concat([Buffer.from(label, 'latin1'), first, second, Buffer.from(name, 'utf8'), incarnation])
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(message).digest()
}

t.test('Hello proof: HMAC over "soclink/1 hello" | challenge nonce | hello nonce | name | incarnation', async (t) => {
  const got = proof('s3cret', 'hello', challengeNonce, helloNonce, name, incarnation)
  t.equal(got.length, 32)
  t.equal(got.toString('hex'), expected('s3cret', 'soclink/1 hello', challengeNonce, helloNonce).toString('hex'))
  t.ok(proofMatches(expected('s3cret', 'soclink/1 hello', challengeNonce, helloNonce), got))
})

t.test('Welcome proof uses its own label and the nonces the other way round', async (t) => {
  const got = proof('s3cret', 'welcome', helloNonce, challengeNonce, name, incarnation)
  t.equal(got.toString('hex'), expected('s3cret', 'soclink/1 welcome', helloNonce, challengeNonce).toString('hex'))
  t.not(got.toString('hex'), proof('s3cret', 'hello', helloNonce, challengeNonce, name, incarnation).toString('hex'),
    'a Hello proof is not a Welcome proof')
})

t.test('proofMatches refuses anything else', async (t) => {
  const good = proof('s3cret', 'hello', challengeNonce, helloNonce, name, incarnation)
  t.ok(proofMatches(good, Uint8Array.from(good)), 'an equal copy matches')
  t.notOk(proofMatches(good, proof('other', 'hello', challengeNonce, helloNonce, name, incarnation)), 'different secret')
  t.notOk(proofMatches(good, proof('s3cret', 'hello', Buffer.alloc(32, 0x33), helloNonce, name, incarnation)), 'different challenge nonce')
  t.notOk(proofMatches(good, proof('s3cret', 'hello', challengeNonce, Buffer.alloc(32, 0x33), name, incarnation)), 'different hello nonce')
  t.notOk(proofMatches(good, proof('s3cret', 'hello', challengeNonce, helloNonce, 'ep-u1', incarnation)), 'different name')
  t.notOk(proofMatches(good, proof('s3cret', 'hello', challengeNonce, helloNonce, name, Buffer.alloc(16))), 'different incarnation')
  t.notOk(proofMatches(good, good.subarray(0, 31)), 'one byte short')
  t.notOk(proofMatches(good, Buffer.concat([good, Buffer.of(0)])), 'one byte long')
  t.notOk(proofMatches(good, new Uint8Array(0)), 'empty')
  t.notOk(proofMatches(good, null), 'null')
  t.notOk(proofMatches(good, undefined), 'undefined')
  const flipped = Buffer.from(good)
  flipped[31] = flipped[31]! ^ 1
  t.notOk(proofMatches(good, flipped), 'one bit flipped')
})

t.test('nonces, incarnations and byte helpers', async (t) => {
  const a = newNonce()
  t.equal(a.length, NONCE_BYTES)
  t.equal(NONCE_BYTES, 32)
  t.equal(newIncarnation().length, INCARNATION_BYTES)
  t.equal(INCARNATION_BYTES, 16)
  t.not(a.toString('hex'), newNonce().toString('hex'), 'fresh each time')
  t.ok(sameBytes(Uint8Array.of(1, 2), Buffer.of(1, 2)))
  t.notOk(sameBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3)))
  t.notOk(sameBytes(Uint8Array.of(1), Uint8Array.of(1, 0)))
  t.notOk(sameBytes(null, null), 'absent bytes are never the same')
  t.equal(hex(Buffer.from([0, 0xab, 0xff, 0x10]).subarray(1, 3)), 'abff', 'hex of a view uses its own bytes only')
  t.equal(hex(undefined), '')
})
