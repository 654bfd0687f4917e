// Generates typed static modules from proto/*.proto (protobufjs static-module
// + pbts) into proto/gen/. 64-bit fields are plain numbers: soclink keeps
// every address, size and sequence number below 2^53, so the generated module
// switches protobufjs's Long support off before its defaults are built.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, basename } from 'node:path'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const cli = require.resolve('protobufjs-cli/package.json').replace(/package\.json$/, 'bin/')
const protoDir = new URL('../proto/', import.meta.url).pathname
const genDir = join(protoDir, 'gen')
mkdirSync(genDir, { recursive: true })

const IMPORT = 'import $protobuf from "protobufjs/minimal.js";'
for (const file of readdirSync(protoDir).filter((f) => f.endsWith('.proto'))) {
  const js = join(genDir, basename(file, '.proto') + '.js')
  // Each module gets a root of its own: files that share the top-level
  // package (soclink.link.v1, soclink.rpmsg.v1) would otherwise replace each
  // other's namespace in protobufjs's shared default root.
  execFileSync(process.execPath, [cli + 'pbjs', '-t', 'static-module', '-w', 'es6', '--force-number',
    '--no-delimited', '--no-verify', '--no-convert', '--root', basename(file, '.proto'), '-o', js, join(protoDir, file)], { stdio: 'inherit' })
  const text = readFileSync(js, 'utf8')
  if (!text.includes(IMPORT)) throw new Error(`unexpected pbjs output in ${js}`)
  writeFileSync(js, text.replace(IMPORT, `${IMPORT}\n$protobuf.util.Long = null;\n$protobuf.configure();`))
  execFileSync(process.execPath, [cli + 'pbts', '--no-comments', '-o', js.replace(/\.js$/, '.d.ts'), js], { stdio: 'inherit' })
}
