// The far end of the raw WebSocket baselines, the same code in the bench
// process and in a child process. A text message sets what it does with
// the binary messages that follow on that connection:
//   "count N"  answer the text "done" once N have arrived
//   "echo"     send each one straight back

import { WebSocketServer, type WebSocket } from 'ws'

/** ws's defaults, except compression off and maxPayload set, as the daemon has them. */
export const WS_OPTIONS = { perMessageDeflate: false, maxPayload: 1 << 26 }

function serve (ws: WebSocket): void {
  let want = 0
  let echo = false
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) {
      const [verb, n] = data.toString().split(' ')
      echo = verb === 'echo'
      want = verb === 'count' ? Number(n) : 0
      return
    }
    if (echo) ws.send(data)
    else if (want > 0 && --want === 0) ws.send('done')
  })
}

/** A raw peer listening on a kernel-chosen loopback port. */
export async function rawPeer (): Promise<{ port: number, close: () => void }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, ...WS_OPTIONS })
  server.on('connection', serve)
  await new Promise((resolve) => server.once('listening', resolve))
  return { port: (server.address() as { port: number }).port, close: () => { server.close() } }
}
