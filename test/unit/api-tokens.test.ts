// The control API's token file (--api-token-file) and scopes: the syntax, its
// refusals (each a ConfigError naming the line, never the token), the scope
// each route needs, constant-time lookup and rereading on SIGHUP.

import t from 'tap'
import { ApiTokens, allows, parseTokenFile, SCOPES } from '../../daemon/src/api/tokens.js'
import { requiredScope } from '../../daemon/src/api/auth.js'

const A = 'a'.repeat(16)
const B = '3f9c2b7e0d1a4c6f8e5b3a2d1c0f9e8d'
const CONFIG_ERROR = { name: 'ConfigError', code: 'ERR_CONFIG' }

t.test('one "SCOPE TOKEN" a line; blank lines and # comments are skipped', async (t) => {
  const entries = parseTokenFile(`# operators\nadmin ${A}\n\n   # apps\r\nrpmsg\t${B}\nread  ${B.toUpperCase()}==\n`, 'f')
  t.same(entries.map((e) => e.scope), ['admin', 'rpmsg', 'read'])
  t.ok(entries.every((e) => e.digest.length === 32), 'held as SHA-256 digests')
})

t.test('refusals name the file and line, and never the token', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['malformed line', `admin ${A}\nadmin`, /f line 2: expected "SCOPE TOKEN"/],
    ['three fields', `admin ${A} extra`, /f line 1: expected "SCOPE TOKEN"/],
    ['unknown scope', `root ${A}`, /f line 1: unknown scope "root"; scopes are read, rpmsg, admin/],
    ['short token', 'read 0123456789abcde', /f line 1: the token is 15 characters; at least 16/],
    ['a character no Bearer header carries', `read ${A}"x`, /f line 1: a token is letters, digits/],
    ['the same token twice', `read ${A}\nadmin ${A}`, /f line 2: the same token is on an earlier line/],
    ['no token at all', '# nothing\n\n', /f holds no token/]
  ]
  for (const [what, text, message] of cases) {
    t.throws(() => parseTokenFile(text, 'f'), { ...CONFIG_ERROR, message }, what)
    try { parseTokenFile(text, 'f') } catch (err) { t.notMatch((err as Error).message, A, `${what}: the token is not in the message`) }
  }
})

t.test('scopes: read reads, rpmsg reads and uses the gateway, admin does everything', async (t) => {
  t.same(SCOPES, ['read', 'rpmsg', 'admin'])
  const table = SCOPES.map((held) => SCOPES.map((needed) => allows(held, needed)))
  t.same(table, [[true, false, false], [true, true, false], [true, true, true]])
  t.equal(requiredScope('GET', '/v1/regions'), 'read')
  t.equal(requiredScope('HEAD', '/v1/regions/:id/memory'), 'read')
  t.equal(requiredScope('GET', '/v1/events'), 'read')
  t.equal(requiredScope('GET', '/v1/rpmsg'), 'rpmsg', 'the gateway sends messages')
  t.equal(requiredScope('GET', '/v1/rpmsg/endpoints'), 'read', 'listing endpoints only reads')
  t.equal(requiredScope('GET', '/v1/capture'), 'admin', 'a frame capture shows every byte on the links')
  for (const m of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) t.equal(requiredScope(m, '/v1/regions'), 'admin', m)
  t.equal(requiredScope('GET', undefined), 'read', 'no route: a GET is answered 404')
})

t.test('ApiTokens: a lookup finds the scope of a held token, null for any other', async (t) => {
  const tokens = ApiTokens.load('tokens', () => `admin ${A}\nread ${B}\n`)
  t.equal(tokens.size, 2)
  t.equal(tokens.scopeOf(A), 'admin')
  t.equal(tokens.scopeOf(B), 'read')
  t.equal(tokens.scopeOf(A.slice(1)), null, 'a prefix')
  t.equal(tokens.scopeOf(A + 'a'), null, 'a longer one')
  t.equal(tokens.scopeOf(''), null)
  t.throws(() => ApiTokens.load('missing', () => { throw new Error('ENOENT') }), { ...CONFIG_ERROR, message: /cannot read API token file missing: ENOENT/ })
})

t.test('reload: the file as it is now; a bad one leaves the tokens held', async (t) => {
  let text = `admin ${A}\n`
  const tokens = ApiTokens.load('tokens', () => text)
  text = `read ${B}\nrpmsg ${'c'.repeat(20)}\n`
  t.equal(tokens.reload(), 2)
  t.equal(tokens.scopeOf(A), null, 'a token taken out is gone')
  t.equal(tokens.scopeOf(B), 'read')
  text = 'admin short'
  t.throws(() => tokens.reload(), { ...CONFIG_ERROR, message: /line 1/ })
  t.equal(tokens.scopeOf(B), 'read', 'kept after a failed reload')
})
