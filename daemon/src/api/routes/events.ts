// GET /v1/events: the node's events as a WebSocket stream, one JSON text
// message (ending in "\n") per event. A plain HTTP GET is answered 426.

import type { FastifyInstance } from 'fastify'
import type { WebSocket } from 'ws'
import type { SoclinkNode, NodeEvent } from '../../node.js'
import { UpgradeRequiredError } from '../errors.js'
import { errorReplies, noFields } from '../schemas.js'

/** A client this far behind is cut off rather than buffered without bound. */
const MAX_BUFFERED = 8 * 1024 * 1024

export function eventRoutes (app: FastifyInstance, node: SoclinkNode): void {
  app.route({
    method: 'GET',
    url: '/v1/events',
    schema: {
      summary: 'Live events (WebSocket)',
      description: 'Upgrade to a WebSocket; each event (doorbell, link, peer, window, error, lost) arrives as one ' +
        'text message holding a JSON object and a newline. A request without Upgrade is answered 426.',
      tags: ['node'],
      querystring: noFields,
      response: { ...errorReplies(400, 426) }
    },
    handler: async () => {
      throw new UpgradeRequiredError('GET /v1/events is a WebSocket: send Upgrade: websocket')
    },
    // Synchronous up to the listener, so no event is missed between the upgrade and the subscription.
    wsHandler: (socket: WebSocket) => {
      const send = (e: NodeEvent): void => {
        if (socket.readyState !== socket.OPEN) return
        if (socket.bufferedAmount > MAX_BUFFERED) { socket.close(1008, 'too far behind the event stream'); return }
        socket.send(JSON.stringify(e) + '\n')
      }
      node.on('event', send)
      socket.on('close', () => { node.off('event', send) })
    }
  })
}
