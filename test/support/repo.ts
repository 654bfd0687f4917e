// The repository's root, found from this file whether it runs as source
// (test/support/) or built (dist/test/support/): the built soclinkd and
// soclink always live under ROOT/dist.

import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

function repoRoot (): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tsconfig.json'))) return dir
    if (dirname(dir) === dir) throw new Error('no repository root above test/support')
  }
}

export const ROOT = repoRoot()
export const SOCLINKD = join(ROOT, 'dist/daemon/src/bin/soclinkd.js')
export const SOCLINK = join(ROOT, 'dist/client/src/bin/soclink.js')
