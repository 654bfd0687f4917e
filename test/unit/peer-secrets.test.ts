// Per-peer secrets read from files (link/peer-secrets.ts): at start, and
// again on reload (SIGHUP), which keeps the secrets in use if a file fails.

import t from 'tap'
import { PeerSecrets } from '../../daemon/src/link/peer-secrets.js'

t.test('read at start, reread by reload; a failed reload keeps the secrets in use', async (t) => {
  const files: Record<string, string> = { '/s/a': 'secret-a\n', '/s/b': '  secret-b  ' }
  const read = (p: string): string => {
    const v = files[p]
    if (v === undefined) throw new Error('ENOENT')
    return v
  }
  const s = new PeerSecrets([{ name: 'a', secretFile: '/s/a' }, { name: 'b', secretFile: '/s/b' }], read)
  t.equal(s.get('a'), 'secret-a', 'trimmed')
  t.equal(s.get('b'), 'secret-b')
  t.equal(s.get('c'), undefined, 'no entry: the shared secret applies')
  files['/s/a'] = 'rotated'
  t.equal(s.reload(), 2)
  t.equal(s.get('a'), 'rotated')
  delete files['/s/b']
  files['/s/a'] = 'half-done'
  t.throws(() => s.reload(), { code: 'ERR_CONFIG', message: /cannot read the secret file of peer b, \/s\/b/ })
  t.equal(s.get('a'), 'rotated', 'nothing changed')
  files['/s/b'] = '\n'
  t.throws(() => s.reload(), { code: 'ERR_CONFIG', message: /secret file of peer b, \/s\/b, is empty/ })
})

t.test('an unreadable file stops the start', async (t) => {
  t.throws(() => new PeerSecrets([{ name: 'a', secretFile: '/nope' }], () => { throw new Error('ENOENT') }), { code: 'ERR_CONFIG' })
})
