#!/usr/bin/env node
// soclink: the command line for a soclinkd daemon's control API.
// Exit status: 0 done, 1 the daemon or the connection failed, 2 usage error.

import { CommanderError } from 'commander'
import { buildProgram } from '../cli/program.js'
import { ApiError } from '../errors.js'

// `soclink events | head` closes the pipe early; that is a normal end.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

try {
  await buildProgram().parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander has printed the message (or the help) already.
    process.exitCode = err.exitCode === 0 ? 0 : 2
  } else {
    const msg = err instanceof ApiError ? `${err.code}: ${err.message}` : (err as Error).message
    process.stderr.write(`soclink: ${msg}\n`)
    process.exitCode = 1
  }
}
