// Unmodified Linux rpmsg_char programs over NTB (issue 15): a board and two
// hosts; a C echo server on HOST1 (the vhost side) and a C client on HOST2
// (the virtio side), each through `soclink run` on its own host's daemon,
// exchange 10,000 messages intact and in order through the board; and a C
// program on HOST2 finds HOST1's announced channel in sysfs, binds it to
// rpmsg_chrdev and talks on it.

import t from 'tap'
import { RpmsgClient } from '../../client/src/index.js'
import { until, type Daemon } from '../support/daemon.js'
import { echo, hostUp, startNtbTopology } from '../support/ntb-daemons.js'
import { getJson, rpmsgBus } from '../support/rpmsg-procs.js'
import { compilePrograms, missing, runProgram, startProgram } from '../support/rpmsg-char.js'

const why = missing()
if (why !== null) {
  t.plan(0, `rpmsg_char programs: ${why}`)
} else {
  const progs = compilePrograms()
  const daemons: Daemon[] = []
  const clients: RpmsgClient[] = []
  t.teardown(async () => {
    for (const c of clients) await c.close()
    for (const d of [...daemons].reverse()) await d.stop()
    progs.remove()
  })
  const { host1, host2 } = await startNtbTopology(daemons)
  await hostUp(host1)
  await hostUp(host2)
  await rpmsgBus(host1)
  await rpmsgBus(host2)

  t.test('10,000 messages intact and in order between a C echo server on HOST1 and a C client on HOST2', async (t) => {
    const server = await startProgram(host1.api, progs.path('echo'), ['10000', '-e', '1024:1025'])
    const client = await runProgram(host2.api, progs.path('client'), ['nonblock', '10000', '496', '1025:1024'], 240_000)
    t.equal(client.code, 0, client.stderr)
    t.match(client.stdout, 'ok 10000 x 1')
    t.equal(await server.exit, 0, server.stderr())
    t.match(server.lines.join('\n'), 'echoed 10000')
  })

  t.test('HOST2 binds HOST1\'s announced channel to rpmsg_chrdev through sysfs and talks on it', async (t) => {
    const app = await RpmsgClient.connect(host1.api)
    clients.push(app)
    const ept = await app.createEndpoint({ name: 'raw-echo', announce: true })
    echo(ept)
    await until('HOST2 sees raw-echo', async () => {
      const r = await getJson<{ channels: Array<{ name: string }> }>(host2.api, '/v1/rpmsg/channels')
      return r.body.channels.some((c) => c.name === 'raw-echo')
    })
    const r = await runProgram(host2.api, progs.path('bind'), ['raw-echo', '200'])
    t.equal(r.code, 0, r.stderr)
    t.match(r.stdout, `bind ok virtio0.raw-echo.-1.${ept.addr}`)
  })
}
