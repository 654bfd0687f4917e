// The live view: a page for people at GET / (and its few files under
// /ui/), plain HTML, CSS and JavaScript modules from daemon/src/api/ui/,
// copied beside the compiled code by the build (scripts/copy-gen.mjs), so
// the same relative path serves from the checkout (tsx), dist/, the npm
// package and the image. No framework, nothing fetched from elsewhere: the
// page reads the JSON routes and follows GET /v1/events like any client.
//
// Public: with API tokens on, the page and its files are served without
// one (a browser's navigation cannot carry a bearer header), marked
// publicAsset for auth.ts. They are the same bytes as in the package, hold
// nothing of this daemon, and every piece of data the page shows comes from
// the guarded routes with the token the user enters (ui/api.js). Only the
// fixed list below is served; no path reaches the file system.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { readFileSync } from 'node:fs'
import { errorReplies, noFields } from '../schemas.js'

const UI_DIR = new URL('../ui/', import.meta.url)

/** The files served under /ui/, with their types. */
const FILES: Readonly<Record<string, string>> = {
  'app.js': 'text/javascript; charset=utf-8',
  'api.js': 'text/javascript; charset=utf-8',
  'render.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8'
}
const INDEX = 'index.html'

/**
 * Same origin only; no inline script; no framing (clickjacking). connect-src
 * names ws: and wss: as well, since 'self' matches WebSocket URLs only in
 * newer browsers (CSP Level 3).
 */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache'
}

/** A file's bytes, read on first request and kept (they are a few KiB). */
const cache = new Map<string, Buffer>()
function file (name: string): Buffer {
  let bytes = cache.get(name)
  if (bytes === undefined) {
    bytes = readFileSync(new URL(name, UI_DIR))
    cache.set(name, bytes)
  }
  return bytes
}

function send (reply: FastifyReply, name: string, type: string): Buffer {
  reply.headers({ ...SECURITY_HEADERS, 'content-type': type })
  return file(name)
}

// A static file is not an API operation: left out of /docs as /docs itself is.
const page = { hide: true, tags: ['ui'], querystring: noFields }

export function uiRoutes (app: FastifyInstance): void {
  app.get('/', {
    config: { publicAsset: true },
    schema: { ...page, summary: 'The live view (HTML)', response: { 200: { type: 'string' }, ...errorReplies(400) } }
  }, async (_request, reply) => send(reply, INDEX, 'text/html; charset=utf-8'))

  app.get('/ui/:file', {
    config: { publicAsset: true },
    schema: {
      ...page,
      summary: 'A file of the live view',
      params: { type: 'object', properties: { file: { type: 'string', enum: Object.keys(FILES) } }, required: ['file'], additionalProperties: false },
      response: { 200: { type: 'string' }, ...errorReplies(400) }
    }
  }, async (request: FastifyRequest<{ Params: { file: string } }>, reply: FastifyReply) =>
    send(reply, request.params.file, FILES[request.params.file]!))
}
