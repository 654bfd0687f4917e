// soclinkd --health-check's pure half (bin/health-check.ts): where the probe
// goes for a daemon's settings, and which token it sends.

import t from 'tap'
import { healthProbe, healthUrl, leastPrivileged } from '../../daemon/src/bin/health-check.js'

const api = (host: string, port = 7401): { host: string, port: number } => ({ host, port })

t.test('the API where it listens; an unspecified address on loopback; https with TLS', async (t) => {
  t.equal(healthUrl({ api: api('127.0.0.1'), tlsCert: '' }), 'http://127.0.0.1:7401/healthz')
  t.equal(healthUrl({ api: api('0.0.0.0'), tlsCert: '' }), 'http://127.0.0.1:7401/healthz')
  t.equal(healthUrl({ api: api('::', 9), tlsCert: '' }), 'http://127.0.0.1:9/healthz')
  t.equal(healthUrl({ api: api('[::]', 9), tlsCert: '' }), 'http://127.0.0.1:9/healthz')
  t.equal(healthUrl({ api: api('::1'), tlsCert: '' }), 'http://[::1]:7401/healthz')
  t.equal(healthUrl({ api: api('10.0.0.2'), tlsCert: 'c.pem' }), 'https://10.0.0.2:7401/healthz')
})

t.test('the token that grants least', async (t) => {
  const a = { scope: 'admin' as const, token: 'a' }
  const r = { scope: 'read' as const, token: 'r' }
  const p = { scope: 'rpmsg' as const, token: 'p' }
  t.same(leastPrivileged([a, p, r]), r)
  t.same(leastPrivileged([a, p]), p)
  t.same(leastPrivileged([a]), a)
  t.equal(leastPrivileged([]), undefined)
})

t.test('the probe reads the CA with TLS and the token file', async (t) => {
  const files: Record<string, string> = { 'ca.pem': 'PEM', tokens: `admin ${'a'.repeat(20)}\nread ${'r'.repeat(20)}\n` }
  const read = (p: string): string => { const f = files[p]; if (f === undefined) throw new Error(`ENOENT ${p}`); return f }
  t.same(healthProbe({ api: api('0.0.0.0'), tlsCert: 'c.pem', tlsCa: 'ca.pem', apiTokenFile: 'tokens' }, read),
    { url: 'https://127.0.0.1:7401/healthz', ca: 'PEM', token: 'r'.repeat(20) })
  t.same(healthProbe({ api: api('127.0.0.1'), tlsCert: '', tlsCa: '', apiTokenFile: '' }, read), { url: 'http://127.0.0.1:7401/healthz' })
  t.throws(() => healthProbe({ api: api('127.0.0.1'), tlsCert: '', tlsCa: '', apiTokenFile: 'tokens' }, () => 'admin short\n'), { code: 'ERR_CONFIG' })
})
