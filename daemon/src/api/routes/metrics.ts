// Prometheus metrics of this daemon, in the text exposition format. Guarded
// like every route (a read token; Prometheus sends one with
// authorization.credentials_file). Scrapes come every few seconds: their
// log lines are left out below warn, as /healthz's are.

import type { FastifyInstance } from 'fastify'
import type { MetricsSource } from '../metrics/daemon-metrics.js'
import { errorReplies, noFields } from '../schemas.js'

export interface MetricsDeps { metrics: MetricsSource }

const metricsReply = {
  description: 'every metric of this daemon (README, Metrics), Prometheus text format 0.0.4',
  content: { 'text/plain': { schema: { type: 'string' } } }
}

export function metricsRoutes (app: FastifyInstance, deps: MetricsDeps): void {
  app.get('/metrics', {
    logLevel: 'warn',
    schema: {
      summary: 'Prometheus metrics: peers, regions, windows, doorbells, virtqueues, rpmsg, NTB',
      tags: ['node'],
      querystring: noFields,
      response: { 200: metricsReply, ...errorReplies(400) }
    }
  }, async (_request, reply) => {
    const { contentType, text } = await deps.metrics.scrape()
    return await reply.type(contentType).send(text)
  })
}
