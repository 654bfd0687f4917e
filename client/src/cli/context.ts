// What every command gets: the client for --api, and output that honours
// --json (one JSON document per result, one JSON object per line in streams).

import type { ControlClient } from '../control-client.js'

export interface Context {
  client (): ControlClient
  json (): boolean
  /** A command's result: the JSON document under --json, else the human text. */
  print (value: unknown, human: () => string): void
  /** One line of a stream. */
  line (text: string): void
}
