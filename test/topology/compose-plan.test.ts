// The pure half of the topology test: docker-compose.yml and the Dockerfile
// read as a container engine would (argv, environment, health checks,
// depends_on, restart policies), the rules of that reading on small files,
// and the image's HEALTHCHECK command run against a loopback server.

import t from 'tap'
import { createServer } from 'node:http'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseEnvFile, planProfile, type ServicePlan } from './compose-plan.js'
import { imageConfig, parseDockerfile, type ImageConfig } from './dockerfile.js'
import { parseDuration } from './duration.js'
import { SOCLINKD } from '../support/repo.js'
import { run } from '../support/children.js'
import { scaled } from '../support/time.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const COMPOSE = join(ROOT, 'docker-compose.yml')
const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
const image = imageConfig(parseDockerfile(DOCKERFILE))
const read = (p: string): string => readFileSync(p, 'utf8')
const profile = (name: string): ServicePlan[] => planProfile({ path: COMPOSE, text: read(COMPOSE), image, readFile: read }, name)
const byName = (plans: ServicePlan[]): Record<string, ServicePlan> => Object.fromEntries(plans.map((p) => [p.name, p]))

t.test('the Dockerfile: multi-stage, production runtime, non-root, soclinkd entrypoint, health check', async (t) => {
  const stages = parseDockerfile(DOCKERFILE)
  t.same(stages.map((s) => s.name), ['build', 'runtime'], 'a build stage and a runtime stage')
  t.match(DOCKERFILE, /^ARG NODE_VERSION=26$/m, 'Node 26, the LTS line since October 2026')
  t.ok(stages.every((s) => s.from === 'node:${NODE_VERSION}-trixie-slim'), 'both on the slim Node image (Debian 13, the default of node:26)')
  const runtime = stages[1]!.instructions.map((i) => `${i.keyword} ${i.args}`)
  t.ok(runtime.some((i) => /^RUN npm ci --omit=dev --ignore-scripts/.test(i)), 'runtime: production dependencies, no install scripts')
  t.ok(runtime.some((i) => i === 'COPY --from=build /src/dist ./dist'), 'runtime: dist/ from the build stage')
  t.notOk(runtime.some((i) => /^COPY (daemon|client|scripts|test)/.test(i)), 'runtime: no sources')
  t.ok(runtime.some((i) => i.includes('/usr/local/bin/soclinkd') && i.includes('/usr/local/bin/soclink')), 'both bins on PATH')
  t.equal(image.user, 'node', 'runs as the node user')
  t.same(image.entrypoint, ['soclinkd'])
  t.same(image.cmd, null, 'no CMD: settings come from SOCLINK_* variables or arguments')
  t.same(image.exposed, ['7400', '7401'])
  t.same(image.env, { NODE_ENV: 'production', SOCLINK_LISTEN: '0.0.0.0:7400', SOCLINK_API: '0.0.0.0:7401' })
  t.same(image.healthcheck?.test, ['CMD', 'soclinkd', '--health-check'], 'the daemon checks its own API, as its settings describe it')
  t.match(image.healthcheck, { intervalMs: 10_000, timeoutMs: 3000, startPeriodMs: 10_000, retries: 3 })
})

t.test('the image\'s health check asks GET /healthz on the port SOCLINK_API names, with the least token of the token file', async (t) => {
  let status = 200
  const paths: string[] = []
  const auths: Array<string | undefined> = []
  const server = createServer((req, res) => { paths.push(req.url!); auths.push(req.headers.authorization); res.writeHead(status).end() })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(() => { server.close() })
  const port = (server.address() as { port: number }).port
  const dir = mkdtempSync(join(tmpdir(), 'soclink-health-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const tokens = join(dir, 'tokens')
  writeFileSync(tokens, `admin ${'a'.repeat(32)}\nread ${'r'.repeat(32)}\nrpmsg ${'p'.repeat(32)}\n`)
  const check = async (api: string | undefined, more: Record<string, string> = {}): Promise<number> => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...more }
    if (api !== undefined) env.SOCLINK_API = api
    // soclinkd as the image's PATH has it: the built package's bin.
    return (await run(process.execPath, [SOCLINKD, ...image.healthcheck!.test.slice(2)], scaled(10_000), { env })).code
  }
  t.equal(await check(`127.0.0.1:${port}`), 0, 'healthy on 200')
  t.equal(await check(`0.0.0.0:${port}`), 0, 'an unspecified host is asked on loopback')
  t.equal(await check(`[::]:${port}`), 0, 'also in brackets')
  t.same(paths, ['/healthz', '/healthz', '/healthz'])
  t.same(auths, [undefined, undefined, undefined], 'no token file, no token')
  t.equal(await check(`127.0.0.1:${port}`, { SOCLINK_API_TOKEN_FILE: tokens }), 0)
  t.equal(auths.at(-1), `Bearer ${'r'.repeat(32)}`, 'the read token: a health check needs no more')
  t.equal(await check(`127.0.0.1:${port}`, { SOCLINK_API_TOKEN_FILE: join(dir, 'missing') }), 1, 'a token file it cannot read: unhealthy (1), not 2')
  status = 503
  t.equal(await check(`127.0.0.1:${port}`), 1, 'unhealthy on 503')
  server.close()
  t.equal(await check(`127.0.0.1:${port}`), 1, 'unhealthy when nothing answers')
})

t.test('profile pcie: rc, ep, and an echo and a pinger, dependencies first', async (t) => {
  const plans = profile('pcie')
  t.same(plans.map((p) => p.name), ['rc', 'ep', 'ep-echo', 'rc-ping'])
  const s = byName(plans)
  const shared = parseEnvFile(read(join(ROOT, 'soclink.env')), 'soclink.env')
  t.same(shared, {
    SOCLINK_TLS_CERT: '/run/secrets/cert',
    SOCLINK_TLS_KEY: '/run/secrets/key',
    SOCLINK_TLS_CA: '/run/secrets/ca',
    SOCLINK_API_TOKEN_FILE: '/run/secrets/api_tokens'
  }, 'soclink.env: where the credentials are, no secret itself')
  t.same(s.rc!.argv, ['soclinkd'], 'daemons: the image\'s entrypoint, settings from the environment')
  t.same(s.rc!.env, { ...image.env, ...shared, SOCLINK_ROLE: 'rc', SOCLINK_NAME: 'rc' })
  t.same(s.ep!.env, { ...image.env, ...shared, SOCLINK_ROLE: 'ep', SOCLINK_NAME: 'ep', SOCLINK_PEERS: 'wss://rc:7400' })
  const dir = join(ROOT, 'secrets')
  t.same(s.ep!.secrets, [
    { source: join(dir, 'ca.pem'), target: '/run/secrets/ca' },
    { source: join(dir, 'api-tokens'), target: '/run/secrets/api_tokens' },
    { source: join(dir, 'ep.pem'), target: '/run/secrets/cert' },
    { source: join(dir, 'ep.key'), target: '/run/secrets/key' }
  ], 'a daemon gets the CA, the API tokens and its own certificate and key, from ./secrets')
  t.same(s['ep-echo']!.argv, ['soclink', 'rpmsg', 'echo', '--announce', '--name', 'echo'])
  t.same(s['rc-ping']!.argv, ['soclink', 'rpmsg', 'ping', '--channel', 'echo', '--claim', '--interval', '1000', '--timeout', '3000'])
  t.same(s['ep-echo']!.env, { ...image.env, SOCLINK_API: 'https://ep:7401', SOCLINK_CA_FILE: '/run/secrets/ca', SOCLINK_TOKEN_FILE: '/run/secrets/app_token' },
    'applications reach their daemon by service name, over HTTPS, with the application token')
  t.same(s['ep-echo']!.secrets, [
    { source: join(dir, 'ca.pem'), target: '/run/secrets/ca' },
    { source: join(dir, 'app-token'), target: '/run/secrets/app_token' }
  ], 'applications get the CA and their rpmsg token: no key, no admin token')
  t.same(s['rc-ping']!.dependsOn, [{ service: 'rc', condition: 'service_healthy' }, { service: 'ep-echo', condition: 'service_started' }])
  t.same(s.ep!.dependsOn, [{ service: 'rc', condition: 'service_healthy' }])
  t.same(s.rc!.health && { ...s.rc!.health, argv: s.rc!.health.argv.slice(0, 2) },
    { argv: ['soclinkd', '--health-check'], intervalMs: 2000, timeoutMs: 3000, startPeriodMs: 10_000, retries: 5 }, 'the image\'s check, at the compose file\'s pace')
  t.equal(s['ep-echo']!.health, null, 'applications: health check disabled')
  t.ok(plans.every((p) => p.restart.kind === 'unless-stopped'), 'every service restarts unless stopped')
})

t.test('profile ntb: the board, two hosts, an echo on host1 and a pinger on host2', async (t) => {
  const plans = profile('ntb')
  t.same(plans.map((p) => p.name), ['ntb', 'host1', 'host2', 'host1-echo', 'host2-ping'])
  const s = byName(plans)
  t.same([s.ntb!.env.SOCLINK_ROLE, s.host1!.env.SOCLINK_ROLE, s.host2!.env.SOCLINK_ROLE], ['ntb', 'ntb-vhost', 'ntb-virtio'])
  t.same([s.host1!.env.SOCLINK_PEERS, s.host2!.env.SOCLINK_PEERS], ['wss://ntb:7400', 'wss://ntb:7400'])
  t.equal(s.ntb!.env.SOCLINK_NTB_PAIRS, 'host1:host2', 'the board pairs the hosts by name, also after one restarts')
  t.equal(s['host1-echo']!.env.SOCLINK_API, 'https://host1:7401')
  t.equal(s['host2-ping']!.env.SOCLINK_API, 'https://host2:7401')
  t.same(s.host2!.secrets.map((m) => m.source.replace(/.*\//, '')), ['ca.pem', 'api-tokens', 'host2.pem', 'host2.key'], 'each host its own certificate')
})

t.test('published ports: each daemon\'s API on the host\'s loopback, each on its own port', async (t) => {
  const daemons = [...profile('pcie'), ...profile('ntb')].filter((p) => p.argv[0] === 'soclinkd')
  const ports = daemons.map((p) => p.ports)
  t.ok(ports.every((list) => list.length === 1 && list[0]!.containerPort === 7401 && list[0]!.hostIp === '127.0.0.1'), 'the API (7401) only, on 127.0.0.1')
  t.same(daemons.map((p) => `${p.name}:${p.ports[0]!.hostPort}`), ['rc:7401', 'ep:7411', 'ntb:7421', 'host1:7431', 'host2:7441'])
})

const tiny: ImageConfig = { env: { A: 'image', B: 'image' }, entrypoint: ['soclinkd'], cmd: ['--help'], user: null, exposed: [], healthcheck: { test: ['CMD', 'true'], intervalMs: 5000, retries: 2 } }
const plan = (yaml: string, files: Record<string, string> = {}, p = 'x'): ServicePlan[] =>
  planProfile({ path: '/c/compose.yml', text: yaml, image: tiny, readFile: (f) => { if (files[f] === undefined) throw new Error(`no ${f}`); return files[f] } }, p)

t.test('compose rules: argv, environment, health, dependencies, restart', async (t) => {
  t.same(plan('services:\n  a: {}\n')[0]!.argv, ['soclinkd', '--help'], 'the image\'s entrypoint and command')
  t.same(plan('services:\n  a: {command: [x]}\n')[0]!.argv, ['soclinkd', 'x'], 'command replaces the image\'s CMD')
  t.same(plan('services:\n  a: {entrypoint: [soclink]}\n')[0]!.argv, ['soclink'], 'an entrypoint drops the image\'s CMD')
  t.same(plan('services:\n  a:\n    env_file: [e1, e2]\n    environment: [B=svc, C=]\n', { '/c/e1': '# c\nB=file\nC=file\n', '/c/e2': 'D="q"\n' })[0]!.env,
    { A: 'image', B: 'svc', C: '', D: 'q' }, 'image ENV < env_file < environment; quotes taken off')
  t.same(plan('services:\n  a: {environment: {N: 1, T: true}}\n')[0]!.env, { A: 'image', B: 'image', N: '1', T: 'true' })
  t.same(plan('services:\n  a: {healthcheck: {interval: 1m30s}}\n')[0]!.health, { argv: ['true'], intervalMs: 90_000, timeoutMs: 30_000, startPeriodMs: 0, retries: 2 },
    'the service\'s fields over the image\'s over Docker\'s defaults')
  t.same(plan('services:\n  a: {healthcheck: {test: "curl -f x"}}\n')[0]!.health?.argv, ['/bin/sh', '-c', 'curl -f x'], 'a string test runs in a shell')
  t.equal(plan('services:\n  a: {healthcheck: {test: [NONE]}}\n')[0]!.health, null)
  t.equal(plan('services:\n  a: {healthcheck: {disable: true}}\n')[0]!.health, null)
  t.same(plan('services:\n  b: {depends_on: [a]}\n  a: {}\n').map((p) => p.name), ['a', 'b'], 'dependencies start first')
  t.same(plan('services:\n  a: {restart: "on-failure:3"}\n')[0]!.restart, { kind: 'on-failure', maxRetries: 3 })
  t.same(plan('services:\n  a: {restart: "no"}\n')[0]!.restart, { kind: 'no' })
  t.match(plan('services:\n  a: {stop_signal: SIGINT, stop_grace_period: 3s}\n')[0]!, { stopSignal: 'SIGINT', stopGraceMs: 3000 })
  t.same(plan('services:\n  a: {profiles: [y]}\n  b: {}\n').map((p) => p.name), ['b'], 'services of other profiles are left out; those of none are in')
  const secrets = 'secrets:\n  s1: {file: ./k/one}\n  s2: {file: /abs/two}\n'
  t.same(plan(`${secrets}services:\n  a: {secrets: [s1, {source: s2, target: key}]}\n`)[0]!.secrets,
    [{ source: '/c/k/one', target: '/run/secrets/s1' }, { source: '/abs/two', target: '/run/secrets/key' }], 'file secrets at /run/secrets/NAME or TARGET')
  t.same(planProfile({ path: '/c/compose.yml', projectDir: '/p', text: `${secrets}services:\n  a: {secrets: [s1]}\n`, image: tiny, readFile: () => '' }, 'x')[0]!.secrets,
    [{ source: '/p/k/one', target: '/run/secrets/s1' }], 'relative to the project directory when one is given')
})

t.test('compose rules: what the test cannot honour is an error, not a guess', async (t) => {
  t.throws(() => plan('services:\n  a: {depends_on: [b]}\n  b: {depends_on: [a]}\n'), /cycle among a, b/)
  t.throws(() => plan('services:\n  a: {depends_on: [b]}\n  b: {profiles: [y]}\n'), /b is not a service of this profile/)
  t.throws(() => plan('services:\n  a: {volumes: [".:/x"]}\n'), /volumes is not modelled/)
  t.throws(() => plan('networks: {n: {}}\nservices:\n  a: {}\n'), /top-level networks/)
  t.throws(() => plan('services:\n  a: {environment: {S: "${SECRET}"}}\n'), /interpolation/)
  t.throws(() => plan('services:\n  a: {environment: [S]}\n'), /taken from the shell/)
  t.throws(() => plan('services:\n  a: {command: "rpmsg ping"}\n'), /list of strings/)
  t.throws(() => plan('services:\n  a: {depends_on: {b: {condition: service_done}}}\n  b: {}\n'), /condition/)
  t.throws(() => plan('services:\n  a: {restart: sometimes}\n'), /on-failure/)
  t.throws(() => plan('services:\n  a: {profiles: [y]}\n'), /no service in profile x/)
  t.throws(() => plan('services:\n  a: {env_file: missing}\n'), /no \/c\/missing/)
  t.throws(() => plan('services:\n  a: {secrets: [nope]}\n'), /nope is not a top-level secret/)
  t.throws(() => plan('secrets:\n  s: {external: true}\nservices:\n  a: {}\n'), /only \{ file: PATH \} is modelled/)
  t.throws(() => plan('secrets:\n  s: {file: x}\nservices:\n  a: {secrets: [{source: s, mode: 0400}]}\n'), /only source and target/)
})

t.test('Dockerfile rules', async (t) => {
  const cfg = (text: string): ImageConfig => imageConfig(parseDockerfile(text))
  const c = cfg([
    'ARG V=1', 'FROM base AS one', 'ENV X=1', 'FROM other', '# a comment',
    'ENV A=1 B="two words" \\', '  # comment inside a continuation', '  C=\'3\'', 'ENV LEGACY some value',
    'CMD ["old"]', 'ENTRYPOINT ["run"]', 'HEALTHCHECK --interval=1m --retries=4 CMD curl -f http://x/', 'USER 1000'
  ].join('\n'))
  t.same(c.env, { A: '1', B: 'two words', C: '3', LEGACY: 'some value' }, 'the last stage\'s ENV only, every form')
  t.same(c.entrypoint, ['run'])
  t.equal(c.cmd, null, 'ENTRYPOINT resets an earlier CMD')
  t.same(c.healthcheck, { test: ['CMD-SHELL', 'curl -f http://x/'], intervalMs: 60_000, retries: 4 })
  t.equal(c.user, '1000')
  t.same(cfg('FROM a\nCMD echo hi\n').cmd, ['/bin/sh', '-c', 'echo hi'], 'shell form')
  t.same(cfg('FROM a\nHEALTHCHECK NONE\n').healthcheck, { test: ['NONE'] })
  t.throws(() => cfg('ENV A=1\nFROM a\n'), /before the first FROM/)
  t.throws(() => cfg('FROM a\nENV P=$PATH:/x\n'), /substitution/)
  t.throws(() => cfg('FROM a\nHEALTHCHECK --start-interval=1s CMD true\n'), /not modelled/)
})

t.test('durations as Docker writes them', async (t) => {
  t.equal(parseDuration('2s', 'x'), 2000)
  t.equal(parseDuration('1m30s', 'x'), 90_000)
  t.equal(parseDuration('500ms', 'x'), 500)
  t.equal(parseDuration('1.5h', 'x'), 5_400_000)
  t.equal(parseDuration('0', 'x'), 0)
  t.equal(parseDuration(3, 'x'), 3000, 'a bare number is seconds')
  t.throws(() => parseDuration('2 s', 'where'), /where: "2 s" is not a duration/)
  t.throws(() => parseDuration('', 'x'), /not a duration/)
})
