// README.md's fenced code blocks, for the tests that run them (readme.test.ts,
// package.test.ts): the language, the text, where it is (line, section), and
// the marker of the HTML comment right above it, if any
// (`<!-- readme-test: MARKER -->`, see README "Keeping the README true").

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './repo.js'

export interface Block {
  lang: string
  text: string
  /** 1-based line of the opening fence. */
  line: number
  /** The nearest heading above. */
  heading: string
  /** What `<!-- readme-test: ... -->` right above the fence says; null without one. */
  marker: string | null
}

export function readmeText (): string {
  return readFileSync(join(ROOT, 'README.md'), 'utf8')
}

export function readmeBlocks (md = readmeText()): Block[] {
  const lines = md.split('\n')
  const blocks: Block[] = []
  let heading = ''
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.startsWith('#')) heading = line.replace(/^#+\s*/, '')
    const open = /^```(\S*)\s*$/.exec(line)
    if (open === null) continue
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!)
    const above = lines[start - 1] ?? ''
    const marker = /^<!--\s*readme-test:\s*(.*?)\s*-->$/.exec(above)
    blocks.push({ lang: open[1]!, text: body.join('\n') + '\n', line: start + 1, heading, marker: marker === null ? null : marker[1]! })
  }
  return blocks
}
