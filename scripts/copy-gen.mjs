// tsc does not emit the generated JavaScript modules; copy them beside the
// compiled code that imports them.
import { cpSync } from 'node:fs'
const from = new URL('../proto/gen/', import.meta.url).pathname
const to = new URL('../dist/proto/gen/', import.meta.url).pathname
cpSync(from, to, { recursive: true })
