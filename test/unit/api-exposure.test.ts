// The start-up rule of the control API (config/api-exposure.ts): on
// loopback anything goes; beyond it, a token file and TLS, or --api-insecure
// (with warnings); otherwise a ConfigError that says what is missing.

import t from 'tap'
import { checkApiExposure, isLoopback, type ApiExposureSettings } from '../../daemon/src/config/api-exposure.js'

const CONFIG_ERROR = { name: 'ConfigError', code: 'ERR_CONFIG' }
const settings = (host: string, o: Partial<ApiExposureSettings> = {}): ApiExposureSettings =>
  ({ api: { host, port: 7401 }, apiTokenFile: '', apiInsecure: false, tlsCert: '', ...o })

t.test('loopback: 127.0.0.0/8, ::1, localhost', async (t) => {
  for (const h of ['127.0.0.1', '127.1.2.3', '127.255.255.255', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) t.ok(isLoopback(h), h)
  for (const h of ['0.0.0.0', '::', '', '10.0.0.1', '128.0.0.1', '::ffff:10.0.0.1', 'rc', 'localhost.example', '127.0.0.1.nip.io', '1.127.0.0']) t.notOk(isLoopback(h), h)
})

t.test('on loopback the API may run open, as before', async (t) => {
  t.same(checkApiExposure(settings('127.0.0.1')), [])
  t.same(checkApiExposure(settings('::1', { apiTokenFile: 't' })), [])
  t.same(checkApiExposure(settings('localhost', { apiInsecure: true })), [])
})

t.test('beyond loopback: token file and TLS, or refused', async (t) => {
  t.same(checkApiExposure(settings('0.0.0.0', { apiTokenFile: 't', tlsCert: 'c.pem' })), [], 'tokens and TLS: no warning')
  t.throws(() => checkApiExposure(settings('0.0.0.0')),
    { ...CONFIG_ERROR, message: /listen on 0\.0\.0\.0:7401, beyond loopback, with no API token file \(--api-token-file\) and no TLS .*--api-insecure/ })
  t.throws(() => checkApiExposure(settings('10.0.0.2', { apiTokenFile: 't' })), { ...CONFIG_ERROR, message: /with no TLS/ }, 'tokens alone')
  t.throws(() => checkApiExposure(settings('::', { tlsCert: 'c.pem' })), { ...CONFIG_ERROR, message: /on \[::\]:7401.*with no API token file/ }, 'TLS alone')
  t.throws(() => checkApiExposure(settings('rc')), CONFIG_ERROR, 'a host name other than localhost')
})

t.test('--api-insecure: starts, with warnings that say what is open', async (t) => {
  const open = checkApiExposure(settings('0.0.0.0', { apiInsecure: true }))
  t.match(open, [/--api-insecure: the control API listens on 0\.0\.0\.0:7401/, /takes no token: anyone who reaches it/])
  const clear = checkApiExposure(settings('0.0.0.0', { apiInsecure: true, apiTokenFile: 't' }))
  t.match(clear, [/with no TLS/, /bearer tokens cross the network in the clear/], 'tokens without TLS')
  t.match(checkApiExposure(settings('0.0.0.0', { apiInsecure: true, tlsCert: 'c.pem' })), [/no API token file/, /takes no token/])
  t.same(checkApiExposure(settings('0.0.0.0', { apiInsecure: true, apiTokenFile: 't', tlsCert: 'c.pem' })), [], 'nothing to warn of')
})
