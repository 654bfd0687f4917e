// Builds the rpmsg_char shim (client/native) to dist/native/libsoclink-rpmsg.so
// for `soclink run`. Without a C compiler it says so and succeeds: everything
// else works, and `soclink run` explains that the shim is missing.

import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const src = join(root, 'client/native')
const out = join(root, 'dist/native/libsoclink-rpmsg.so')
const cc = process.env.CC ?? 'cc'

if (process.platform !== 'linux') {
  console.log(`build-native: skipped on ${process.platform}: the rpmsg_char shim (soclink run) is for Linux`)
  process.exit(0)
}
const probe = spawnSync(cc, ['--version'], { stdio: 'ignore' })
if (probe.error !== undefined || probe.status !== 0) {
  console.log(`build-native: no C compiler (${cc}): the rpmsg_char shim for \`soclink run\` is not built; install one (e.g. gcc) and run \`npm run build:native\``)
  process.exit(0)
}
mkdirSync(dirname(out), { recursive: true })
const sources = readdirSync(src).filter((f) => f.endsWith('.c')).map((f) => join(src, f))
const args = ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-Werror', '-fPIC', '-shared', '-o', out, ...sources, '-ldl', '-lpthread']
const r = spawnSync(cc, args, { stdio: 'inherit' })
if (r.status !== 0) {
  console.log(`build-native: ${cc} failed: the rpmsg_char shim for \`soclink run\` is not built`)
  process.exit(0)
}
console.log(`build-native: ${out}`)
