// The raw peer as a child process (raw-remote.ts starts it): prints its
// port as one JSON line and serves until killed.

import { rawPeer } from './raw-peer.js'

const { port } = await rawPeer()
process.stdout.write(JSON.stringify({ port }) + '\n')
