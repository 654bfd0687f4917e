// prom-client, loaded on the first scrape instead of at start: a daemon that
// is never scraped does not pay for it (~50 ms of every start on 2 cores).
// prom-client is CommonJS, so a require made here loads it synchronously.

import { createRequire } from 'node:module'
import type * as Prom from 'prom-client'

const require = createRequire(import.meta.url)

export function promClient (): typeof Prom {
  return require('prom-client') as typeof Prom
}
