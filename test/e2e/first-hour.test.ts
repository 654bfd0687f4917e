// What a new user meets in the first hour with real daemons (issue 13,
// point 5): a port in use is one line naming the setting, a failed dial
// shows in the log with the URL and why, each API request is one log line,
// and the daemon's last line says it stopped; the client says what is
// wrong when pointed at a link port or at an ep without its rc; --version.

import t from 'tap'
import { run } from '../support/children.js'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { cli, SOCLINK, SOCLINKD, startDaemon } from '../support/daemon.js'
import { ROOT } from '../support/repo.js'
import { logLine, msgOf } from '../support/tls-daemons.js'
import { scaled } from '../support/time.js'
import { unusedPort } from '../support/ports.js'

const portOf = (url: string): number => Number(new URL(url).port)

t.test('a port in use: one line naming the setting and the address, exit 2', async (t) => {
  const first = await startDaemon('first', ['--role', 'rc'])
  t.teardown(async () => { await first.stop('SIGKILL') })
  const cases = [
    { setting: 'listen', what: 'peer links', args: ['--listen', `127.0.0.1:${portOf(first.link)}`, '--api', '127.0.0.1:0'], port: portOf(first.link) },
    { setting: 'api', what: 'control API', args: ['--listen', '127.0.0.1:0', '--api', `127.0.0.1:${portOf(first.api)}`], port: portOf(first.api) }
  ]
  for (const c of cases) {
    const second = await run(process.execPath, [SOCLINKD, '--name', 'second', ...c.args], scaled(20_000))
    t.equal(second.code, 2, `--${c.setting}: exit 2, as for every setting that cannot be used`)
    t.equal(second.stderr, `soclinkd: ERR_CONFIG: --${c.setting} 127.0.0.1:${c.port} (${c.what}): address already in use (another soclinkd, or another program, listens there): stop it or choose another port\n`, `--${c.setting}: one line, no stack`)
  }
})

t.test('a failed dial shows in the log with the URL and the reason (refused, no such host)', async (t) => {
  const port = await unusedPort()
  const ep = await startDaemon('lonely', ['--role', 'ep', '--peer', `127.0.0.1:${port}`, '--peer', 'no-such-host.invalid:7400', '--reconnect-max-ms', '200'])
  t.teardown(async () => { await ep.stop('SIGKILL') })
  const refused = await logLine(ep, /dial failed: .*ECONNREFUSED/)
  t.match(refused, `dial failed: connect ECONNREFUSED 127.0.0.1:${port} (nothing listens there: is the peer's daemon running, with --listen on that port?); dialing ws://127.0.0.1:${port}/v1/link again`)
  const dns = await logLine(ep, /dial failed: .*no-such-host/)
  t.match(dns, /dial failed: getaddrinfo (ENOTFOUND|EAI_AGAIN) no-such-host\.invalid .*dialing ws:\/\/no-such-host\.invalid:7400\/v1\/link again/)
})

t.test('one log line per API request; a last line when the daemon stops', async (t) => {
  const d = await startDaemon('logged', ['--role', 'rc'])
  t.teardown(async () => { await d.stop('SIGKILL') })
  const before = d.logs.length
  t.equal((await fetch(`${d.api}/v1/node`)).status, 200)
  t.equal((await fetch(`${d.api}/v1/regions/nope`)).status, 404)
  await logLine(d, /GET \/v1\/regions\/nope 404/)
  const requests = d.logs.slice(before).filter((l) => /"layer":"api"/.test(l)).map(msgOf)
  t.equal(requests.length, 2, `one line each: ${requests.join(' | ')}`)
  t.match(requests[0], /^GET \/v1\/node 200 \([\d.]+ ms\)$/)
  t.equal(await d.stop('SIGTERM'), 0)
  t.match(await logLine(d, /stopped/), 'soclinkd logged stopped (SIGTERM)', 'the last line says it stopped')
})

t.test('the client says what is wrong: the link port is not the API, an ep waits for its rc', async (t) => {
  const ep = await startDaemon('ep', ['--role', 'ep'])
  t.teardown(async () => { await ep.stop('SIGKILL') })
  const apiPort = portOf(ep.api)
  const linkPort = `http://127.0.0.1:${portOf(ep.link)}`
  const peers = await cli(linkPort, 'peers')
  t.equal(peers.code, 1)
  t.equal(peers.stderr, `soclink: ERR_LINK_PORT: ${linkPort} is a soclink link port, where peers link, not the control API: try http://127.0.0.1:${apiPort}\n`, 'REST: names the API port')
  const echo = await cli(linkPort, 'rpmsg', 'echo')
  t.equal(echo.stderr, `soclink: ERR_LINK_PORT: ${linkPort} is a soclink link port, where peers link, not the control API: try http://127.0.0.1:${apiPort}\n`, 'the rpmsg gateway\'s WebSocket too')
  const channels = await cli(ep.api, 'rpmsg', 'channels')
  t.equal(channels.code, 1)
  t.match(channels.stderr, /^soclink: ERR_NOT_FOUND: no rpmsg bus on "ep" yet: an ep's bus comes once an rc has linked, enumerated its PCIe function and brought the rpmsg device up/, 'says the ep waits for an rc')
})

t.test('--version: soclink and soclinkd say package.json\'s version', async (t) => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  for (const bin of [SOCLINK, SOCLINKD]) {
    const r = await run(process.execPath, [bin, '--version'], scaled(20_000))
    t.same({ code: r.code, stdout: r.stdout }, { code: 0, stdout: `${version}\n` }, bin)
  }
})
