// The coverage floors (scripts/coverage-floors.ts) that npm test checks after
// a whole-suite run: a missed floor is named with its figure, a file no test
// loaded counts as uncovered, a types-only file is left out, and a report
// older than the run is refused; summarize maps built code back to its .ts
// source.

import t, { type Test } from 'tap'
import { readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { check, format, measure, sources, summarize, SUMMARY, typeOnly, type Floor, type Summary } from '../../scripts/coverage-floors.js'
import { run } from '../support/children.js'
import { ROOT } from '../support/repo.js'
import { scaled } from '../support/time.js'

const lines = (n: number): string => Array.from({ length: n }, (_, i) => `const x${i} = ${i}`).join('\n')

function tree (t: Test): string {
  return t.testdir({
    daemon: {
      src: {
        link: { 'a.ts': lines(10), 'b.ts': lines(10), 'types.ts': 'export interface T { a: number }', 'a.d.ts': 'x' },
        mem: { 'c.ts': lines(4) }
      }
    },
    dist: {
      daemon: {
        src: {
          link: { 'a.js': 'code()', 'b.js': 'code()', 'types.js': 'export {};\n//# sourceMappingURL=types.js.map\n' },
          mem: { 'c.js': 'code()' }
        }
      }
    },
    '.tap': { report: { floors: {} } }
  })
}

const floors: Floor[] = [
  { name: 'daemon/src/link', dirs: ['daemon/src/link'], lines: 90 },
  { name: 'daemon/src/mem', dirs: ['daemon/src/mem'], lines: 50 }
]

t.test('a directory under its floor is named with its figure; files no test loaded count as uncovered', async (t) => {
  const root = tree(t)
  const summary: Summary = {
    [join(root, 'daemon/src/link/a.ts')]: { lines: { total: 10, covered: 10 } },
    [join(root, 'daemon/src/mem/c.ts')]: { lines: { total: 4, covered: 3 } }
  }
  const results = measure({
    root,
    summary,
    floors,
    files: (f) => f.dirs.flatMap((d) => sources(root, d)),
    lineCount: () => 10,
    isTypeOnly: (f) => typeOnly(root, f)
  })
  // b.ts (10 lines, code, never loaded) counts; types.ts (no code) and a.d.ts do not.
  t.match(results[0], { name: 'daemon/src/link', pct: 50, covered: 10, total: 20, unloaded: ['daemon/src/link/b.ts'], ok: false })
  t.match(results[1], { name: 'daemon/src/mem', pct: 75, covered: 3, total: 4, unloaded: [], ok: true })
  const text = format(results)
  t.match(text, /coverage floor missed: daemon\/src\/link has 50\.00% of lines covered, below its floor of 90%/)
  t.match(text, /daemon\/src\/link\/b\.ts: loaded by no test/)
  t.notMatch(text, /floor missed: daemon\/src\/mem/)
  t.equal(text.split('\n').at(-1), '# coverage floors: 1 met, 1 missed', 'the count .ci/run reads')
})

t.test('the figure is rounded down, so a floor is met only when reached', async (t) => {
  const [r] = measure({
    root: '/r',
    summary: { '/r/x.ts': { lines: { total: 3, covered: 2 } } },
    floors: [{ name: 'x', dirs: ['.'], lines: 66.67 }],
    files: () => ['x.ts'],
    lineCount: () => 0,
    isTypeOnly: () => false
  })
  t.equal(r!.pct, 66.66)
  t.equal(r!.ok, false)
})

t.test('check reads the report and refuses one older than the run', async (t) => {
  const root = tree(t)
  const report = join(root, SUMMARY)
  t.throws(() => check(root), /no coverage summary/)
  writeFileSync(report, JSON.stringify({ total: { lines: { total: 0, covered: 0 } }, [join(root, 'daemon/src/mem/c.ts')]: { lines: { total: 4, covered: 4 } } }))
  const old = new Date(Date.now() - 60_000)
  utimesSync(report, old, old)
  t.throws(() => check(root, Date.now()), /older than this run/)
  const results = check(root, old.getTime() - 1)
  t.equal(results.find((r) => r.name === 'daemon/src/mem')!.pct, 100)
})

t.test('summarize maps a built daemon file back to its .ts source and keeps only our sources', async (t) => {
  // A child runs built code from dist/ (as e2e daemons do) with V8 coverage on;
  // summarize reads that as it reads tap's .tap/coverage. (tap's own hook,
  // inherited, is told off: its profiler session would take the counts.)
  const dir = t.testdir({})
  const recorded = join(dir, 'coverage')
  const script = `await import(${JSON.stringify(join(ROOT, 'dist/daemon/src/uapi/virtio-config.js'))})`
  const r = await run(process.execPath, ['--input-type=module', '-e', script], scaled(30_000), { env: { ...process.env, NODE_V8_COVERAGE: recorded, _TAPJS_PROCESSINFO_COVERAGE_: '0' } })
  t.equal(r.code, 0, r.stderr)
  await summarize(ROOT, recorded, join(dir, 'report'))
  const summary = JSON.parse(readFileSync(join(dir, 'report/coverage-summary.json'), 'utf8')) as Summary
  const files = Object.keys(summary).filter((k) => k !== 'total')
  t.same(files, [join(ROOT, 'daemon/src/uapi/virtio-config.ts')], 'the .ts source, not dist/ or anything outside the floors')
  t.ok(summary[files[0]!]!.lines.covered > 0, 'with lines covered')
})
