// Paths in the repository, found from this file whether it runs built
// (dist/test/bench/) or as source (test/bench/): the bench always starts
// the built soclinkd.

import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

function repoRoot (): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tsconfig.json'))) return dir
    if (dirname(dir) === dir) throw new Error('the bench found no repository root above it')
  }
}

export const ROOT = repoRoot()
export const SOCLINKD = join(ROOT, 'dist/daemon/src/bin/soclinkd.js')
export const BENCHMARKS_MD = join(ROOT, 'BENCHMARKS.md')
/** Hand-written: the goals a run leaves unmet, why, and what would meet them; appended to BENCHMARKS.md. */
export const ANALYSIS_MD = join(ROOT, 'test/bench/analysis.md')
