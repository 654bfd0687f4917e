// The client library as an application gets it (README "Applications: the
// client library"): `npm pack` of the checkout, installed into an
// application folder with no registry (npm ci --offline: a lock file made
// from the checkout's, the tarballs from npm's cache), then README's
// snippets typechecked by tsc against the package's own types and run
// against real daemons: `import { RpmsgClient } from 'soclink'`.

import t from 'tap'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { killGroup, run, spawn } from '../support/children.js'
import { until } from '../support/daemon.js'
import { readmeBlocks } from '../support/readme.js'
import { ROOT } from '../support/repo.js'
import { startRpmsgPair } from '../support/rpmsg-daemons.js'
import { scaled } from '../support/time.js'

const NPM_MS = scaled(300_000)
const dir = await mkdtemp(join(tmpdir(), 'soclink-package-'))
t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
const app = join(dir, 'app')

/** `npm` with the machine's npm (beside node), never a registry. */
async function npm (cwd: string, ...args: string[]): Promise<string> {
  const r = await run('npm', args, NPM_MS, { cwd, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } })
  if (r.code !== 0) throw new Error(`npm ${args.join(' ')}: exit ${r.code}\n${r.stderr}`)
  return r.stdout
}

/**
 * The application's package-lock.json: soclink from the tarball and the
 * checkout's production dependencies, as locked there, so that npm ci finds
 * every tarball in its cache by integrity and asks no registry.
 */
async function appLock (tarball: string): Promise<unknown> {
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean, link?: boolean, version?: string, dependencies?: unknown, engines?: unknown, bin?: unknown }> }
  const root = lock.packages['']!
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: { soclink: `file:${tarball}` } },
    'node_modules/soclink': { version: root.version, resolved: `file:${tarball}`, dependencies: root.dependencies, engines: root.engines, bin: root.bin }
  }
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path.startsWith('node_modules/') && entry.dev !== true && entry.link !== true) packages[path] = entry
  }
  return { name: 'app', lockfileVersion: 3, requires: true, packages }
}

const blocks = readmeBlocks().filter((b) => b.lang === 'ts' && b.heading === 'Applications: the client library')

t.test('npm pack, installed offline into an application', async (t) => {
  await npm(ROOT, 'pack', '--ignore-scripts', '--pack-destination', dir)
  const tarball = join(dir, (await readdir(dir)).find((f) => f.endsWith('.tgz'))!)
  await mkdir(app)
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { soclink: `file:${tarball}` } }))
  await writeFile(join(app, 'package-lock.json'), JSON.stringify(await appLock(tarball)))
  await npm(app, 'ci', '--offline', '--ignore-scripts')
  const pkg = JSON.parse(await readFile(join(app, 'node_modules/soclink/package.json'), 'utf8')) as { exports: unknown }
  t.ok(pkg.exports, 'the installed package has exports')
})

t.test('README\'s client snippets typecheck against the package\'s types', async (t) => {
  t.equal(blocks.length, 3, 'three snippets under "Applications: the client library"')
  const [echo, claim, post] = blocks.map((b) => b.text)
  await writeFile(join(app, 'echo.ts'), echo!.replace("'http://127.0.0.1:7411'", 'process.env.EP_API!'))
  await writeFile(join(app, 'claim.ts'), "import { RpmsgClient } from 'soclink'\n" + claim!.replace("'http://127.0.0.1:7401'", 'process.env.RC_API!') + 'await rc.close()\n')
  // The third is a fragment: what it uses is declared.
  await writeFile(join(app, 'post.ts'), "import type { RpmsgEndpoint } from 'soclink'\ndeclare const ept: RpmsgEndpoint\ndeclare const remote: number\ndeclare const chunks: Buffer[]\nexport {}\n" + post!)
  await writeFile(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, outDir: 'out', typeRoots: [join(ROOT, 'node_modules/@types')], types: ['node'] },
    files: ['echo.ts', 'claim.ts', 'post.ts']
  }))
  const tsc = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app], scaled(120_000), { cwd: app })
  t.equal(tsc.code, 0, `tsc: ${tsc.stdout}${tsc.stderr}`)
})

t.test('README\'s client snippets run against real daemons', async (t) => {
  const { rc, ep, stop } = await startRpmsgPair()
  t.teardown(stop)
  const env = { ...process.env, EP_API: ep.api, RC_API: rc.api }
  const proc = spawn(process.execPath, ['out/echo.js'], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { killGroup(proc) })
  const lines: string[] = []
  let stderr = ''
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  createInterface({ input: proc.stdout! }).on('line', (l) => { lines.push(l) })
  const said = async (what: string, line: string): Promise<void> => {
    await until(what, () => lines.includes(line) ? true : undefined, 30_000, () => `stdout: ${lines.join(' | ')}; stderr: ${stderr}`)
  }
  await said('the echo\'s address and max payload, as README prints them', '1024 496')
  const claim = await run(process.execPath, ['out/claim.js'], scaled(30_000), { cwd: app, env })
  t.equal(claim.code, 0, `claim.js: ${claim.stderr}`)
  await said('the echo bound by the rc\'s claim', 'remote 1024')
  t.pass('the echo printed "1024 496" and "remote 1024"')
})

t.test('inside the checkout, `soclink` is the package itself (exports: self-reference)', async (t) => {
  const r = await run(process.execPath, ['--input-type=module', '-e', "const m = await import('soclink'); console.log(typeof m.RpmsgClient, typeof m.ControlClient)"], scaled(20_000), { cwd: ROOT })
  t.same({ code: r.code, stdout: r.stdout }, { code: 0, stdout: 'function function\n' }, r.stderr)
})
