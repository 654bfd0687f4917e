// Runs a command on a pseudo-terminal, as a user at a terminal runs it:
// util-linux `script -qec CMD /dev/null` (bsdutils, in every Debian
// image). Its stdout and stderr are both the terminal, so the result has
// them together, \r and escape sequences as written.

import { run, type RunResult } from './children.js'

const quote = (s: string): string => `'${s.replace(/'/g, '\'\\\'\'')}'`

export async function onTerminal (command: string, args: readonly string[], ms: number): Promise<RunResult> {
  return await run('script', ['-qec', [command, ...args].map(quote).join(' '), '/dev/null'], ms)
}
