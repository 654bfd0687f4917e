// One log line per API request, when it has been answered: method, URL,
// status and time. fastify's own controller writes two lines at info for
// each, "incoming request" and "request completed" (which names neither
// method nor URL), doubling the log of a daemon driven by scripts. Errors
// and fastify's other lines stay as fastify writes them.

import type { FastifyReply, FastifyRequest, LogController as LogControllerClass } from 'fastify'
import { Fastify } from './packages.js'

const Base = (Fastify as unknown as { LogController: typeof LogControllerClass }).LogController

export class RequestLog extends Base {
  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error !== null && error !== undefined) { super.requestCompleted(error, request, reply); return }
    const ms = Math.round(reply.elapsedTime * 10) / 10
    request.log.info({ method: request.method, url: request.url, status: reply.statusCode, ms, remoteAddress: request.ip },
      `${request.method} ${request.url} ${reply.statusCode} (${ms} ms)`)
  }
}
