// GET /v1/capture: the daemon's link packets as they cross the WebSocket of
// each peer link, both ways, with timestamps (link/capture.ts), streamed to
// the reader as capture records (proto/capture-record.ts); `soclink capture`
// writes them to pcapng. `peer` keeps one peer link's packets; `snaplen`
// cuts each packet. A plain HTTP GET is answered 426.
//
// Scope admin (auth.ts): a capture shows every byte that crosses the links,
// memory contents and rpmsg payloads of every endpoint included, and the
// handshake's nonces and proofs, with which a weak secret can be guessed
// offline. A read token sees counters and state, not data.

import type { FastifyInstance, FastifyBaseLogger } from 'fastify'
import type { WebSocket } from 'ws'
import type { LinkCapture } from '../../link/capture.js'
import { UpgradeRequiredError, ValidationError } from '../errors.js'
import { errorReplies, fields, queryNumber } from '../schemas.js'
import { parseOptionalNumber } from '../numbers.js'
import { CaptureStream } from '../capture-stream.js'

export const CAPTURE_URL = '/v1/capture'
/** tcpdump's default snap length: whole packets, bar the largest Updates. */
export const DEFAULT_SNAPLEN = 262_144
const MAX_SNAPLEN = 16 * 1024 * 1024

/** What the capture route needs. */
export interface CaptureDeps {
  capture: LinkCapture
  logger: FastifyBaseLogger
}

interface CaptureQuery { peer?: string, snaplen?: string }

export function captureRoutes (app: FastifyInstance, deps: CaptureDeps): void {
  app.route<{ Querystring: CaptureQuery }>({
    method: 'GET',
    url: CAPTURE_URL,
    schema: {
      summary: 'Capture link packets (WebSocket)',
      description: 'Upgrade to a WebSocket; every packet of the peer links (or of `peer`\'s only), both ways, arrives as a ' +
        'capture record (proto/capture-record.ts: direction, timestamp, peer, length, bytes), several records per binary ' +
        'message. A reader that falls behind loses packets, never slows the link: each record counts the packets dropped ' +
        'before it, and a text message {"captured","dropped"} gives the totals when they change. `soclink capture` writes ' +
        'pcapng. Needs an admin token: a capture holds memory contents, rpmsg payloads and handshake proofs. ' +
        'A request without Upgrade is answered 426.',
      tags: ['peers'],
      querystring: fields({
        peer: { type: 'string', minLength: 1, maxLength: 255, description: 'only this peer link\'s packets (it need not be up yet)' },
        snaplen: queryNumber(`bytes kept of each packet, 64 to ${MAX_SNAPLEN}, default ${DEFAULT_SNAPLEN}`)
      }, []),
      response: { ...errorReplies(400, 426) }
    },
    preValidation: async (request) => { snaplenOf(request.query) },
    handler: async () => {
      throw new UpgradeRequiredError(`GET ${CAPTURE_URL} is a WebSocket: send Upgrade: websocket`)
    },
    // Synchronous up to the subscription, so no packet is missed after the upgrade.
    wsHandler: (socket: WebSocket, request) => {
      const peer = request.query.peer ?? null
      const stream = new CaptureStream({
        get open () { return socket.readyState === socket.OPEN },
        get bufferedAmount () { return socket.bufferedAmount },
        send: (data) => { socket.send(data) }
      })
      const stop = deps.capture.subscribe({ peer, snaplen: snaplenOf(request.query) }, (p) => { stream.offer(p) })
      deps.logger.info({ peer, reader: request.ip }, 'capture started')
      socket.on('close', () => {
        stop()
        stream.close()
        deps.logger.info({ peer, captured: stream.captured, dropped: stream.dropped }, 'capture ended')
      })
    }
  })
}

function snaplenOf (q: CaptureQuery): number {
  const n = parseOptionalNumber('snaplen', q.snaplen) ?? DEFAULT_SNAPLEN
  if (n < 64 || n > MAX_SNAPLEN) throw new ValidationError(`snaplen ${n} is outside 64..${MAX_SNAPLEN}`)
  return n
}
