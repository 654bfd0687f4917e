// Every setting is documented where a user looks: soclinkd --help (made
// from the same table), README's Configuration table, and for the ones
// that protect something, SECURITY.md's table of what each protects.

import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SETTINGS, loadSettings } from '../../daemon/src/config/settings.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const readme = readFileSync(root + 'README.md', 'utf8')
const security = readFileSync(root + 'SECURITY.md', 'utf8')
const section = (text: string, from: string, to: string): string => text.slice(text.indexOf(from), text.indexOf(to, text.indexOf(from)))

t.test('README\'s Configuration table has a row for every setting', async (t) => {
  const table = section(readme, '## Configuration', '## Control API')
  t.ok(table.length > 1000, 'the section is there')
  for (const key of Object.keys(SETTINGS)) t.match(table, new RegExp(`^\\| [^|]*\`${key}\``, 'm'), key)
})

t.test('soclinkd --help names every flag and --health-check', async (t) => {
  const help = loadSettings({ argv: ['--help'], env: {}, readFile: () => '' })
  const text = help.kind === 'help' ? help.text : ''
  for (const key of Object.keys(SETTINGS)) {
    if (SETTINGS[key as keyof typeof SETTINGS].fileOnly === true) t.match(text, `(file) ${key}`, key)
    else t.match(text, `[file: ${key}]`, key)
  }
  t.match(text, '--health-check')
})

t.test('SECURITY.md says what each security setting protects', async (t) => {
  const table = section(security, '## Settings and what each protects', '## Deploying')
  for (const key of ['tlsCert', 'tlsKey', 'tlsCa', 'secretFile', 'peers', 'regions', 'apiTokenFile', 'apiInsecure', 'linkInsecure', 'handshakeTimeoutMs', 'maxPreAuthBytes', 'maxPendingLinks']) {
    t.match(table, `\`${key}`, key)
  }
})
