// Every shell block of README.md, run as a reader runs it (support/readme-run.ts):
// in README order, against real daemons started as README starts them, on
// loopback with free ports; the `# ` lines under a command are output it must
// show. A block marked `<!-- readme-test: compose -->` is checked by
// `docker-compose config -q` instead; `<!-- readme-test: skip: WHY -->` is
// not run (it needs what this machine may not have: root, Docker, your
// program), and says why. README's "Keeping the README true" says the same
// for writers.

import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run } from '../support/children.js'
import { readmeBlocks } from '../support/readme.js'
import { ReadmeShell, commandsOf } from '../support/readme-run.js'
import { ROOT } from '../support/repo.js'
import { scaled } from '../support/time.js'

const dir = await mkdtemp(join(tmpdir(), 'soclink-readme-'))
const shell = new ReadmeShell(dir)
await shell.init()
t.teardown(async () => { shell.stopAll(); await rm(dir, { recursive: true, force: true }) })

// Every block in turn, some of them slow (rpmsg perf): one limit for the file, scaled.
t.setTimeout(scaled(900_000))
// SOCLINK_README_ONLY=TEXT[|TEXT...] runs only the sections whose heading has one of them (while writing one).
const only = process.env.SOCLINK_README_ONLY
for (const block of readmeBlocks().filter((b) => b.lang === 'sh' && (only === undefined || only.split('|').some((h) => b.heading.includes(h))))) {
  const name = `README.md:${block.line} (${block.heading})`
  if (block.marker?.startsWith('skip') === true) {
    t.test(name, { skip: block.marker }, () => {})
    continue
  }
  if (block.marker === 'compose') {
    // With the profiles the block names, so a profile it names must exist and validate.
    const profiles = [...new Set([...block.text.matchAll(/--profile\s+(\S+)/g)].map((m) => m[1]!))]
    t.test(`${name}: the compose file validates`, async (t) => {
      const args = [...profiles.flatMap((p) => ['--profile', p]), 'config', '-q']
      const r = await run('docker-compose', args, scaled(60_000), { cwd: ROOT })
      t.equal(r.code, 0, `docker-compose ${args.join(' ')}: ${r.stderr}`)
      // docker-compose 1.29 takes any profile name: the services must name each one.
      const config = await run('docker-compose', ['config'], scaled(60_000), { cwd: ROOT })
      for (const p of profiles) t.match(config.stdout, new RegExp(`profiles:\\n(\\s+- \\S+\\n)*\\s+- ${p}\\n`), `a service has profile ${p}`)
    })
    continue
  }
  t.equal(block.marker, null, `${name}: a marker this test knows (skip: WHY, compose) or none`)
  t.test(name, async (t) => {
    const commands = commandsOf(block.text)
    // Daemons started anew on ports that others hold: those stop first, as a reader stops them.
    if (commands.some((c) => shell.clashes(c))) shell.stopAll()
    for (const c of commands) {
      const wrong = await shell.run(c)
      if (wrong !== null) { t.fail(`${c.text}\n${wrong}`); return }
      t.pass(c.text)
    }
  })
}
