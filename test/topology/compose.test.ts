// docker-compose.yml's two profiles, run for real without a container
// engine: each service of the profile in a network namespace of its own on
// one bridge, reaching the others by their compose names over IP, with the
// command, environment (image ENV, soclink.env, environment), health check
// and restart policy that the compose file and the Dockerfile give it, and
// the built package's soclinkd and soclink. The ping application must see
// round trips through the echo application; after the far daemon (the vhost
// side) is stopped and started again, round trips must come back without
// the pinger being restarted. The credentials are the ones the README has
// users make (scripts/compose-secrets.sh), made afresh in a project folder
// of the test's own; every link must be TLS and every API must want a
// token. Needs root: without it the test fails, it does not skip.

import t from 'tap'
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { planProfile } from './compose-plan.js'
import { imageConfig, parseDockerfile } from './dockerfile.js'
import { Network } from './netns.js'
import { Project } from './compose-up.js'
import type { Container } from './container.js'
import { until } from '../support/daemon.js'
import { scaled } from '../support/time.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const COMPOSE = join(ROOT, 'docker-compose.yml')

/** Per profile: the pinging and echoing applications and the daemon restarted under them. */
const TOPOLOGIES = [
  { profile: 'pcie', pinger: 'rc-ping', echo: 'ep-echo', far: 'ep' },
  { profile: 'ntb', pinger: 'host2-ping', echo: 'host1-echo', far: 'host1' }
]

/** soclink rpmsg ping's line per round trip (client/src/cli/rpmsg-views.ts). */
const REPLY = /^\d+ bytes from \d+: seq=(\d+) time=([\d.]+) ms$/
/** What the pinger prints while the far side is gone. */
const OUTAGE = /detached|not sent|no reply/

const WAIT_MS = 60_000

/** The package's bins (package.json "bin"), as the image links them onto PATH. */
function bins (): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }
  const out = Object.fromEntries(Object.entries(pkg.bin).map(([name, path]) => [name, join(ROOT, path)]))
  for (const path of Object.values(out)) if (!existsSync(path)) throw new Error(`${path} is missing: run npm run build first`)
  return out
}

const roundTrips = (c: Container, from = 0): string[] =>
  c.log.slice(from).filter((l) => l.stream === 'stdout' && REPLY.test(l.text)).map((l) => l.text)


/** Runs `soclink ARGS --json` in a service's container (namespace and secrets); exit status and output. */
async function cliIn (project: Project, net: Network, service: string, args: string[], without: string[] = []): Promise<{ code: number | null, out: string, err: string }> {
  const c = project.container(service)
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...c.plan.env }
  for (const name of without) delete env[name]
  const p = net.spawn(service, [process.execPath, binsMap.soclink!, ...args, '--json'], env, c.plan.secrets)
  let out = ''
  let err = ''
  p.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  p.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  const timer = setTimeout(() => { p.kill('SIGKILL') }, scaled(20_000))
  const code = await new Promise<number | null>((resolve) => { p.once('close', resolve) })
  clearTimeout(timer)
  return { code, out, err }
}

/** A project folder as the README has users make it: the compose file's env file and `sh scripts/compose-secrets.sh`. */
function projectDir (): string {
  const dir = mkdtempSync(join(tmpdir(), 'soclink-compose-'))
  copyFileSync(join(ROOT, 'soclink.env'), join(dir, 'soclink.env'))
  execFileSync('sh', [join(ROOT, 'scripts/compose-secrets.sh')], { cwd: dir, stdio: 'ignore' })
  return dir
}

const image = imageConfig(parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')))
const binsMap = bins()

for (const topo of TOPOLOGIES) {
  t.test(`docker compose --profile ${topo.profile} up, in network namespaces`, async (t) => {
    const dir = projectDir()
    t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
    const plans = planProfile({ path: COMPOSE, projectDir: dir, text: readFileSync(COMPOSE, 'utf8'), image, readFile: (p) => readFileSync(p, 'utf8') }, topo.profile)
    const net = Network.create(plans.map((p) => p.name))
    const project = new Project(plans, net, binsMap)
    t.teardown(async () => {
      if (!t.passing()) t.comment(project.tails(40))
      await project.down()
      net.destroy()
    })

    // A wait that fails shows the services' recent output.
    const tails = (): string => `recent output:\n${project.tails()}`
    await project.up()
    const pinger = project.container(topo.pinger)
    const echo = project.container(topo.echo)
    const far = project.container(topo.far)
    await until(`3 round trips in ${topo.pinger}'s output`, () => roundTrips(pinger).length >= 3 ? true : undefined, WAIT_MS, tails)
    t.ok(roundTrips(pinger).length >= 3, `${topo.pinger} prints round trips through ${topo.echo}: ${roundTrips(pinger)[0]}`)

    // The far daemon reached its peer by compose name, over the bridge, with TLS.
    const dialed = far.plan.env.SOCLINK_PEERS!
    t.match(dialed, /^wss:\/\//, `${topo.far} dials with TLS: ${dialed}`)
    const asked = await cliIn(project, net, topo.pinger, ['--api', `https://${topo.far}:7401`, 'peers'])
    t.equal(asked.code, 0, `the pinger's token and CA reach ${topo.far}'s API over HTTPS: ${asked.err}`)
    const peers = JSON.parse(asked.out) as Array<{ state: string, url: string }>
    const link = peers.find((p) => p.url === `${dialed}/v1/link`)
    t.equal(link?.state, 'up', `${topo.far}'s link to ${dialed}/v1/link is up (asked from ${topo.pinger}'s namespace at ${net.attachment(topo.far).ip})`)

    // Every API wants a token, and an application's token may not change a daemon.
    const bare = await cliIn(project, net, topo.pinger, ['--api', `https://${topo.far}:7401`, 'peers'], ['SOCLINK_TOKEN_FILE'])
    t.not(bare.code, 0, `without a token ${topo.far}'s API refuses: ${bare.err.trim()}`)
    t.match(bare.err, /ERR_UNAUTHENTICATED/, 'refused as unauthenticated (401)')
    const write = await cliIn(project, net, topo.pinger, ['--api', `https://${topo.far}:7401`, 'region', 'create', 'intruder', '4K'])
    t.not(write.code, 0, 'an application\'s rpmsg token cannot create a region')
    t.match(write.err, /ERR_FORBIDDEN/, 'refused as forbidden (403)')
    const plain = await cliIn(project, net, topo.pinger, ['--api', `http://${topo.far}:7401`, 'peers'])
    t.not(plain.code, 0, `plain HTTP to ${topo.far}'s API gets nothing: ${plain.err.trim()}`)

    // Stop the far side: the pinger sees the outage and keeps running.
    const pingerRuns = pinger.runs
    const echoRuns = echo.runs
    const echoMark = echo.log.length
    let mark = pinger.log.length
    const exit = await far.stop()
    t.same(exit, { code: 0, signal: null }, `${topo.far} drains and exits 0 on SIGTERM`)
    await until(`${topo.pinger} to notice ${topo.far} is gone`, () => pinger.log.slice(mark).some((l) => OUTAGE.test(l.text)) ? true : undefined, WAIT_MS, tails)
    t.pass(`${topo.pinger} reports the outage: ${pinger.log.slice(mark).find((l) => OUTAGE.test(l.text))!.text}`)

    // Start it again: round trips come back.
    mark = pinger.log.length
    far.start()
    await far.healthy()
    t.pass(`${topo.far} is healthy again`)
    await until(`3 round trips in ${topo.pinger}'s output after ${topo.far} came back`, () => roundTrips(pinger, mark).length >= 3 ? true : undefined, WAIT_MS, tails)
    t.ok(roundTrips(pinger, mark).length >= 3, `round trips again after ${topo.far}'s restart: ${roundTrips(pinger, mark)[0]}`)
    t.equal(pinger.runs, pingerRuns, `${topo.pinger} rode through the restart (not restarted)`)
    // soclink rpmsg echo reconnects to its restarted daemon itself (issue 13), as the pinger does.
    t.equal(echo.runs, echoRuns, `${topo.echo} rode through the restart (not restarted)`)
    // The echo's output comes through its own pipe, in no order with the pinger's: wait for the line.
    await until(`${topo.echo} to say it reconnected`, () => echo.log.slice(echoMark).some((l) => /reconnected to /.test(l.text)) ? true : undefined, WAIT_MS, tails)
    t.ok(echo.log.slice(echoMark).some((l) => /reconnected to /.test(l.text)), `${topo.echo} says it reconnected`)

    await project.down()
    t.ok([...project.containers.values()].every((c) => !c.running), 'every service stopped')
    net.destroy()
    t.same(net.leftovers(), [], 'no namespace, link, bridge or hosts file left')
  })
}
