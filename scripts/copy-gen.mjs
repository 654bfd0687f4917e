// tsc does not emit the generated JavaScript modules, nor the live view's
// files (daemon/src/api/ui/); copy them beside the compiled code that uses them.
import { cpSync } from 'node:fs'
const from = new URL('../proto/gen/', import.meta.url).pathname
const to = new URL('../dist/proto/gen/', import.meta.url).pathname
cpSync(from, to, { recursive: true })
cpSync(new URL('../daemon/src/api/ui/', import.meta.url).pathname, new URL('../dist/daemon/src/api/ui/', import.meta.url).pathname, { recursive: true })
