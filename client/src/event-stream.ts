// The daemon's live events (GET /v1/events, a WebSocket): each text message
// is one JSON object and a newline. Surfaced as an async iterable that ends
// when the socket closes.

import WebSocket from 'ws'
import { ApiError } from './errors.js'
import type { Credentials } from './credentials.js'
import { socketOptions, whenOpen } from './transport.js'
import type { NodeEvent } from '../../proto/api/index.js'

/** A live event stream: iterate it; close() (or leaving the loop) stops it. */
export interface EventStream extends AsyncIterable<NodeEvent> {
  close (): void
}

function text (data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8')
  return (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8')
}

/** Resolves once the socket is open, so every event from then on is seen. */
export async function openEventStream (url: string, credentials: Credentials = { token: null, tls: null }): Promise<EventStream> {
  const queue: NodeEvent[] = []
  let failure: ApiError | null = null
  let ended = false
  let wake: (() => void) | null = null
  const notify = (): void => { const w = wake; wake = null; w?.() }

  let ws: WebSocket
  try {
    ws = new WebSocket(url, socketOptions(credentials))
  } catch (err) {
    throw new ApiError('ERR_CONNECT', `cannot open the event stream at ${url}: ${(err as Error).message}`, 0, { cause: err })
  }
  ws.on('message', (data) => {
    for (const line of text(data).split('\n')) {
      if (line.trim() === '') continue
      try {
        queue.push(JSON.parse(line) as NodeEvent)
      } catch {
        failure ??= new ApiError('ERR_BAD_EVENT', `the event stream at ${url} sent a line that is not JSON: ${line.slice(0, 80)}`, 0)
        ws.terminate()
        break
      }
    }
    notify()
  })
  ws.on('close', () => { ended = true; notify() })
  // Its error listener stays attached after open: ws follows an error with 'close', which ends the stream.
  await whenOpen(ws, `the event stream at ${url}`, credentials)

  const close = (): void => {
    ended = true
    queue.length = 0
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close()
    notify()
  }
  return {
    close,
    async * [Symbol.asyncIterator] () {
      try {
        for (;;) {
          const next = queue.shift()
          if (next !== undefined) { yield next; continue }
          if (failure !== null) throw failure
          if (ended) return
          await new Promise<void>((resolve) => { wake = resolve })
        }
      } finally {
        close()
      }
    }
  }
}
