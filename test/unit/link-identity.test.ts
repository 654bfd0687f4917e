// Identity bound to the credential (issue 12): the handshake machines with
// per-peer secrets, every refusal message, and the takeover rule. Pure: the
// two machines are fed to each other.

import t from 'tap'
import { AcceptorHandshake, DialerHandshake, newIncarnation, newNonce, proof, type Identity } from '../../daemon/src/link/handshake.js'
import { wire } from '../../daemon/src/link/codec.js'
import { sameIdentity, takeoverRefusal, type Credential } from '../../daemon/src/link/credential.js'

const Code = wire.Goodbye.Code

function side (name: string, secret: string, own: Record<string, string> = {}): Identity {
  return { name, role: wire.Role.ROLE_EP, secret, peerSecret: (n) => own[n], incarnation: newIncarnation(), features: 0 }
}

/** A dialer `d` against an acceptor `a`: the acceptor's verdict on the Hello, then the dialer's on the Welcome. */
function handshake (d: Identity, a: Identity, expect?: string): { accepted: ReturnType<AcceptorHandshake['check']>, dialed: ReturnType<DialerHandshake['step']> | null } {
  const acceptor = new AcceptorHandshake(a)
  const dialer = new DialerHandshake(d, null, expect)
  const hello = dialer.step(acceptor.challenge())
  if (hello.kind !== 'send') throw new Error('expected a Hello')
  const accepted = acceptor.check(hello.frame)
  if (accepted.kind !== 'hello') return { accepted, dialed: null }
  return { accepted, dialed: dialer.step(acceptor.welcome(null)) }
}

t.test('a per-peer secret links both ways and makes a peer-secret credential bound to the name', async (t) => {
  const r = handshake(side('ep', 'shared', { rc: 'ep-rc' }), side('rc', 'shared', { ep: 'ep-rc' }), 'rc')
  t.match(r.accepted, { kind: 'hello', name: 'ep', credential: { kind: 'peer-secret', names: ['ep'] } })
  t.match(r.dialed, { kind: 'welcomed', name: 'rc', credential: { kind: 'peer-secret', names: ['rc'] } })
})

t.test('the shared secret still serves names without a secret of their own', async (t) => {
  const r = handshake(side('ep2', 'shared'), side('rc', 'shared', { ep: 'ep-rc' }))
  t.match(r.accepted, { kind: 'hello', name: 'ep2', credential: { kind: 'shared-secret' } })
  t.match(r.dialed, { kind: 'welcomed', credential: { kind: 'shared-secret' } })
  const none = handshake(side('ep2', ''), side('rc', ''))
  t.match(none.accepted, { kind: 'hello', credential: { kind: 'none' } })
})

t.test('whoever holds B\'s secret cannot link as A', async (t) => {
  const rc = side('rc', '', { a: 'secret-a', b: 'secret-b' })
  const r = handshake(side('a', '', { rc: 'secret-b' }), rc, 'rc')
  t.match(r.accepted, { kind: 'refuse', code: Code.CODE_AUTH, why: 'authentication failed: wrong secret: a did not prove its own secret at rc' })
  t.match(handshake(side('b', '', { rc: 'secret-b' }), rc, 'rc').accepted, { kind: 'hello', name: 'b' }, 'as B it links')
})

t.test('a name with its own secret is never accepted with the shared secret', async (t) => {
  const r = handshake(side('a', 'shared'), side('rc', 'shared', { a: 'secret-a' }))
  t.match(r.accepted, { kind: 'refuse', code: Code.CODE_AUTH, why: 'authentication failed: a has its own secret at rc; the shared secret is not accepted for it' })
  // The dialer holds rc's own secret but dialed a bare URL: the acceptor, with none for it, answers with the shared secret.
  const d = handshake(side('a', 'shared', { rc: 'secret-a' }), side('rc', 'shared'))
  t.match(d.dialed, { kind: 'refuse', code: Code.CODE_AUTH, why: 'authentication failed: rc has its own secret at a; the shared secret is not accepted for it' })
})

t.test('every refusal says which case it is', async (t) => {
  t.match(handshake(side('ep', 'sesame'), side('rc', '')).accepted,
    { kind: 'refuse', code: Code.CODE_AUTH, why: 'authentication failed: rc has no secret; ep proved one' }, 'no secret here, one there')
  t.match(handshake(side('ep', ''), side('rc', 'sesame')).accepted,
    { kind: 'refuse', code: Code.CODE_AUTH, why: 'authentication failed: rc has a secret; ep proved none' }, 'a secret here, none there')
  t.match(handshake(side('ep', 'guess'), side('rc', 'sesame')).accepted,
    { kind: 'refuse', code: Code.CODE_AUTH, why: 'authentication failed: wrong secret: ep did not prove rc\'s secret' }, 'wrong shared secret')
  t.match(handshake(side('ep', ''), side('rc', '', { ep: 'own' })).accepted,
    { kind: 'refuse', code: Code.CODE_AUTH, why: 'authentication failed: rc holds a secret for ep; ep proved none' }, 'a per-peer secret here, none there')
  t.match(handshake(side('ep', '', { rc: 'other' }), side('rc', '', { ep: 'own' }), 'rc').accepted,
    { kind: 'refuse', code: Code.CODE_AUTH, why: 'authentication failed: wrong secret: ep did not prove its own secret at rc' }, 'wrong per-peer secret')
  t.match(handshake(side('ep', 'x'.repeat(10), {}), side('rc', '')).accepted, { why: /rc has no secret/ })
  const odd = handshake(side('e p\n' + 'z'.repeat(100), 'guess'), side('rc', 'sesame')).accepted
  t.match(odd, { kind: 'refuse', why: /"e p\\nz+\.\.\."/ }, 'a claimed name is quoted and cut in the message')
})

t.test('the dialer checks the Welcome the same way, and the name it dialed', async (t) => {
  /** The dialer's verdict on a Welcome from rc proved with `secret`. */
  const welcomeWith = (dialerSecret: string, secret: string): ReturnType<DialerHandshake['step']> => {
    const dialer = new DialerHandshake(side('ep', dialerSecret), null)
    const challengeNonce = newNonce()
    const hello = dialer.step({ challenge: { version: 1, nonce: challengeNonce } })
    if (hello.kind !== 'send') throw new Error('expected a Hello')
    const inc = newIncarnation()
    return dialer.step({ welcome: { version: 1, role: wire.Role.ROLE_RC, name: 'rc', incarnation: inc, proof: proof(secret, 'welcome', hello.frame.hello!.nonce!, challengeNonce, 'rc', inc) } })
  }
  t.match(welcomeWith('sesame', ''), { kind: 'refuse', code: Code.CODE_AUTH, why: 'authentication failed: ep has a secret; rc proved none' })
  t.match(welcomeWith('', 'sesame'), { kind: 'refuse', code: Code.CODE_AUTH, why: 'authentication failed: ep has no secret; rc proved one' })
  t.match(welcomeWith('sesame', 'guess'), { kind: 'refuse', code: Code.CODE_AUTH, why: 'authentication failed: wrong secret: rc did not prove ep\'s secret' })
  t.match(welcomeWith('sesame', 'sesame'), { kind: 'welcomed', name: 'rc' })
  const r = handshake(side('ep', 'same'), side('rc2', 'same'), 'rc')
  t.match(r.dialed, { kind: 'refuse', code: Code.CODE_AUTH, why: 'authentication failed: dialed rc, the peer says it is rc2' })
})

t.test('takeover: only the same identity replaces a live link', async (t) => {
  const own = (name: string): Credential => ({ kind: 'peer-secret', names: [name] })
  const cert = (...names: string[]): Credential => ({ kind: 'certificate', names })
  t.ok(sameIdentity(own('a'), own('a'), 'a'), 'the same per-peer secret: a restart of the same node takes over')
  t.ok(sameIdentity(cert('a', 'a.example'), cert('a'), 'a'), 'a certificate for the name, again')
  t.ok(sameIdentity({ kind: 'shared-secret' }, { kind: 'shared-secret' }, 'a'), 'the shared secret, again')
  t.ok(sameIdentity({ kind: 'none' }, { kind: 'none' }, 'a'), 'no secret, again')
  t.notOk(sameIdentity(own('a'), { kind: 'shared-secret' }, 'a'))
  t.notOk(sameIdentity(own('a'), own('b'), 'a'), 'another name\'s secret')
  t.notOk(sameIdentity(cert('a'), cert('b'), 'a'), 'a certificate for another name')
  t.notOk(sameIdentity(cert('a'), own('a'), 'a'), 'another kind of credential')
  t.notOk(sameIdentity({ kind: 'shared-secret' }, { kind: 'none' }, 'a'))
  t.equal(takeoverRefusal('a', own('a'), own('a')), null)
  t.equal(takeoverRefusal('a', cert('a'), { kind: 'shared-secret' }), 'a is linked with a certificate; this connection proved the shared secret')
  t.equal(takeoverRefusal('a', own('a'), { kind: 'none' }), 'a is linked with its own secret; this connection proved no secret')
})
