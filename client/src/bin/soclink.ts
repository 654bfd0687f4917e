#!/usr/bin/env node
// soclink: the command line for a soclinkd daemon's control API.

import { buildProgram } from '../cli/program.js'
import { ApiError } from '../errors.js'

buildProgram().parseAsync(process.argv).catch((err: unknown) => {
  const msg = err instanceof ApiError ? `${err.code}: ${err.message}` : (err as Error).message
  process.stderr.write(`soclink: ${msg}\n`)
  process.exitCode = err instanceof ApiError ? 1 : 2
})
