// Paths in the repository, found from this file whether it runs built
// (dist/test/bench/) or as source (test/bench/): the bench always starts
// the built soclinkd.

import { join } from 'node:path'
import { ROOT } from '../support/repo.js'

export { ROOT, SOCLINKD } from '../support/repo.js'
export const BENCHMARKS_MD = join(ROOT, 'BENCHMARKS.md')
/** Hand-written: the goals a run leaves unmet, why, and what would meet them; appended to BENCHMARKS.md. */
export const ANALYSIS_MD = join(ROOT, 'test/bench/analysis.md')
