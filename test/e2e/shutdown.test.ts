// A daemon stops on SIGTERM and SIGINT even when nothing reads its log: its
// stdout a pipe whose reader has gone (a supervisor or test runner that died
// first). pino's exit flush used to retry write(1) = EPIPE forever, so such a
// daemon never exited.

import t from 'tap'
import { startDaemon, within } from '../support/daemon.js'
import { rpmsgBus } from '../support/rpmsg-procs.js'

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`an ep with a linked rc and a dead log reader exits on ${signal}`, async (t) => {
    const rc = await startDaemon('rc', ['--role', 'rc'])
    t.teardown(async () => { await rc.stop() })
    const ep = await startDaemon('ep', ['--role', 'ep', '--peer', rc.link])
    t.teardown(async () => { ep.proc.kill('SIGKILL') })
    await rpmsgBus(ep)
    await rpmsgBus(rc)

    // The reader's end of the pipe closes: every later write(1) is EPIPE.
    ep.proc.stdout!.destroy()
    const exited = new Promise<number | null>((resolve) => { ep.proc.once('exit', (code) => { resolve(code) }) })
    ep.proc.kill(signal)
    t.equal(await within(exited, `the ep exits on ${signal}`), 0, 'exits, and cleanly')
  })
}
