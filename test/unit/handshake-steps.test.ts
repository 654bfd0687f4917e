// The two halves of the handshake as state machines, fed frames by hand and
// fed to each other.

import t from 'tap'
import { AcceptorHandshake, DialerHandshake, newIncarnation, newNonce, proof } from '../../daemon/src/link/handshake.js'
import { wire, type Frame } from '../../daemon/src/link/codec.js'

const me = { name: 'ep', role: wire.Role.ROLE_EP, secret: 'sesame', incarnation: newIncarnation(), features: wire.Feature.FEATURE_COMPACT }
const peerInc = newIncarnation()

function welcome (hs: DialerHandshake, secret: string, challengeNonce: Uint8Array): ReturnType<DialerHandshake['step']> {
  const hello = hs.step({ challenge: { version: 1, nonce: challengeNonce } })
  if (hello.kind !== 'send') throw new Error('expected Hello')
  const helloNonce = hello.frame.hello!.nonce!
  return hs.step({ welcome: { version: 1, role: wire.Role.ROLE_RC, name: 'rc', incarnation: peerInc, proof: proof(secret, 'welcome', helloNonce, challengeNonce, 'rc', peerInc), resume: { peerIncarnation: me.incarnation, nextSeq: 42 } } })
}

t.test('Challenge then Welcome with the right proof: welcomed, with the resume point', async (t) => {
  const hs = new DialerHandshake(me, null)
  const c = newNonce()
  const step = welcome(hs, 'sesame', c)
  t.match(step, { kind: 'welcomed', name: 'rc', role: wire.Role.ROLE_RC, resumeAt: 42 })
})

t.test('the Hello proves the secret over both nonces', async (t) => {
  const hs = new DialerHandshake(me, { peerIncarnation: peerInc, nextSeq: 7 })
  const c = newNonce()
  const step = hs.step({ challenge: { version: 1, nonce: c } })
  t.equal(step.kind, 'send')
  const h = (step as { frame: { hello: { nonce: Uint8Array, proof: Uint8Array, resume: { nextSeq: number } } } }).frame.hello
  t.same(Buffer.from(h.proof), proof('sesame', 'hello', c, h.nonce, 'ep', me.incarnation))
  t.equal(h.resume.nextSeq, 7)
})

t.test('refusals', async (t) => {
  t.match(welcome(new DialerHandshake(me, null), 'other-secret', newNonce()), { kind: 'refuse', code: wire.Goodbye.Code.CODE_AUTH, why: /authentication failed/ })
  t.match(new DialerHandshake(me, null).step({ challenge: { version: 2, nonce: newNonce() } } as unknown as Frame), { kind: 'refuse', code: wire.Goodbye.Code.CODE_VERSION })
  t.match(new DialerHandshake(me, null).step({ ping: { nonce: 1 } }), { kind: 'refuse', code: wire.Goodbye.Code.CODE_PROTOCOL })
  t.match(new DialerHandshake(me, null).step({ goodbye: { code: wire.Goodbye.Code.CODE_AUTH, reason: 'no' } }), { kind: 'refused', why: 'refused by peer: no' })
})

t.test('dialer and acceptor machines complete a handshake with each other', async (t) => {
  const rc = { name: 'rc', role: wire.Role.ROLE_RC, secret: 'sesame', incarnation: peerInc, features: wire.Feature.FEATURE_COMPACT }
  const acceptor = new AcceptorHandshake(rc)
  const dialer = new DialerHandshake(me, null)
  const hello = dialer.step(acceptor.challenge())
  if (hello.kind !== 'send') throw new Error('expected Hello')
  const checked = acceptor.check(hello.frame)
  t.match(checked, { kind: 'hello', name: 'ep', role: wire.Role.ROLE_EP })
  t.same(Buffer.from((checked as { incarnation: Uint8Array }).incarnation), Buffer.from(me.incarnation))
  t.match(dialer.step(acceptor.welcome({ peerIncarnation: me.incarnation, nextSeq: 3 })), { kind: 'welcomed', name: 'rc', resumeAt: 3 })
})

t.test('the acceptor refuses a wrong secret, a wrong version and bad names', async (t) => {
  const hello = (secret: string, name = 'ep'): { acceptor: AcceptorHandshake, frame: Frame } => {
    const acceptor = new AcceptorHandshake({ name: 'rc', role: wire.Role.ROLE_RC, secret: 'sesame', incarnation: peerInc, features: wire.Feature.FEATURE_COMPACT })
    const step = new DialerHandshake({ ...me, secret, name }, null).step(acceptor.challenge())
    if (step.kind !== 'send') throw new Error('expected Hello')
    return { acceptor, frame: step.frame }
  }
  const wrong = hello('guess')
  t.match(wrong.acceptor.check(wrong.frame), { kind: 'refuse', code: wire.Goodbye.Code.CODE_AUTH, why: /authentication failed/ })
  t.throws(() => wrong.acceptor.welcome(null), 'no Welcome for a refused Hello')
  const v = hello('sesame')
  v.frame.hello!.version = 7 as unknown as typeof wire.Version.VERSION_1
  t.match(v.acceptor.check(v.frame), { kind: 'refuse', code: wire.Goodbye.Code.CODE_VERSION })
  const own = hello('sesame', 'rc')
  t.match(own.acceptor.check(own.frame), { kind: 'refuse', why: /our own node name/ })
  const none = hello('sesame', '')
  t.match(none.acceptor.check(none.frame), { kind: 'refuse', why: /without a node name/ })
  t.match(none.acceptor.check({ ping: { nonce: 1 } }), { kind: 'refuse', why: 'expected Hello' })
})
