// What every command gets: the client for --api (with the token and TLS
// trust of --token-file, --ca, --cert, --key), and output that honours
// --json (one JSON document per result, one JSON object per line in streams).

import type { ControlClient } from '../control-client.js'
import type { ConnectionOptions } from '../credentials.js'

export interface Context {
  client (): ControlClient
  /** The token and TLS files the global options name, for other clients (RpmsgClient). */
  connection (): ConnectionOptions
  json (): boolean
  /** A command's result: the JSON document under --json, else the human text. */
  print (value: unknown, human: () => string): void
  /** One line of a stream. */
  line (text: string): void
}
