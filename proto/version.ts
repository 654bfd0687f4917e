// The package's version, from its package.json: the one file that says it,
// for the daemon and the client alike (both report it).
// Found by walking up from this module, which is a folder deeper in dist/
// (the build) than in the source tree (tsx).

import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

function packageVersion (): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'soclink' && typeof pkg.version === 'string') return pkg.version
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    if (dirname(dir) === dir) throw new Error('soclink: no package.json of soclink above ' + fileURLToPath(import.meta.url))
  }
}

export const VERSION = packageVersion()
