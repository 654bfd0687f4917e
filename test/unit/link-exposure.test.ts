// The start-up rule of the link port (config/link-exposure.ts): on loopback
// anything goes; beyond it every link must authenticate (mutual TLS or a
// shared secret) or --link-insecure says otherwise (with a warning); a
// secret without TLS starts with a warning that the data crosses in the clear.

import t from 'tap'
import { checkLinkExposure, type LinkExposureSettings } from '../../daemon/src/config/link-exposure.js'

const CONFIG_ERROR = { name: 'ConfigError', code: 'ERR_CONFIG' }
const settings = (host: string, o: Partial<LinkExposureSettings> = {}): LinkExposureSettings =>
  ({ listen: { host, port: 7400 }, secret: '', tlsCert: '', tlsCa: '', linkInsecure: false, ...o })

t.test('on loopback links may run unauthenticated, as before', async (t) => {
  t.same(checkLinkExposure(settings('127.0.0.1')), [])
  t.same(checkLinkExposure(settings('::1', { secret: 's' })), [])
  t.same(checkLinkExposure(settings('localhost', { linkInsecure: true })), [])
})

t.test('beyond loopback: mutual TLS or a shared secret, or refused', async (t) => {
  t.same(checkLinkExposure(settings('0.0.0.0', { tlsCert: 'c.pem', tlsCa: 'ca.pem' })), [], 'mutual TLS: no warning')
  t.same(checkLinkExposure(settings('0.0.0.0', { tlsCert: 'c.pem', secret: 's' })), [], 'TLS and a secret: no warning')
  t.throws(() => checkLinkExposure(settings('0.0.0.0')),
    { ...CONFIG_ERROR, message: /link port would listen on 0\.0\.0\.0:7400, beyond loopback, with no authentication.*--link-insecure/ })
  t.throws(() => checkLinkExposure(settings('::', { tlsCert: 'c.pem' })), { ...CONFIG_ERROR, message: /on \[::\]:7400/ },
    'server TLS alone encrypts but lets anyone link')
  t.throws(() => checkLinkExposure(settings('rc')), CONFIG_ERROR, 'a host name other than localhost')
})

t.test('a secret without TLS starts, with a warning that data crosses in the clear', async (t) => {
  const w = checkLinkExposure(settings('10.0.0.2', { secret: 's' }))
  t.equal(w.length, 1)
  t.match(w[0], /10\.0\.0\.2:7400 authenticate with a secret but carry memory in the clear/)
})

t.test('--link-insecure: runs, warned', async (t) => {
  const w = checkLinkExposure(settings('0.0.0.0', { linkInsecure: true }))
  t.equal(w.length, 1)
  t.match(w[0], /^--link-insecure: the link port listens on 0\.0\.0\.0:7400, beyond loopback, with no authentication/)
  t.same(checkLinkExposure(settings('0.0.0.0', { linkInsecure: true, secret: 's', tlsCert: 'c.pem' })), [], 'needless with a secret and TLS')
})
