// docker-compose.yml's monitoring profile: a Prometheus whose configuration
// (monitoring/prometheus.yml) scrapes every daemon of both topologies over
// their HTTPS control APIs with the compose CA and the read-scope token,
// as mounted into its container. Checked with the tools that would run it:
// `docker-compose config` (every profile) and `promtool check config`, the
// latter with the secrets' paths pointing at real files.

import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml } from 'yaml'
import { planProfile } from './compose-plan.js'
import { imageConfig, parseDockerfile } from './dockerfile.js'
import { run } from '../support/children.js'
import { scaled } from '../support/time.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const COMPOSE = join(ROOT, 'docker-compose.yml')
const PROMETHEUS = join(ROOT, 'monitoring/prometheus.yml')
const read = (p: string): string => readFileSync(p, 'utf8')
const image = imageConfig(parseDockerfile(read(join(ROOT, 'Dockerfile'))))

interface PromConfig {
  scrape_configs: Array<{
    job_name: string
    scheme: string
    metrics_path: string
    tls_config: { ca_file: string }
    authorization: { type: string, credentials_file: string }
    static_configs: Array<{ targets: string[], labels: Record<string, string> }>
  }>
}

interface ComposeService { image?: string, profiles?: string[], volumes?: string[], secrets?: string[] }
const compose = parseYaml(read(COMPOSE), { merge: true }) as { services: Record<string, ComposeService>, secrets: Record<string, { file: string }> }
const config = parseYaml(read(PROMETHEUS)) as PromConfig

t.test('docker-compose config: every profile, monitoring too, is valid', async (t) => {
  for (const profile of ['', 'pcie', 'ntb', 'monitoring']) {
    const r = await run('docker-compose', ['-f', COMPOSE, ...(profile === '' ? [] : ['--profile', profile]), 'config', '-q'], scaled(30_000), { cwd: ROOT })
    t.same({ code: r.code, stderr: r.stderr }, { code: 0, stderr: '' }, `docker-compose --profile ${profile === '' ? '(none)' : profile} config -q`)
  }
})

t.test('the prometheus service: its configuration and the CA and read token as secrets', async (t) => {
  const p = compose.services.prometheus!
  t.match(p.image, /^prom\/prometheus:v\d+\.\d+\.\d+$/, 'the official image, a pinned version')
  t.same(p.profiles, ['monitoring'], 'only with --profile monitoring')
  t.same(p.volumes, ['./monitoring/prometheus.yml:/etc/prometheus/prometheus.yml:ro'], 'monitoring/prometheus.yml where the image reads its configuration')
  t.same(p.secrets, ['ca', 'read_token'])
  t.equal(compose.secrets.read_token!.file, './secrets/read-token', 'the token scripts/compose-secrets.sh makes with scope read')
  t.match(read(join(ROOT, 'scripts/compose-secrets.sh')), /echo "read \$read"/, 'compose-secrets.sh lists it in api-tokens with scope read')
})

t.test('monitoring/prometheus.yml scrapes every daemon of both topologies over HTTPS with the read token', async (t) => {
  const [job, ...others] = config.scrape_configs
  t.same(others, [], 'one job')
  t.match(job, { job_name: 'soclink', scheme: 'https', metrics_path: '/metrics', tls_config: { ca_file: '/run/secrets/ca' }, authorization: { type: 'Bearer', credentials_file: '/run/secrets/read_token' } })
  const daemons = ['pcie', 'ntb'].flatMap((profile) => planProfile({ path: COMPOSE, text: read(COMPOSE), image, readFile: read }, profile)
    .filter((s) => s.argv[0] === 'soclinkd').map((s) => `${s.name}:7401`))
  t.same(job!.static_configs.flatMap((c) => c.targets).sort(), daemons.sort(), 'every soclinkd service of the pcie and ntb profiles, at its API port')
  t.same(job!.static_configs.map((c) => c.labels.topology), ['pcie', 'ntb'], 'labelled by topology')
})

t.test('promtool check config passes, with the secrets where the container has them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'soclink-prometheus-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  // promtool checks that the files the configuration names exist: the container's /run/secrets, here a folder of this test's.
  writeFileSync(join(dir, 'ca'), '')
  writeFileSync(join(dir, 'read_token'), 'read-0123456789abcdef0123456789abcdef\n')
  const file = join(dir, 'prometheus.yml')
  writeFileSync(file, read(PROMETHEUS).replaceAll('/run/secrets/', `${dir}/`))
  const r = await run('promtool', ['check', 'config', file], scaled(30_000))
  t.equal(r.code, 0, `promtool check config: ${r.stdout}${r.stderr}`)
  t.match(r.stdout, /SUCCESS/)
})
