// scripts/build-native.mjs (run by `npm install` and `npm run build`): with
// no C compiler it says so plainly and succeeds, so the install does not
// fail; with one it builds the rpmsg_char shim for `soclink run`.

import t from 'tap'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from '../support/repo.js'

const script = join(ROOT, 'scripts/build-native.mjs')

t.test('no C compiler: a clear message, and success', async (t) => {
  const r = spawnSync(process.execPath, [script], { env: { ...process.env, CC: '/nonexistent/cc' }, encoding: 'utf8' })
  t.equal(r.status, 0, 'the install goes on')
  t.match(r.stdout, 'build-native: no C compiler (/nonexistent/cc): the rpmsg_char shim for `soclink run` is not built; install one (e.g. gcc) and run `npm run build:native`')
})
