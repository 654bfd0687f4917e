// Unmodified Linux rpmsg_char programs over PCIe (issue 15): C programs
// compiled here against <linux/rpmsg.h> run through `soclink run`, an echo
// server on the ep and its clients on the rc, and behave as on the kernel's
// rpmsg_char (README, "Running unmodified Linux rpmsg programs"): blocking,
// O_NONBLOCK with EAGAIN and poll, epoll, select, two endpoints in one
// process, EMSGSIZE, a read cut to its buffer, RPMSG_DESTROY_EPT_IOCTL, an
// endpoint that goes with a program that exits without closing it, the
// sysfs discovery and rpmsg_chrdev binding of an announced channel, 10,000
// messages intact and in order, and other files working as before.

import t, { type Test } from 'tap'
import { RpmsgClient } from '../../client/src/index.js'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startDaemon, until } from '../support/daemon.js'
import { startRpmsgPair } from '../support/rpmsg-daemons.js'
import { getJson, type EndpointsBody } from '../support/rpmsg-procs.js'
import { compilePrograms, missing, runProgram, startProgram } from '../support/rpmsg-char.js'
import { echo } from '../support/ntb-daemons.js'

const why = missing()
if (why !== null) {
  t.plan(0, `rpmsg_char programs: ${why}`)
} else {
  const progs = compilePrograms()
  const pair = await startRpmsgPair()
  const clients: RpmsgClient[] = []
  t.teardown(async () => {
    for (const c of clients) await c.close()
    await pair.stop()
    progs.remove()
  })
  const { rc, ep } = pair

  /** An echo server on the ep for `pairs` (its SRC:DST), the client on the rc with the mirrored pairs. */
  async function echoRun (t: Test, count: number, serverFlags: string[], clientMode: string, len: number, pairs: Array<[number, number]>): Promise<void> {
    const server = await startProgram(ep.api, progs.path('echo'), [String(count), ...serverFlags, ...pairs.map(([s, d]) => `${s}:${d}`)])
    const client = await runProgram(rc.api, progs.path('client'), [clientMode, String(count), String(len), ...pairs.map(([s, d]) => `${d}:${s}`)], 240_000)
    t.equal(client.code, 0, `client: ${client.stderr}`)
    t.match(client.stdout, `ok ${count} x ${pairs.length}`)
    t.equal(await server.exit, 0, `server: ${server.stderr()}`)
    t.match(server.lines.join('\n'), `echoed ${count}`)
  }

  t.test('blocking read and write', async (t) => { await echoRun(t, 200, [], 'block', 496, [[1024, 1025]]) })
  t.test('O_NONBLOCK with EAGAIN and poll, two endpoints in each process', async (t) => {
    await echoRun(t, 200, [], 'nonblock', 100, [[1030, 1031], [1032, 1033]])
  })
  t.test('epoll on both sides, two endpoints in each process', async (t) => {
    await echoRun(t, 200, ['-e'], 'epoll', 300, [[1040, 1041], [1042, 1043]])
  })
  t.test('select', async (t) => { await echoRun(t, 100, [], 'select', 1, [[1050, 1051]]) })
  t.test('10,000 messages intact and in order, one program on each daemon', async (t) => {
    await echoRun(t, 10_000, [], 'block', 496, [[1060, 1061]])
  })

  t.test('the edges: ENOTTY, EINVAL, EBUSY, EMSGSIZE, a cut read, EAGAIN, destroy (EPIPE, POLLERR), other files', async (t) => {
    const server = await startProgram(ep.api, progs.path('echo'), ['1', '1070:1071'])
    const r = await runProgram(rc.api, progs.path('edge'), ['1071', '1070', '496'])
    t.equal(r.code, 0, r.stderr)
    t.match(r.stdout, 'edge ok')
    t.equal(await server.exit, 0, server.stderr())
  })

  const endpointAt = async (addr: number): Promise<boolean> =>
    (await getJson<EndpointsBody>(rc.api, '/v1/rpmsg/endpoints')).body.endpoints.some((e) => e.addr === addr)

  t.test('a program that exits without closing its endpoint: the endpoint goes', async (t) => {
    const p = await startProgram(rc.api, progs.path('noclose'), ['1080', '1024'])
    t.ok(await endpointAt(1080), 'the endpoint exists while the program runs')
    p.proc.stdin!.end()
    t.equal(await p.exit, 0)
    await until('endpoint 1080 gone', async () => !(await endpointAt(1080)))
    t.pass('gone')
  })

  t.test('a program killed with SIGKILL: its endpoint goes', async (t) => {
    const p = await startProgram(rc.api, progs.path('noclose'), ['1081', '1024'])
    t.ok(await endpointAt(1081))
    process.kill(Number(p.lines[0]!.split(' ')[1]), 'SIGKILL')
    t.equal(await p.exit, 137, 'soclink run passes the status on (128 + SIGKILL)')
    await until('endpoint 1081 gone', async () => !(await endpointAt(1081)))
    t.pass('gone')
  })

  t.test('sysfs: an announced channel found under /sys/bus/rpmsg/devices, bound to rpmsg_chrdev, used through its rpmsg_ctrlN', async (t) => {
    const app = await RpmsgClient.connect(ep.api)
    clients.push(app)
    const ept = await app.createEndpoint({ name: 'raw-echo', announce: true })
    echo(ept)
    await until('the rc sees raw-echo', async () => {
      const r = await getJson<{ channels: Array<{ name: string }> }>(rc.api, '/v1/rpmsg/channels')
      return r.body.channels.some((c) => c.name === 'raw-echo')
    })
    const r = await runProgram(rc.api, progs.path('bind'), ['raw-echo', '200'])
    t.equal(r.code, 0, r.stderr)
    t.match(r.stdout, `bind ok virtio0.raw-echo.-1.${ept.addr}`)
    const after = await getJson<{ channels: Array<{ name: string, src: number | null }> }>(rc.api, '/v1/rpmsg/channels')
    t.equal(after.body.channels.find((c) => c.name === 'raw-echo')?.src, null, 'released: unbound again (no local endpoint)')
    await app.close()
  })

  t.test('behind API tokens: the program\'s gateway connections carry the token; refused ones say so before the program starts', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'soclink-rpmsg-char-auth-'))
    t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
    const file = (name: string, text: string): string => { const p = join(dir, name); writeFileSync(p, text); return p }
    const tokens = file('api-tokens', 'admin char-admin-0123456789abcdef0123\nrpmsg char-rpmsg-0123456789abcdef0123\nread char-read-0123456789abcdef01234\n')
    const env = { SOCLINK_TOKEN_FILE: file('rpmsg', 'char-rpmsg-0123456789abcdef0123\n') }
    const arc = await startDaemon('rc-auth', ['--role', 'rc', '--api-token-file', tokens])
    const aep = await startDaemon('ep-auth', ['--role', 'ep', '--api-token-file', tokens, '--peer', arc.link])
    t.teardown(async () => { await aep.stop(); await arc.stop() })
    const authorized = { authorization: 'Bearer char-read-0123456789abcdef01234' }
    for (const d of [arc, aep]) await until(`${d.name}'s rpmsg bus`, async () => (await fetch(d.api + '/v1/rpmsg/endpoints', { headers: authorized })).status === 200 ? true : undefined)

    const server = await startProgram(aep.api, progs.path('echo'), ['100', '1024:1025'], 30_000, env)
    const client = await runProgram(arc.api, progs.path('client'), ['block', '100', '200', '1025:1024'], 120_000, env)
    t.equal(client.code, 0, `client: ${client.stderr}`)
    t.match(client.stdout, 'ok 100 x 1')
    t.equal(await server.exit, 0, `server: ${server.stderr()}`)

    const bare = await runProgram(arc.api, '/bin/echo', ['started'])
    t.equal(bare.code, 1, 'no token: soclink run fails')
    t.match(bare.stderr, /ERR_UNAUTHENTICATED/)
    t.notMatch(bare.stdout, 'started', 'and the program did not start')
    const read = await runProgram(arc.api, '/bin/echo', ['started'], 60_000, { SOCLINK_TOKEN_FILE: file('read', 'char-read-0123456789abcdef01234\n') })
    t.equal(read.code, 1)
    t.match(read.stderr, /ERR_FORBIDDEN/, 'a read token may not use the rpmsg gateway')
  })

  t.test('soclink run passes the exit status through, and says when the shim is missing', async (t) => {
    const status = await runProgram(rc.api, '/bin/sh', ['-c', 'exit 7'])
    t.equal(status.code, 7)
    const none = await runProgram(rc.api, '/bin/true', [], 60_000, { SOCLINK_RPMSG_SHIM: '/nonexistent/libsoclink-rpmsg.so' })
    t.equal(none.code, 1)
    t.match(none.stderr, /rpmsg_char shim is not built \(\/nonexistent\/libsoclink-rpmsg\.so\): install a C compiler/)
  })
}
