// The client is typed by the contracts, not beside them: (1) what
// ControlClient's methods resolve to is exactly Static<typeof Contract>
// (test/types/client-contracts.ts), and (2) a contract changed without the
// client fails the client's build, naming the field. One TypeScript program
// over the client's typed surface (ControlClient, the CLI's tables, the
// checks), then the same program again with one contract file changed in
// memory (the unchanged files are reused).

import t from 'tap'
import ts from 'typescript'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const root = fileURLToPath(new URL('../../', import.meta.url))
const CONTRACT = join(root, 'proto/api/node.ts')
const CHECKS = join(root, 'test/types/client-contracts.ts')
const ROOTS = [join(root, 'client/src/index.ts'), join(root, 'client/src/cli/views.ts'), CHECKS]

const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')) } })!
const options: ts.CompilerOptions = { ...config.options, noEmit: true, incremental: false }

/** The client's program, with `overlay` in place of some files' text; the errors it reports. */
function compile (overlay: Map<string, string>, old?: ts.Program): { program: ts.Program, errors: string[] } {
  const host = ts.createCompilerHost(options)
  const readFile = host.readFile.bind(host)
  host.readFile = (f) => overlay.get(f) ?? readFile(f)
  const getSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (f, lang, onError, create) => {
    const text = overlay.get(f)
    return text !== undefined ? ts.createSourceFile(f, text, lang) : getSourceFile(f, lang, onError, create)
  }
  const program = ts.createProgram({ rootNames: ROOTS, options, host, oldProgram: old })
  const errors = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file !== undefined ? `${d.file.fileName.slice(root.length)}: ` : ''
    return where + ts.flattenDiagnosticMessageText(d.messageText, '\n')
  })
  return { program, errors }
}

t.test('the client compiles, and what it returns is exactly the contracts\' types', async (t) => {
  const base = compile(new Map())
  t.same(base.errors, [], 'no errors')
  t.ok(base.program.getSourceFile(CHECKS), 'the checks are in the program')

  t.test('a contract changed without the client breaks the client\'s build', async (t) => {
    const text = readFileSync(CONTRACT, 'utf8')
    // Region.populatedPages renamed (the CLI's regions table shows it); Peer.rttMs retyped to a string (the peers table formats it as a number).
    const changed = text.replace('  populatedPages: count,\n', '  pagesPopulated: count,\n').replace('  rttMs: nullable(Type.Number()),\n', '  rttMs: nullable(str),\n')
    t.equal(changed.split('\n').filter((l, i) => l !== text.split('\n')[i]).length, 2, 'the contract has both fields to change')
    const { errors } = compile(new Map([[CONTRACT, changed]]), base.program)
    t.ok(errors.some((e) => e.startsWith('client/src/') && e.includes('populatedPages')), `the client's own code fails on the renamed field: ${errors.join(' | ')}`)
    t.ok(errors.some((e) => e.startsWith('client/src/cli/views.ts') && e.includes("'toFixed' does not exist on type 'string'")), 'the client\'s own code fails on the retyped field')
    t.ok(errors.every((e) => !e.startsWith('proto/')), 'the contract itself still compiles')
  })
})
