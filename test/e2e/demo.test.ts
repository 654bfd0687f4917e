// The README's main command: npm run demo runs two daemons, checks what they
// exchanged, and exits 0.

import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'

t.test('npm run demo exchanges memory and doorbells and exits 0', async (t) => {
  const script = fileURLToPath(new URL('../../scripts/demo.mjs', import.meta.url))
  const { stdout } = await promisify(execFile)(process.execPath, [script], { timeout: 60_000 })
  t.match(stdout, /rc reads: 68 65 6c 6c 6f 20 66 72 6f 6d 20 65 70 {2}\|hello from ep\|/)
  t.match(stdout, /ep's replica shows: +68 65 6c 6c 6f 20 66 72 6f 6d 20 72 63 {2}\|hello from rc\|/)
  t.match(stdout, /rc saw 100 doorbells, values 1\.\.100 in order/)
})
